"""``aura eval world``: held-out synthetic world streams through the real streaming session, scored exactly.

For each seed of a split (test by default) a stream of 2-5 minutes is planned with
``aura.world.make_stream`` (using the model's own ``ContextConfig``, so replies to questions the
context has forgotten are not owed), rendered to ``OUT/videos/world-<seed>.mp4`` (kept: a re-run
reuses it), decoded by ``aura.video.iter_chunks`` and streamed through the model: ``reset()``,
then one ``begin_step(chunk, question)`` per 1-second chunk, each question injected in the chunk
of its time. Nothing is teacher-forced: the model's own replies stay in its context.

Each finished stream is one line of ``OUT/results.jsonl`` (appended whole and synced; every
step: chunk, time, silent or text, timings), so a re-run skips finished streams and retries
failed ones. ``summary.json``, ``report.md`` and two PNG plots are rewritten at the end from the
results file alone (``aura.eval.world_metrics`` does the scoring). See ``docs/eval-world.md``.
"""

from __future__ import annotations

import json
import logging
import math
import queue
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from aura.errors import AuraError
from aura.eval.runner import RESULTS, RUN_META, drop_partial_line, error_text, finished_ids, latest_rows
from aura.eval.world_metrics import (
    PHRASINGS,
    TARGETS,
    TOLERANCE_CHUNKS,
    UNCLAIMED_CONTEXTS,
    aggregate,
    latency,
    score_stream,
    verdicts,
)
from aura.fileio import append_jsonl, atomic_write_text
from aura.models.base import StreamingModel
from aura.stream import ContextConfig
from aura.world.questions import MAX_DURATION, MIN_DURATION, WorldStream, make_stream
from aura.world.render import render_video
from aura.world.splits import SPLIT_BASE, split_seeds

log = logging.getLogger(__name__)

BENCHMARK = "world"
SUMMARY = "summary.json"
REPORT = "report.md"
ModelFactory = Callable[[], StreamingModel]
Clock = Callable[[], float]


class WorldEvalError(AuraError):
    """A world evaluation cannot run as asked (bad option, model, or output directory)."""


class WorldEvalConfig(BaseModel):
    """What a world evaluation runs: which streams, how long, which phrasings, rendered how."""

    model_config = ConfigDict(extra="forbid")

    split: str = "test"
    streams: int = Field(50, ge=1, le=100_000)
    seconds: tuple[int, int] = (120, 300)
    phrasing: str = "all"
    height: int = Field(128, ge=32, le=1080)
    workers: int = Field(1, ge=1, le=64)
    tolerance_chunks: int = Field(TOLERANCE_CHUNKS, ge=0, le=30)

    @model_validator(mode="after")
    def _check(self) -> WorldEvalConfig:
        if self.split not in SPLIT_BASE:
            raise ValueError(f"unknown split {self.split!r} (choose train, val or test)")
        if self.phrasing not in ("train", "heldout", "all"):
            raise ValueError(f"unknown phrasing {self.phrasing!r} (choose train, heldout or all)")
        lo, hi = self.seconds
        if not (MIN_DURATION <= lo <= hi <= MAX_DURATION):
            raise ValueError(f"seconds must be MIN MAX with {MIN_DURATION:g} <= MIN <= MAX <= {MAX_DURATION:g}, "
                             f"got {lo} {hi}")
        return self

    @classmethod
    def make(cls, **values: Any) -> WorldEvalConfig:
        """Validate options into a config; a bad one raises a one-line ``WorldEvalError``."""
        try:
            return cls(**values)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            msg = str(first["msg"]).removeprefix("Value error, ")
            raise WorldEvalError(f"bad option {where}: {msg}" if where else f"bad option: {msg}") from None


# ---------------------------------------------------------------------------------------------- streams
def stream_duration(seed: int, seconds: tuple[int, int]) -> float:
    """The seeded duration (whole seconds in ``seconds``) of the evaluation stream of ``seed``."""
    lo, hi = seconds
    return float(np.random.default_rng([seed, 11]).integers(lo, hi + 1))


def plan_streams(config: WorldEvalConfig, context: ContextConfig | None = None) -> list[WorldStream]:
    """The evaluation's streams (seeds ``0..streams-1`` of the split), planned for ``context``."""
    return [plan_stream(seed, config, context) for seed in split_seeds(config.split, config.streams)]


def plan_stream(seed: int, config: WorldEvalConfig, context: ContextConfig | None = None) -> WorldStream:
    """One evaluation stream: deterministic in the seed, the duration range, phrasing and context."""
    return make_stream(seed, duration=stream_duration(seed, config.seconds),
                       phrasing=config.phrasing, config=context)  # type: ignore[arg-type]


def video_path(out: Path, stream: WorldStream) -> Path:
    """Where a stream's mp4 lives in a run directory."""
    return out / "videos" / f"{stream.id}.mp4"


def ensure_video(out: Path, stream: WorldStream, height: int, fps: float) -> Path:
    """Render the stream to its mp4 unless a previous run already did (written atomically)."""
    path = video_path(out, stream)
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        render_video(stream.scene, path, fps=fps, height=height, style=stream.style)
    return path


# ---------------------------------------------------------------------------------------------- models
def load_world_model(spec: str | None, *, max_new_tokens: int = 128,
                     silence_bias: float | None = None) -> StreamingModel:
    """The model ``spec`` names (default ``nano``, the bundled checkpoint), via the model registry.

    ``silence_bias`` overrides a nano checkpoint's calibrated value. Never downloads; a missing
    checkpoint is a one-line error.
    """
    from aura.models.registry import load_model, nano_checkpoint_dir

    if silence_bias is None:
        return load_model(spec or "nano", max_new_tokens=max_new_tokens)
    if nano_checkpoint_dir(spec or "nano") is None:
        raise WorldEvalError("--silence-bias applies to nano models only")
    return load_model(spec or "nano", max_new_tokens=max_new_tokens, silence_bias=silence_bias)


# ---------------------------------------------------------------------------------------------- one stream
def run_stream(model: StreamingModel, stream: WorldStream, video: str | Path, *,
               clock: Clock = time.perf_counter, stop: threading.Event | None = None) -> dict[str, Any]:
    """Stream ``video`` through ``model`` with ``stream``'s questions; return the results row.

    ``model.reset()``, then one ``begin_step`` per decoded chunk with the question asked in it
    (if any); the reply is drained to the end (not teacher-forced). Every step is recorded.
    Setting ``stop`` ends the stream before its next chunk with ``WorldEvalError``.
    """
    from aura.video.chunks import iter_chunks

    config = model.context_config
    if config.chunk_seconds != 1.0:
        raise WorldEvalError(f"{model.name} uses {config.chunk_seconds:g}-s chunks; world streams need 1-s chunks")
    by_chunk: dict[int, Any] = {}
    for q in stream.questions:
        k = math.floor(q.time / config.chunk_seconds + 1e-9)
        if k in by_chunk:
            raise WorldEvalError(f"{stream.id}: two questions in chunk {k}")
        by_chunk[k] = q
    model.reset()
    steps: list[dict[str, Any]] = []
    started = clock()
    for chunk in iter_chunks(str(video), config):
        if stop is not None and stop.is_set():
            raise WorldEvalError(f"{stream.id}: interrupted at chunk {chunk.index}")
        q = by_chunk.get(chunk.index)
        t0 = clock()
        gen = model.begin_step(chunk, q.text if q is not None else None)
        for _ in gen:
            pass
        result = gen.finish()
        step_s = clock() - t0
        tm = result.timings
        steps.append({"k": chunk.index, "start": chunk.start, "end": chunk.end, "question": q.id if q else None,
                      "silent": result.silent, "text": result.text, "step_s": round(step_s, 6),
                      "ttft_s": round(tm.ttft_s, 6), "prefill_tokens": tm.prefill_tokens,
                      "reused_tokens": tm.reused_tokens, "generated_tokens": tm.generated_tokens,
                      "cache_rebuilt": tm.cache_rebuilt, "silence_margin": _round(result.silence_margin)})
    return {
        "benchmark": BENCHMARK, "item_id": stream.id, "status": "ok", "error": None, "model": model.name,
        "seed": stream.seed, "split": stream.split, "phrasing": stream.phrasing,
        "duration": stream.scene.duration, "video": str(video), "wall_s": round(clock() - started, 3),
        "questions": [q.model_dump(mode="json") for q in stream.questions],
        "owed": [r.model_dump(mode="json") for r in stream.responses],
        "events": [{"time": e.sample_time, "kind": e.kind, "colour": e.colour, "shape": e.shape}
                   for e in stream.scene.events],
        "steps": steps,
    }


def _round(v: float | None) -> float | None:
    return None if v is None else round(float(v), 4)


# ---------------------------------------------------------------------------------------------- the run
class _ModelPool:
    """At most ``size`` models, made on demand (the first one eagerly, so a bad spec fails at once)."""

    def __init__(self, factory: ModelFactory, size: int) -> None:
        self.factory, self.size = factory, size
        self.free: queue.Queue[StreamingModel] = queue.Queue()
        self.made = 0
        self.lock = threading.Lock()
        self.first = self._make()
        self.free.put(self.first)

    def _make(self) -> StreamingModel:
        model = self.factory()
        self.made += 1
        return model

    def take(self) -> StreamingModel:
        with self.lock:
            if self.free.empty() and self.made < self.size:
                return self._make()
        return self.free.get()

    def give(self, model: StreamingModel) -> None:
        self.free.put(model)


def _check_meta(out: Path, meta: dict[str, Any]) -> None:
    path = out / RUN_META
    if path.is_file():
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            old = {}
        if old.get("benchmark") not in (None, BENCHMARK):
            raise WorldEvalError(f"{out} holds a {old.get('benchmark')} run; use another output directory")
        for key in ("model", "split", "seconds", "phrasing", "height", "settings"):
            before = old.get(key, {} if key == "settings" else meta[key])
            if before != meta[key]:
                raise WorldEvalError(f"{out} holds a run with {key}={before!r}, not {meta[key]!r}; "
                                     "use another output directory")


def run_world_eval(config: WorldEvalConfig, out_dir: str | Path, model_factory: ModelFactory, *,
                   model_name: str, progress: bool = False, clock: Clock = time.perf_counter,
                   settings: dict[str, Any] | None = None) -> dict[str, int]:
    """Run every stream not already finished in ``out_dir``; return counts (streams, skipped, done, errors).

    One model per worker (``config.workers`` threads). A failing stream becomes an error row
    (retried by the next run); a model that cannot be built stops the run with its own error.
    ``settings`` (decoding options such as ``silence_bias``) are recorded with the run, and a
    re-run into the same directory must use the same ones.
    """
    out = Path(out_dir)
    meta = {"benchmark": BENCHMARK, "model": model_name, "split": config.split, "seconds": list(config.seconds),
            "phrasing": config.phrasing, "height": config.height, "settings": settings or {}}
    _check_meta(out, meta)
    out.mkdir(parents=True, exist_ok=True)
    drop_partial_line(out / RESULTS)
    done = finished_ids(out / RESULTS)
    seeds = split_seeds(config.split, config.streams)
    todo = [s for s in seeds if f"world-{s}" not in done]
    counts = {"streams": len(seeds), "skipped": len(seeds) - len(todo), "done": 0, "errors": 0}
    pool = _ModelPool(model_factory, min(config.workers, len(todo))) if todo else None
    atomic_write_text(out / RUN_META, json.dumps(meta, indent=2) + "\n")  # once the model loaded
    if pool is None:
        return counts
    lock = threading.Lock()
    stop = threading.Event()

    def job(seed: int) -> None:
        if stop.is_set():
            return
        model = pool.take()
        t0 = clock()
        try:
            ctx = model.context_config
            stream = plan_stream(seed, config, ctx)
            video = ensure_video(out, stream, config.height, ctx.fps)
            row = run_stream(model, stream, video, clock=clock, stop=stop)
            row["video"] = str(video.relative_to(out))
        except Exception as exc:  # one stream failed: record it, go on with the others
            if not isinstance(exc, AuraError | OSError):
                log.warning("world stream %s failed", seed, exc_info=True)
            row = {"benchmark": BENCHMARK, "item_id": f"world-{seed}", "seed": seed, "status": "error",
                   "error": error_text(exc), "model": model_name}
        finally:
            pool.give(model)
        if stop.is_set() and row["status"] != "ok":
            return  # interrupted, not failed: nothing recorded, the next run does it
        with lock:
            append_jsonl(out / RESULTS, row)
            counts["done" if row["status"] == "ok" else "errors"] += 1
            if progress:
                n = counts["done"] + counts["errors"]
                state = "ok" if row["status"] == "ok" else f"error: {row['error']}"
                print(f"[{n}/{len(todo)}] world-{seed} {state} ({clock() - t0:.1f}s)", file=sys.stderr, flush=True)

    ex = ThreadPoolExecutor(max_workers=min(config.workers, len(todo)), thread_name_prefix="aura-world")
    try:
        for f in as_completed([ex.submit(job, s) for s in todo]):
            f.result()
    except BaseException:  # Ctrl-C or a model that cannot be built: drop queued streams, stop running ones
        stop.set()
        ex.shutdown(wait=True, cancel_futures=True)
        raise
    ex.shutdown()
    return counts


# ---------------------------------------------------------------------------------------------- reports
def summarize(rows: list[dict[str, Any]], *, tolerance: int = TOLERANCE_CHUNKS,
              meta: dict[str, Any] | None = None) -> dict[str, Any]:
    """The summary of a run's rows: metrics for all / training / held-out phrasings, verdicts, latency."""
    from aura.eval.calibrate import margin_separation_by_context

    ok = [r for r in rows if r.get("status") == "ok"]
    scored = [score_stream(r, tolerance) for r in ok]
    metrics = {p: aggregate(scored, p) for p in PHRASINGS}
    margins = margin_separation_by_context(ok)
    return {
        "benchmark": BENCHMARK,
        **(meta or {}),
        "streams": len(rows),
        "scored": len(ok),
        "errors": [{"stream": r.get("item_id"), "error": r.get("error")} for r in rows if r.get("status") != "ok"],
        "stream_seconds": sum(len(r.get("steps") or []) for r in ok),
        "tolerance_chunks": tolerance,
        "metrics": metrics,
        "targets": {k: f"{op} {v:g}" for k, (op, v) in TARGETS.items()},
        "meets_target": verdicts(metrics["all"]),
        "meets_target_heldout": verdicts({**metrics["heldout"], "silence": metrics["all"]["silence"]}),
        "latency": latency(ok),
        "replies": sum(s["replies"] for s in scored),
        "unclaimed_replies": sum(s["unclaimed"] for s in scored),
        "stray_replies": sum(s["stray"] for s in scored),
        "margin_auc_by_context": margins if any(v["auc"] is not None for v in margins.values()) else None,
    }


ROWS = [
    ("realtime_accuracy", "real-time answers correct (own chunk)"),
    ("realtime_accuracy_next", "real-time answers correct (own or next chunk)"),
    ("backward_accuracy", "backward answers correct (own chunk)"),
    ("proactive_on_time", "proactive answered within the window"),
    ("proactive_early", "proactive answered before the evidence"),
    ("proactive_early_named", "proactive: its target named before the evidence (diagnostic)"),
    ("proactive_silent_when_absent", "proactive, target never appears: stayed silent"),
    ("multi_recall", "multi-response recall"),
    ("multi_precision", "multi-response precision"),
    ("ack_rate", "proactive/multi acknowledged in their chunk"),
    ("ack_worded", "... in one of the world's acknowledgements, word for word (diagnostic)"),
    ("silence", "silent where nothing is due"),
    ("silence_at_events", "silent where nothing is due but something happens"),
]


def _f(v: Any, digits: int = 1) -> str:
    return "-" if v is None else f"{v:.{digits}f}" if isinstance(v, float) else str(v)


def render_markdown(summary: dict[str, Any], plots: list[str] | None = None) -> str:
    """``report.md``: the metric table (all / training / held-out phrasings, targets), kinds, latency."""
    m, tol = summary["metrics"], summary["tolerance_chunks"]
    lines = [f"# aura eval world — {summary.get('model', '?')}", "",
             f"Split `{summary.get('split')}`, phrasing `{summary.get('phrasing')}`, streams of "
             f"{summary.get('seconds')} s: {summary['scored']} scored of {summary['streams']} "
             f"({len(summary['errors'])} errors), {summary['stream_seconds']} chunks in all. "
             f"Run through the real streaming session (not teacher-forced)"
             + "".join(f"; {k} {v}" for k, v in (summary.get("settings") or {}).items()) + ".", "",
             f"Windows: a proactive answer or multi-response report counts in the chunk whose frames first show "
             f"the evidence or up to {tol} chunk(s) later (\"within {tol} s\"); real-time and backward answers "
             "must come in the question's own chunk (the *next chunk* row also accepts one chunk late).", "",
             "| metric | all % | training phrasings % | held-out phrasings % | target | met |",
             "|---|---:|---:|---:|---:|:---:|"]
    for key, label in ROWS:
        target = summary["targets"].get(key, "")
        met = summary["meets_target"].get(key)
        mark = "" if key not in TARGETS else "-" if met is None else ("yes" if met else "**no**")
        lines.append(f"| {label} | {_f(m['all'][key])} | {_f(m['train'][key])} | {_f(m['heldout'][key])} | "
                     f"{target} | {mark} |")
    c = m["all"]["counts"]
    lines += ["", f"Counted: {c['realtime']} real-time, {c['backward']} backward, {c['proactive_with_target']} "
              f"proactive with a target (+{c['proactive_without_target']} without), {c['multi']} multi-response "
              f"questions owing {c['multi_events']} reports (the model made {c['multi_reports']}), "
              f"{c.get('free_chunks', 0)} chunks where nothing was due; {summary['replies']} replies, "
              f"{summary['unclaimed_replies']} matching nothing owed, {summary['stray_replies']} of them "
              "outside a question's own chunk (the stray replies that early answers and precision count).", "",
              "## Real-time and backward answers by kind", "", "| kind | n | correct % |", "|---|---:|---:|"]
    lines += [f"| {k} | {v['n']} | {_f(v['accuracy'])} |" for k, v in m["all"].get("by_kind", {}).items()]
    wordings = m["all"].get("by_wording")
    if wordings:
        lines += ["", "## Real-time and backward answers by wording", "",
                  "The most frequent wrong reply, with the world's colours, shapes and numbers as `{colour}`, "
                  "`{shape}` and `{n}`, shows what a wording was read as.", "",
                  "| kind | wording | held out | n | correct % | most frequent wrong reply (times) |",
                  "|---|---|:---:|---:|---:|---|"]
        for kind, per in wordings.items():
            for wording, v in per.items():
                wrong = f"{v['wrong_reply']} ({v['wrong_reply_n']})" if v["wrong_reply"] else "-"
                lines.append(f"| {kind} | {wording} | {'yes' if v['heldout'] else ''} | {v['n']} | "
                             f"{_f(v['accuracy'])} | {wrong.replace('|', '/')} |")
    multi = m["all"].get("multi_by_kind")
    if multi:
        lines += ["", "## Multi-response reports by kind", "",
                  "| kind | questions | events owed | recall % (training / held-out phrasings) | "
                  "precision % (training / held-out) |", "|---|---:|---:|---:|---:|"]
        for k, v in multi.items():
            tr, ho = (m[p]["multi_by_kind"].get(k, {}) for p in ("train", "heldout"))
            lines.append(f"| {k} | {v['questions']} | {v['events']} | {_f(v['recall'])} ({_f(tr.get('recall'))} / "
                         f"{_f(ho.get('recall'))}) | {_f(v['precision'])} ({_f(tr.get('precision'))} / "
                         f"{_f(ho.get('precision'))}) |")
    by = m["all"].get("unclaimed_by")
    if by:
        total = sum(by.values())
        lines += ["", "## Replies matching nothing owed, by what was around them (diagnostic)", "",
                  f"An event counts when it is in the reply's chunk or up to {tol} before.", "",
                  "| where | replies | % |", "|---|---:|---:|"]
        lines += [f"| {UNCLAIMED_CONTEXTS[case]} | {n} | {_f(100.0 * n / total if total else None)} |"
                  for case, n in by.items()]
    auc = summary.get("margin_auc_by_context")
    if auc:
        owed_n = next(iter(auc.values()))["owed"]
        lines += ["", f"Silence margins (models that record them): the chance that a chunk owed a proactive answer "
                  f"or report ({owed_n} chunks) leans more towards speaking than a chunk that first shows an event "
                  "nobody is owed a reply for (0.5: no separation, 1: perfect), by what was open there:", "",
                  "| free event chunks | n | AUC |", "|---|---:|---:|"]
        lines += [f"| {UNCLAIMED_CONTEXTS[case].removeprefix('at ')} | {v['n']} | {_f(v['auc'], 3)} |"
                  for case, v in auc.items()]
    lat = summary["latency"]
    lines += ["", "## Latency", "",
              f"- step: p50 {_f(lat['step_p50_s'], 3)} s, p90 {_f(lat['step_p90_s'], 3)} s, "
              f"p99 {_f(lat['step_p99_s'], 3)} s, max {_f(lat['step_max_s'], 3)} s over {lat['steps']} steps",
              f"- time to first token: p50 {_f(lat['ttft_p50_s'], 3)} s, p99 {_f(lat['ttft_p99_s'], 3)} s",
              f"- real-time factor: {_f(lat['rtf'], 3)} (total step time / stream time); "
              f"p99 step / chunk: {_f(lat['rtf_p99'], 3)}",
              "- decoding the video is not included; steps ran with the machine shared as it was."]
    if summary["errors"]:
        lines += ["", "## Errors", ""] + [f"- `{e['stream']}`: {e['error']}" for e in summary["errors"][:50]]
    if plots:
        lines += ["", "## Plots", ""] + [f"![{Path(p).stem}]({Path(p).name})" for p in plots]
    return "\n".join(lines) + "\n"


def write_plots(out: Path, summary: dict[str, Any], rows: list[dict[str, Any]]) -> list[str]:
    """``world_metrics.png`` (metrics by phrasing, with targets) and ``world_latency.png`` (step times)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    keys = ["realtime_accuracy", "backward_accuracy", "proactive_on_time", "proactive_early", "multi_recall",
            "multi_precision", "ack_rate", "silence"]
    m = summary["metrics"]
    fig, ax = plt.subplots(figsize=(9, 4))
    x = np.arange(len(keys))
    for j, (p, colour) in enumerate(zip(PHRASINGS, ("#3b7dd8", "#7fb069", "#d8823b"), strict=True)):
        vals = [m[p][k] if m[p][k] is not None else 0.0 for k in keys]
        ax.bar(x + (j - 1) * 0.27, vals, 0.27, label=p, color=colour)
    for i, k in enumerate(keys):
        if k in TARGETS:
            ax.hlines(TARGETS[k][1], i - 0.45, i + 0.45, colors="black", linestyles="dashed", linewidth=1)
    ax.set_xticks(x, [k.replace("_", "\n") for k in keys], fontsize=7)
    ax.set_ylim(0, 105)
    ax.set_ylabel("%")
    ax.set_title(f"world eval: {summary.get('model')} (dashed: targets)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    paths = [str(out / "world_metrics.png")]
    fig.savefig(paths[-1], dpi=90)
    plt.close(fig)

    step_ms = [1000 * float(s["step_s"]) for r in rows for s in r.get("steps") or [] if s.get("step_s") is not None]
    fig, ax = plt.subplots(figsize=(5, 3.5))
    if step_ms:
        ax.hist(step_ms, bins=40, color="#3b7dd8", edgecolor="black")
        for p, style in ((50, "solid"), (99, "dashed")):
            v = summary["latency"][f"step_p{p}_s"]
            if v is not None:
                ax.axvline(1000 * v, color="black", linestyle=style, label=f"p{p} {1000 * v:.0f} ms")
        ax.legend(fontsize=7)
    else:
        ax.text(0.5, 0.5, "no steps recorded", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel("step latency (ms per 1-s chunk)")
    ax.set_ylabel("steps")
    ax.set_title("world eval: step latency")
    fig.tight_layout()
    paths.append(str(out / "world_latency.png"))
    fig.savefig(paths[-1], dpi=90)
    plt.close(fig)
    return paths


def write_world_report(out_dir: str | Path, *, rows: list[dict[str, Any]] | None = None,
                       tolerance: int = TOLERANCE_CHUNKS, meta: dict[str, Any] | None = None,
                       plots: bool = True) -> dict[str, Any]:
    """Score ``out_dir/results.jsonl`` (or ``rows``); write ``summary.json``, ``report.md`` and plots."""
    out = Path(out_dir)
    if rows is None:
        if not (out / RESULTS).is_file():
            raise WorldEvalError(f"{out}: no {RESULTS} to score")
        rows = latest_rows(out / RESULTS)
    if meta is None and (out / RUN_META).is_file():
        try:
            meta = {k: v for k, v in json.loads((out / RUN_META).read_text(encoding="utf-8")).items()
                    if k in ("model", "split", "seconds", "phrasing", "height", "settings")}
        except (OSError, ValueError):
            meta = None
    summary = summarize(rows, tolerance=tolerance, meta=meta)
    written = write_plots(out, summary, [r for r in rows if r.get("status") == "ok"]) if plots else []
    atomic_write_text(out / SUMMARY, json.dumps(summary, indent=2) + "\n")
    atomic_write_text(out / REPORT, render_markdown(summary, written))
    return summary


# ---------------------------------------------------------------------------------------------- CLI
def add_parser(cmds: Any) -> None:
    """Add ``aura eval world`` to the ``eval`` group's subparsers."""
    p = cmds.add_parser("world", help="held-out synthetic world streams through the real session, scored exactly")
    p.add_argument("--model", "-m", default="nano",
                   help="nano (the bundled checkpoint) | nano:DIR | hf:DIR | openai:URL#MODEL")
    p.add_argument("--split", default="test", help="seed split: test (default), val or train")
    p.add_argument("--streams", type=int, default=50, help="number of streams (seeds 0..N-1 of the split)")
    p.add_argument("--seconds", type=int, nargs=2, default=[120, 300], metavar=("MIN", "MAX"),
                   help="stream duration range in seconds (drawn per seed)")
    p.add_argument("--phrasing", default="all", help="question phrasings: all (default), train or heldout")
    p.add_argument("--out", "-o", default="runs/eval-world", help="run directory (videos, results, reports)")
    p.add_argument("--workers", type=int, default=1, help="streams run in parallel (one model each)")
    p.add_argument("--height", type=int, default=128, help="rendered video height in pixels")
    p.add_argument("--max-new-tokens", type=int, default=64, help="longest reply (tokens)")
    p.add_argument("--silence-bias", type=float, default=None,
                   help="nano: added to the first token's silence logit (default: the checkpoint's "
                        "generation.json, see `aura eval calibrate`)")
    p.add_argument("--no-progress", action="store_true", help="no per-stream progress lines")
    p.set_defaults(func=cli_world)


def _checkpoint_bias(spec: str) -> float | None:
    """The silence bias a nano spec's checkpoint is served with (None for other backends)."""
    from aura.models.nano.checkpoint import load_generation
    from aura.models.registry import nano_checkpoint_dir

    path = nano_checkpoint_dir(spec)
    return float(load_generation(path).get("silence_bias", 0.0)) if path is not None and path.is_dir() else None


def cli_world(args: Any) -> int:
    """Run (resuming), score and report; print the headline numbers."""
    config = WorldEvalConfig.make(split=args.split, streams=args.streams, seconds=tuple(args.seconds),
                                  phrasing=args.phrasing, height=args.height, workers=args.workers)
    if args.max_new_tokens < 1:
        raise WorldEvalError(f"bad option max_new_tokens: must be >= 1, got {args.max_new_tokens}")
    spec = args.model or "nano"
    bias = getattr(args, "silence_bias", None)
    effective = bias if bias is not None else _checkpoint_bias(spec)
    settings = {} if effective is None else {"silence_bias": effective}
    counts = run_world_eval(config, args.out,
                            lambda: load_world_model(spec, max_new_tokens=args.max_new_tokens, silence_bias=bias),
                            model_name=spec, progress=not args.no_progress, settings=settings)
    summary = write_world_report(args.out, tolerance=config.tolerance_chunks)
    m, lat = summary["metrics"]["all"], summary["latency"]
    print(f"world {config.split}: {counts['done']} run, {counts['skipped']} already done, {counts['errors']} errors")
    print(f"realtime {_f(m['realtime_accuracy'])}% | proactive on time {_f(m['proactive_on_time'])}% "
          f"early {_f(m['proactive_early'])}% | multi recall {_f(m['multi_recall'])}% "
          f"precision {_f(m['multi_precision'])}% | silence {_f(m['silence'])}% | "
          f"step p99 {_f(lat['step_p99_s'], 3)} s -> {Path(args.out) / REPORT}")
    return 0
