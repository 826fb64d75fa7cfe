"""``aura data stats``: what every stage produced, what failed and why, and the sample type mix."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

from aura.data.config import PAPER_MIX
from aura.data.errors import DataError
from aura.data.store import iter_rows, shard_files
from aura.fileio import write_jsonl_atomic

STAGES = ("prepare", "synthesize", "refine", "structure", "verify")
MIX_KEYS = ("realtime", "proactive", "multi", "mixed")


def _reason_class(reason: str) -> str:
    """A reason with its specifics (times, ids, parenthesised details) removed, for grouping."""
    text = re.sub(r"\(.*?\)", "", reason)
    text = re.sub(r"\S*\.(mp4|mkv|webm|mov|avi|txt|bin)\b", "<file>", text)
    text = re.sub(r"(?<![\w/.])[-+]?\d+(\.\d+)?s?\b", "N", text)
    return " ".join(text.split()).strip(" :")


def collect(work: str | Path, target_mix: dict[str, float] | None = None) -> dict[str, Any]:
    """Counts per stage, failure and rejection reasons, and the verified type mix, as a dict.

    ``target_mix`` (default: the paper's) is what the mix is compared with, in any unit.
    """
    work = Path(work)
    if not work.is_dir():
        raise DataError(f"{work}: no such work directory")
    out: dict[str, Any] = {"work": str(work), "stages": {}}
    for stage in STAGES:
        ok = {r["id"]: r for r in iter_rows(work, stage, "items")}
        rejected = {r["id"]: r for r in iter_rows(work, stage, "rejected") if r["id"] not in ok}
        failed = {r["id"]: r for r in iter_rows(work, stage, "failures")
                  if r["id"] not in ok and r["id"] not in rejected}
        out["stages"][stage] = {
            "done": len(ok), "rejected": len(rejected), "failed": len(failed),
            "failure_kinds": dict(Counter(r.get("kind", "?") for r in failed.values()).most_common()),
            "failure_reasons": dict(Counter(f"{r.get('kind', '?')}: {_reason_class(r.get('reason', ''))}"
                                            for r in failed.values()).most_common(12)),
            "_ok": ok, "_rejected": rejected,
        }
    st = out["stages"]
    segs = sum(len(r.get("segments", [])) for r in st["prepare"]["_ok"].values())
    st["prepare"]["segments"] = segs
    st["prepare"]["truncated_sources"] = sum(bool(r.get("truncated")) for r in st["prepare"]["_ok"].values())
    st["prepare"]["video_seconds"] = round(sum(r.get("duration", 0.0) for r in st["prepare"]["_ok"].values()), 1)
    for stage in ("synthesize", "refine"):
        qas = [q for r in st[stage]["_ok"].values() for q in r.get("qas", [])]
        st[stage]["qas"] = dict(Counter(q["type"] for q in qas))
        if stage == "synthesize":
            rej = [x for r in st[stage]["_ok"].values() for x in r.get("rejected", [])]
            st[stage]["candidates_rejected"] = len(rej)
            st[stage]["rejection_reasons"] = dict(Counter(f"{x['type']}: {_reason_class(x['reason'])}"
                                                          for x in rej).most_common(12))
        else:
            refused = [q["origin"]["rewrite_refused"] for q in qas if q.get("origin", {}).get("rewrite_refused")]
            st[stage]["rewrites_refused"] = len(refused)
            st[stage]["variants"] = dict(Counter(str(q.get("origin", {}).get("variant")) for q in qas
                                                 if q["type"] == "realtime"))
    mix_of: dict[str, str] = {}
    samples = 0
    for r in st["structure"]["_ok"].values():
        mix_of.update(r.get("mix", {}))
        samples += len(r.get("samples", []))
    st["structure"]["samples"] = samples
    st["structure"]["samples_by_type"] = dict(Counter(
        s.get("qa_type") or "unknown" for r in st["structure"]["_ok"].values() for s in r.get("samples", [])))
    st["verify"]["kept_by_type"] = dict(Counter(s.get("qa_type") or "unknown" for s in st["verify"]["_ok"].values()))
    st["verify"]["rejected_by_type"] = dict(Counter(r.get("qa_type") or "unknown"
                                                    for r in st["verify"]["_rejected"].values()))
    st["structure"]["qas_dropped"] = sum(len(r.get("dropped", [])) for r in st["structure"]["_ok"].values())
    rejections = Counter(_reason_class(reason) for r in st["verify"]["_rejected"].values()
                         for reason in r.get("reasons", []))
    st["verify"]["rejection_reasons"] = dict(rejections.most_common(12))
    verified = st["verify"]["_ok"].values()
    mix = Counter(mix_of.get(s["id"], s.get("qa_type") or "unknown") for s in verified)
    kinds = Counter(s.get("response_kind", "answer") for s in verified)
    out["verified_samples"] = len(st["verify"]["_ok"])
    out["response_kinds"] = dict(kinds)
    out["mix"] = _mix_table(mix, target_mix or PAPER_MIX)
    for stage in STAGES:
        st[stage].pop("_ok")
        st[stage].pop("_rejected")
    return out


def _mix_table(mix: Counter[str], target: dict[str, float]) -> list[dict[str, Any]]:
    total = sum(mix[k] for k in MIX_KEYS) or 1
    target_total = sum(target.get(k, 0.0) for k in MIX_KEYS) or 1.0
    rows = []
    for k in MIX_KEYS:
        rows.append({"type": k, "count": mix[k], "share": round(100 * mix[k] / total, 1),
                     "paper_share": round(100 * target.get(k, 0.0) / target_total, 1),
                     "paper_of_all": target.get(k, 0.0)})
    return rows


def render(stats: dict[str, Any]) -> str:
    """The stats as a plain-text report."""
    lines = [f"work directory: {stats['work']}", ""]
    lines.append(f"{'stage':<11} {'done':>7} {'rejected':>9} {'failed':>7}")
    for stage, s in stats["stages"].items():
        lines.append(f"{stage:<11} {s['done']:>7} {s['rejected']:>9} {s['failed']:>7}")
    st = stats["stages"]
    lines.append("")
    lines.append(f"prepare: {st['prepare']['segments']} segments from {st['prepare']['done']} videos "
                 f"({st['prepare']['video_seconds']} s of video; {st['prepare']['truncated_sources']} truncated, "
                 "kept up to the cut)")
    lines.append(f"synthesize: QAs {st['synthesize'].get('qas', {})}, "
                 f"{st['synthesize'].get('candidates_rejected', 0)} candidates rejected")
    lines.append(f"refine: QAs {st['refine'].get('qas', {})}, "
                 f"real-time variant drawn {st['refine'].get('variants', {})}, "
                 f"{st['refine'].get('rewrites_refused', 0)} rewrites refused")
    lines.append(f"structure: {st['structure']['samples']} samples {st['structure']['samples_by_type']}, "
                 f"{st['structure']['qas_dropped']} QAs dropped (chunk clashes)")
    lines.append(f"verify: {stats['verified_samples']} samples kept {st['verify']['kept_by_type']} "
                 f"{stats['response_kinds']}, rejected {st['verify']['rejected_by_type']}")
    for stage, s in st.items():
        for reason, n in s.get("failure_reasons", {}).items():
            lines.append(f"  failed  {stage:<10} {n:>5}  {reason}")
    for reason, n in st["synthesize"].get("rejection_reasons", {}).items():
        lines.append(f"  rejected candidate  {n:>5}  {reason}")
    for reason, n in st["verify"].get("rejection_reasons", {}).items():
        lines.append(f"  rejected sample     {n:>5}  {reason}")
    lines.append("")
    lines.append("type mix of verified samples (share of streaming samples) vs the target (default: the paper's "
                 "share of its streaming samples, and as given: of all its samples)")
    lines.append(f"{'type':<10} {'count':>7} {'share':>7} {'target':>7} {'as given':>10}")
    for row in stats["mix"]:
        lines.append(f"{row['type']:<10} {row['count']:>7} {row['share']:>6.1f}% {row['paper_share']:>6.1f}% "
                     f"{row['paper_of_all']:>9.1f}%")
    return "\n".join(lines)


def export_samples(work: str | Path, output: str | Path, *, absolute_paths: bool = False) -> int:
    """Write every shard's verified samples to ``output`` (atomically), sorted by id; return the count.

    Video paths stay relative to ``work`` unless ``absolute_paths``. Raises ``DataError`` when
    ``work`` has no verified samples.
    """
    work = Path(work)
    if not shard_files(work, "verify", "items"):
        raise DataError(f"{work}: no verified samples yet (run `aura data verify` first)")
    rows = sorted(iter_rows(work, "verify", "items"), key=lambda r: r["id"])
    if absolute_paths:
        for r in rows:
            if r.get("video") and not Path(r["video"]).is_absolute():
                r["video"] = str((work / r["video"]).resolve())
    return write_jsonl_atomic(output, rows)
