"""Scoring a results file into ``summary.json`` + ``report.md`` (+ plots), and comparing two runs.

Works on any benchmark's rows (ours, or converted from an official results format) through the
``Benchmark`` protocol: per-task table, overall score with its rule, errors (per item and per
annotation row), latency (step time, time to first token) and timing (response-time error,
false alarms, silence rate in stream mode).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from aura.eval.benchmarks.base import Benchmark
from aura.eval.judge import Judge
from aura.eval.runner import RESULTS, SESSIONS, latest_rows
from aura.eval.types import ItemScore, RowError
from aura.fileio import atomic_write_text, iter_jsonl

SUMMARY = "summary.json"
REPORT = "report.md"


def stats(values: list[float]) -> dict[str, float | int | None]:
    """Count, mean, median (p50), p90 and max of a list (Nones when empty)."""
    vals = sorted(v for v in values if v is not None and math.isfinite(v))
    if not vals:
        return {"n": 0, "mean": None, "p50": None, "p90": None, "max": None}

    def pct(p: float) -> float:
        k = (len(vals) - 1) * p
        lo, hi = math.floor(k), math.ceil(k)
        return vals[lo] + (vals[hi] - vals[lo]) * (k - lo)

    return {"n": len(vals), "mean": sum(vals) / len(vals), "p50": pct(0.5), "p90": pct(0.9), "max": vals[-1]}


def score_rows(bench: Benchmark, rows: list[dict[str, Any]], judge: Judge,
               workers: int = 1) -> tuple[list[ItemScore], list[dict]]:
    """Scores of the ``ok`` rows (in order; ``workers`` threads for slow remote judges), and the error rows."""
    ok = [r for r in rows if r.get("status", "ok") == "ok"]
    errors = [{"item_id": r.get("item_id"), "video": r.get("video"), "error": r.get("error")}
              for r in rows if r.get("status", "ok") != "ok"]
    if workers > 1 and len(ok) > 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="aura-judge") as pool:
            return list(pool.map(lambda r: bench.score_row(r, judge), ok)), errors
    return [bench.score_row(r, judge) for r in ok], errors


def summarize(bench: Benchmark, rows: list[dict[str, Any]], judge: Judge, *,
              sessions: list[dict[str, Any]] | None = None, load_errors: list[RowError] | None = None,
              meta: dict[str, Any] | None = None,
              workers: int = 1) -> tuple[dict[str, Any], list[ItemScore], list[dict]]:
    """The summary dict (benchmark aggregate + counts + latency + timing), the item scores, the errors."""
    scores, errors = score_rows(bench, rows, judge, workers)
    sessions = sessions or []
    modes = sorted({str(r.get("mode")) for r in rows if r.get("mode")})
    step_s, ttft_s, query_s = [], [], []
    for r in rows:
        for p in r.get("probes") or []:
            if p.get("query_s") is not None:
                query_s.append(float(p["query_s"]))
            if p.get("step_s") is not None:
                step_s.append(float(p["step_s"]))
            if p.get("ttft_s") is not None:
                ttft_s.append(float(p["ttft_s"]))
    for s in sessions:
        step_s.extend(float(x) for x in s.get("step_s") or [])
        ttft_s.extend(float(x) for x in s.get("ttft_s") or [])
    codes = "".join(s.get("codes", "") for s in sessions)
    errs = [e for s in scores for e in s.time_errors]
    summary: dict[str, Any] = {
        "benchmark": bench.name,
        "mode": modes[0] if len(modes) == 1 else ",".join(modes) or None,
        **(meta or {}),
        "items": len(rows),
        "scored": len(scores),
        "errors": len(errors),
        "annotation_errors": len(load_errors or []),
        **bench.aggregate(scores),
        "latency": {"step_s": stats(step_s), "ttft_s": stats(ttft_s), "query_s": stats(query_s)},
        "timing": {
            "time_error_s": stats(errs),
            "abs_time_error_s": stats([abs(e) for e in errs]),
            "false_alarms": sum(s.false_alarms for s in scores),
            "items_with_false_alarms": sum(1 for s in scores if s.false_alarms),
        },
    }
    if codes:
        summary["stream"] = {"chunks": len(codes), "silent_rate": codes.count("s") / len(codes),
                             "unprompted_rate": codes.count("u") / len(codes)}
    return summary, scores, errors


def _fmt(v: Any, digits: int = 1) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def render_markdown(summary: dict[str, Any], errors: list[dict], load_errors: list[RowError],
                    plots: list[str] | None = None) -> str:
    """``report.md``: header, per-task table, categories, overall, timing, latency, errors, plots."""
    lines = [f"# {summary['benchmark']} — {summary.get('mode') or '?'} mode", ""]
    if summary.get("model"):
        lines.append(f"Model: `{summary['model']}`  ")
    if summary.get("judge"):
        lines.append(f"Judge: `{summary['judge']}`" + (" (offline match, not the official LLM judge)"
                                                       if str(summary["judge"]).startswith("match") else "") + "  ")
    lines += [f"Items: {summary['items']} (scored {summary['scored']}, errors {summary['errors']}, "
              f"bad annotation rows {summary['annotation_errors']})", "", "## Tasks", "",
              "| task | score % | items | units |", "|---|---:|---:|---:|"]
    notes = []
    for task, v in summary.get("tasks", {}).items():
        lines.append(f"| {task} | {_fmt(v.get('score'))} | {v.get('items', '-')} | {v.get('units', '-')} |")
        if v.get("steps"):
            notes.append(f"- {task}: first k turns all correct, k = 1..{len(v['steps'])}: "
                         + " / ".join(_fmt(x) for x in v["steps"]))
        if "precision" in v:
            notes.append(f"- {task}: precision {_fmt(v['precision'])}, IoU {_fmt(v.get('iou'))}")
    lines += ["", *notes] if notes else []
    if summary.get("categories"):
        lines += ["", "| category | score % |", "|---|---:|"]
        lines += [f"| {c} | {_fmt(v)} |" for c, v in summary["categories"].items()]
    lines += ["", f"**Overall: {_fmt(summary.get('overall'))}** ({summary.get('overall_rule', '')})"]
    if summary.get("avg_wo_p") is not None:
        lines.append(f"Average without proactive tasks: {_fmt(summary['avg_wo_p'])}")
    if summary.get("task_mean") is not None:
        lines.append(f"Mean of all tasks (the earlier scorer's total): {_fmt(summary['task_mean'])}")
    t = summary["timing"]
    lines += ["", "## Timing", "",
              f"- response-time error (s): mean {_fmt(t['time_error_s']['mean'], 2)}, "
              f"median |error| {_fmt(t['abs_time_error_s']['p50'], 2)}, n={t['time_error_s']['n']}",
              f"- false alarms: {t['false_alarms']} in {t['items_with_false_alarms']} item(s)"]
    if "stream" in summary:
        s = summary["stream"]
        lines.append(f"- stream: {s['chunks']} chunks, silent {100 * s['silent_rate']:.1f}%, "
                     f"unprompted replies {100 * s['unprompted_rate']:.1f}%")
    lat = summary["latency"]
    lines += ["", "## Latency", "", "step: the deciding step; ttft: to the first token of a reply; "
              "query: a whole protocol query (reset, teacher-forced window, step).", "",
              "| measure (s) | n | mean | p50 | p90 | max |", "|---|---:|---:|---:|---:|---:|"]
    for name in ("step_s", "ttft_s", "query_s"):
        v = lat.get(name)
        if not v or not v["n"]:
            continue
        lines.append(f"| {name} | {v['n']} | {_fmt(v['mean'], 3)} | {_fmt(v['p50'], 3)} | "
                     f"{_fmt(v['p90'], 3)} | {_fmt(v['max'], 3)} |")
    if errors or load_errors:
        lines += ["", "## Errors", ""]
        for e in errors[:50]:
            lines.append(f"- item `{e['item_id']}`: {e['error']}")
        if len(errors) > 50:
            lines.append(f"- ... and {len(errors) - 50} more item errors")
        for le in load_errors[:50]:
            where = f"row {le.index}" if le.index >= 0 else "file"
            lines.append(f"- {Path(le.file).name} {where}: {le.message}")
        if len(load_errors) > 50:
            lines.append(f"- ... and {len(load_errors) - 50} more bad rows")
    if plots:
        lines += ["", "## Plots", ""] + [f"![{Path(p).stem}]({Path(p).name})" for p in plots]
    return "\n".join(lines) + "\n"


def read_sessions(out: Path) -> list[dict[str, Any]]:
    """Stream sessions recorded in a run directory (the last one per video)."""
    path = out / SESSIONS
    if not path.is_file():
        return []
    last: dict[str, dict[str, Any]] = {}
    for _, s in iter_jsonl(path, skip_bad=True):
        if isinstance(s, dict):
            last[str(s.get("video"))] = s
    return list(last.values())


def write_report(out_dir: str | Path, bench: Benchmark, judge: Judge, *, load_errors: list[RowError] | None = None,
                 meta: dict[str, Any] | None = None, plots: bool = True,
                 rows: list[dict[str, Any]] | None = None, workers: int = 1) -> dict[str, Any]:
    """Score ``out_dir/results.jsonl`` (or ``rows``) and write ``summary.json``, ``report.md`` and plots."""
    out = Path(out_dir)
    rows = rows if rows is not None else latest_rows(out / RESULTS)
    sessions = read_sessions(out)
    load_errors = load_errors or []
    summary, scores, errors = summarize(bench, rows, judge, sessions=sessions, load_errors=load_errors, meta=meta,
                                        workers=workers)
    summary["load_errors"] = [e.model_dump() for e in load_errors[:200]]
    summary["item_errors"] = errors[:200]
    written: list[str] = []
    if plots:
        from aura.eval.plots import write_plots

        written = write_plots(out, summary, scores, rows, sessions)
    atomic_write_text(out / SUMMARY, json.dumps(summary, indent=2, default=str) + "\n")
    atomic_write_text(out / REPORT, render_markdown(summary, errors, load_errors, written))
    return summary


def load_summary(path: str | Path) -> dict[str, Any]:
    """A run's summary from its directory or its ``summary.json``."""
    from aura.fileio import read_json

    p = Path(path)
    return read_json(p / SUMMARY if p.is_dir() else p)


def compare(a: dict[str, Any], b: dict[str, Any], names: tuple[str, str] = ("A", "B")) -> str:
    """A side-by-side Markdown table of two summaries: tasks, categories, overall, timing, latency."""
    def row(label: str, x: Any, y: Any) -> str:
        delta = f"{y - x:+.1f}" if isinstance(x, int | float) and isinstance(y, int | float) else "-"
        return f"| {label} | {_fmt(x)} | {_fmt(y)} | {delta} |"

    lines = [f"| | {names[0]} | {names[1]} | Δ |", "|---|---:|---:|---:|"]
    lines.append(f"| benchmark / mode | {a.get('benchmark')} {a.get('mode')} | "
                 f"{b.get('benchmark')} {b.get('mode')} | |")
    tasks = list(dict.fromkeys([*a.get("tasks", {}), *b.get("tasks", {})]))
    for t in tasks:
        lines.append(row(t, a.get("tasks", {}).get(t, {}).get("score"), b.get("tasks", {}).get(t, {}).get("score")))
    for c in dict.fromkeys([*a.get("categories", {}), *b.get("categories", {})]):
        lines.append(row(f"*{c}*", a.get("categories", {}).get(c), b.get("categories", {}).get(c)))
    lines.append(row("**overall**", a.get("overall"), b.get("overall")))
    lines.append(row("items scored", a.get("scored"), b.get("scored")))
    lines.append(row("errors", a.get("errors"), b.get("errors")))
    ta, tb = a.get("timing", {}), b.get("timing", {})
    lines.append(row("median abs time error (s)", ta.get("abs_time_error_s", {}).get("p50"),
                     tb.get("abs_time_error_s", {}).get("p50")))
    lines.append(row("false alarms", ta.get("false_alarms"), tb.get("false_alarms")))
    la, lb = a.get("latency", {}), b.get("latency", {})
    lines.append(row("step p50 (s)", la.get("step_s", {}).get("p50"), lb.get("step_s", {}).get("p50")))
    return "\n".join(lines) + "\n"
