"""Run a benchmark's items against any ``StreamingModel``, in ``protocol`` or ``stream`` mode.

- ``protocol``: every probe is its own query, as the benchmark's official protocol asks it, with
  AURA's evaluation context: ``model.reset()``, the last <= N (30) one-second chunks before the
  probe time teacher-forced as ``<|silent|>`` (``begin_step`` then ``cancel`` before any text:
  the interface records that as silence), then the chunk at the probe time with the prompt.
  Polls re-ask at every chunk until the stop condition.
- ``stream``: one continuous session per video; every item's questions are injected at their
  times and the model decides by itself when to speak; the row keeps what it said and when.

Each video is decoded once (``chunk_source``), held in a bounded buffer (a fifo ``StreamContext``
of N + lookahead chunks), and a small lookahead tells when the video ends (for "from the end"
times). Finished items are appended to ``results.jsonl`` one by one (atomic lines), so a re-run
skips them; videos run in parallel on a bounded pool of worker threads, one model per worker.
Missing or broken videos, and failures of single queries, become per-item error rows.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from aura.errors import AuraError
from aura.eval.types import ANSWER_PLACEHOLDER, MODES, EvalError, Item, Mode, Probe
from aura.fileio import append_jsonl, atomic_write_text, iter_jsonl
from aura.models.base import StepResult, StreamingModel
from aura.stream import ContextConfig, Silence, StreamContext, VideoChunk

log = logging.getLogger(__name__)

ChunkSource = Callable[[str, ContextConfig], Iterable[VideoChunk]]
ModelFactory = Callable[[], StreamingModel]
RESULTS = "results.jsonl"
SESSIONS = "sessions.jsonl"
RUN_META = "run.json"
NO_ANSWER = "(no answer)"
"""Stands for the previous answer in a ``##ANSWER##`` question when the model gave none."""
MAX_TRANSCRIPT = 10_000
"""Stream mode keeps at most this many responses per session (a bound over any stream length)."""


def default_chunk_source(path: str, config: ContextConfig) -> Iterable[VideoChunk]:
    """Chunks of a video file from ``aura.video`` (decoded lazily, resampled to the context's fps)."""
    from aura.video.chunks import iter_chunks

    return iter_chunks(path, config)


class EvalConfig(BaseModel):
    """How a run is done: mode, evaluation window, stream patience, parallelism."""

    model_config = ConfigDict(extra="forbid")

    mode: Mode = "protocol"
    window_chunks: int = Field(30, ge=1, description="protocol: chunks of video context per query (N)")
    patience_s: float = Field(5.0, gt=0, description="stream: seconds after a question in which its answer counts")
    workers: int = Field(1, ge=1, le=64)
    lookahead_chunks: int = Field(8, ge=1, le=120, description="chunks read ahead to know where a video ends")
    fps: float = Field(2.0, gt=0)
    chunk_seconds: float = Field(1.0, gt=0)

    def stream_config(self) -> ContextConfig:
        """The chunking configuration videos are decoded with."""
        return ContextConfig(fps=self.fps, chunk_seconds=self.chunk_seconds)


def chunk_of(t: float, chunk_seconds: float = 1.0) -> int:
    """The chunk whose reply answers a question at time ``t``: the one ending at or after ``t``."""
    return max(0, math.ceil(t / chunk_seconds - 1e-9) - 1)


def with_lookahead(chunks: Iterable[VideoChunk], n: int) -> Iterator[tuple[VideoChunk, float | None]]:
    """Yield ``(chunk, duration)``: ``duration`` (the last chunk's end) is known for the last ``n`` chunks.

    If the source fails midway, the chunks already read are still yielded (with the duration
    they reach), then the error is raised.
    """
    buf: deque[VideoChunk] = deque()
    error: BaseException | None = None
    it = iter(chunks)
    try:
        for ch in it:
            buf.append(ch)
            if len(buf) > n:
                yield buf.popleft(), None
    except Exception as exc:  # decoding failed: flush what we have, then report it
        error = exc
    finally:
        close = getattr(it, "close", None)
        if close is not None:
            close()  # release the decoder now, also when the consumer stops early
    duration = buf[-1].end if buf else None
    while buf:
        yield buf.popleft(), duration
    if error is not None:
        raise error


def fit(text: str, model: StreamingModel) -> str:
    """A prompt cut to the model's question limit (keeping its end, where the question and options are)."""
    limit = model.context_config.max_question_chars
    return text if len(text) <= limit else text[-limit:].lstrip()


def force_silence(model: StreamingModel, chunk: VideoChunk, question: str | None = None) -> StepResult:
    """Teacher-force a silent turn: start the step and cancel before any text (recorded as silence)."""
    gen = model.begin_step(chunk, question)
    gen.cancel()
    return gen.finish()


def error_text(exc: BaseException) -> str:
    """One line for a per-item error (user errors as they are; anything else names its type)."""
    first = (str(exc).splitlines() or [""])[0][:300]
    return first if isinstance(exc, AuraError) else f"{type(exc).__name__}: {first}"


@dataclass
class _ItemRun:
    item: Item
    probes: list[Probe] = field(default_factory=list)
    results: list[dict[str, Any]] = field(default_factory=list)
    next_probe: int = 0
    poll_time: float | None = None
    polls: int = 0
    poll_s: float = 0.0

    def __post_init__(self) -> None:
        # absolute times first, in time order; "from the end" ones after them
        self.probes = sorted(self.item.probes, key=lambda p: (p.from_end, -p.time if p.from_end else p.time))

    @property
    def done(self) -> bool:
        return self.next_probe >= len(self.probes)

    def previous_response(self) -> str:
        return str(self.results[-1].get("response") or NO_ANSWER) if self.results else NO_ANSWER


def _target(time_s: float, from_end: bool, duration: float | None) -> float | None:
    if not from_end:
        return time_s
    return None if duration is None else max(0.0, duration - time_s)


class Runner:
    """Runs items of one benchmark in one mode, resumably, writing ``results.jsonl`` in ``out_dir``."""

    def __init__(
        self,
        model_factory: ModelFactory,
        config: EvalConfig | None = None,
        *,
        chunk_source: ChunkSource | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.model_factory = model_factory
        self.config = config or EvalConfig()
        if self.config.mode not in MODES:
            raise EvalError(f"unknown mode {self.config.mode!r}")
        self.chunk_source = chunk_source or default_chunk_source
        self.clock = clock
        self._local = threading.local()
        self._lock = threading.Lock()
        self._warned_force = False

    # ------------------------------------------------------------------ orchestration
    def run(self, items: list[Item], out_dir: str | Path, *, progress: bool = True,
            meta: dict[str, Any] | None = None) -> dict[str, int]:
        """Run every item not already finished in ``out_dir``; return counts (done, skipped, errors)."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        self._check_meta(out, meta or {})
        drop_partial_line(out / RESULTS)
        finished = finished_ids(out / RESULTS)
        pending = [it for it in items if it.id not in finished]
        by_video: dict[str, list[Item]] = {}
        for it in items:
            by_video.setdefault(it.video, []).append(it)
        jobs = [(video, group) for video, group in by_video.items() if any(it.id not in finished for it in group)]
        counts = {"items": len(items), "skipped": len(items) - len(pending), "done": 0, "errors": 0}
        bar = _progress(len(pending), f"{(meta or {}).get('benchmark', 'eval')} {self.config.mode}", progress)

        def job(video: str, group: list[Item]) -> None:
            todo = {it.id for it in group if it.id not in finished}
            for row in self._run_video(video, group, todo, out):
                with self._lock:
                    append_jsonl(out / RESULTS, row)
                    counts["done" if row["status"] == "ok" else "errors"] += 1
                    bar.update(1)

        try:
            with ThreadPoolExecutor(max_workers=self.config.workers, thread_name_prefix="aura-eval") as pool:
                futures = [pool.submit(job, v, g) for v, g in jobs]
                for f in as_completed(futures):
                    f.result()
        finally:
            bar.close()
        return counts

    def _check_meta(self, out: Path, meta: dict[str, Any]) -> None:
        path = out / RUN_META
        meta = {**meta, "mode": self.config.mode, "config": self.config.model_dump()}
        if path.is_file():
            try:
                old = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                old = {}
            for key in ("benchmark", "mode", "model"):
                if key in old and key in meta and old[key] != meta[key]:
                    raise EvalError(f"{out} holds a {old.get('benchmark')} {old.get('mode')} run of "
                                    f"{old.get('model', '?')}; use another output directory for "
                                    f"{meta.get('benchmark')} {meta['mode']} of {meta.get('model', '?')}")
        atomic_write_text(path, json.dumps(meta, indent=2, default=str) + "\n")

    def _model(self) -> StreamingModel:
        model = getattr(self._local, "model", None)
        if model is None:
            model = self.model_factory()
            self._local.model = model
        return model

    def _run_video(self, video: str, group: list[Item], todo: set[str], out: Path) -> Iterator[dict[str, Any]]:
        emitted: set[str] = set()
        try:
            model = self._model()
            mc = model.context_config
            if (mc.fps, mc.chunk_seconds) != (self.config.fps, self.config.chunk_seconds):
                raise EvalError(f"{model.name} reads {mc.fps:g} fps in {mc.chunk_seconds:g}-s chunks; "
                                f"the run decodes {self.config.fps:g} fps in {self.config.chunk_seconds:g}-s chunks")
            runner = self._protocol if self.config.mode == "protocol" else self._stream
            for row in runner(model, video, group, todo, out):
                emitted.add(row["item_id"])
                yield row
        except Exception as exc:  # the video (or the model on it) failed: report each unfinished item
            if not isinstance(exc, AuraError | OSError):
                log.warning("evaluation of %s failed", video, exc_info=True)
            msg = error_text(exc)
            for it in group:
                if it.id in todo and it.id not in emitted:
                    yield self._error_row(it, msg)

    def _row(self, item: Item, **fields: Any) -> dict[str, Any]:
        return {"benchmark": item.benchmark, "mode": self.config.mode, "item_id": item.id, "task": item.task,
                "category": item.category, "video": item.video, "status": "ok", "error": None,
                "gold": item.gold, **fields}

    def _error_row(self, item: Item, message: str) -> dict[str, Any]:
        return self._row(item, status="error", error=message)

    # ------------------------------------------------------------------ protocol mode
    def _ask(self, model: StreamingModel, window: list[VideoChunk], prompt: str,
             held_at: int | None = None) -> tuple[StepResult, float, float]:
        """Reset, teacher-force ``window[:-1]`` silent, ask ``prompt`` with the last chunk.

        With ``held_at`` the prompt is not asked at the end but attached (silently) to the turn of
        chunk ``held_at`` (or the window's first turn if that chunk scrolled out). Returns the
        result, the seconds of the asking step, and the seconds of the whole query.
        """
        start = self.clock()
        model.reset()
        if held_at is not None:
            held_at = max(held_at, window[0].index)
        for ch in window[:-1]:
            res = force_silence(model, ch, prompt if ch.index == held_at else None)
            if not res.silent and not self._warned_force:
                self._warned_force = True
                log.warning("%s did not record a cancelled step as silence", model.name)
        t0 = self.clock()
        res = model.step(window[-1], None if held_at is not None else prompt)
        end = self.clock()
        return res, end - t0, end - start

    def _protocol(self, model: StreamingModel, video: str, group: list[Item], todo: set[str],
                  out: Path) -> Iterator[dict[str, Any]]:
        cfg = self.config
        n = cfg.window_chunks
        buffer = StreamContext(ContextConfig(fps=cfg.fps, chunk_seconds=cfg.chunk_seconds, policy="fifo",
                                             window_chunks=n + cfg.lookahead_chunks, history_groups=0))
        runs = [_ItemRun(it) for it in group if it.id in todo]
        last: VideoChunk | None = None
        source = with_lookahead(self.chunk_source(video, cfg.stream_config()), cfg.lookahead_chunks)
        for chunk, duration in source:
            buffer.feed(chunk)
            buffer.feed(Silence(chunk.end))
            last = chunk
            chunks = [t.chunk for t in buffer.window]
            for run in list(runs):
                failed = self._advance_safely(model, run, chunk, duration, chunks, final=False)
                if failed or run.done:
                    runs.remove(run)
                    yield failed or self._row(run.item, probes=run.results)
            if not runs:
                return
        if last is None:
            raise EvalError(f"{video}: no video chunks")
        chunks = [t.chunk for t in buffer.window]
        for run in runs:
            failed = self._advance_safely(model, run, last, last.end, chunks, final=True)
            yield failed or self._row(run.item, probes=run.results)

    def _advance_safely(self, model: StreamingModel, run: _ItemRun, chunk: VideoChunk, duration: float | None,
                        chunks: list[VideoChunk], *, final: bool) -> dict[str, Any] | None:
        """Advance one item; a failing query fails that item only (its error row), not the video."""
        try:
            self._advance(model, run, chunk, duration, chunks, final=final)
        except Exception as exc:  # each query starts from reset(), so the next item is unaffected
            if not isinstance(exc, AuraError):
                log.warning("query of item %s failed", run.item.id, exc_info=True)
            return self._error_row(run.item, error_text(exc))
        return None

    def _advance(self, model: StreamingModel, run: _ItemRun, chunk: VideoChunk, duration: float | None,
                 chunks: list[VideoChunk], *, final: bool) -> None:
        """Ask every probe of ``run`` that is due at ``chunk`` (all remaining ones when ``final``)."""
        c = self.config.chunk_seconds
        while not run.done:
            probe = run.probes[run.next_probe]
            target = _target(probe.time, probe.from_end, duration)
            if target is None and not final:
                return
            target = chunk.end if target is None else target
            polling = probe.until is not None or probe.until_end
            if polling:
                if self._poll(model, run, probe, chunk, duration, chunks, final=final):
                    continue
                return
            idx = chunk_of(target, c)
            if idx > chunk.index and not final:
                return
            idx = min(idx, chunk.index)
            window = [ch for ch in chunks if ch.index <= idx][-self.config.window_chunks:] or [chunk]
            prompt = fit(probe.prompt.replace(ANSWER_PLACEHOLDER, run.previous_response()), model)
            res, dt, query_s = self._ask(model, window, prompt)
            said = res.text.strip() if not res.silent else ""
            run.results.append({
                "key": probe.key, "time": target, "chunk": window[-1].index, "asked_at": window[-1].end,
                "response": said, "silent": not said, "answered_at": window[-1].end if said else None,
                "clamped": chunk_of(target, c) > window[-1].index, "step_s": dt, "query_s": query_s,
                "ttft_s": res.timings.ttft_s or None,
            })
            run.next_probe += 1

    def _poll(self, model: StreamingModel, run: _ItemRun, probe: Probe, chunk: VideoChunk,
              duration: float | None, chunks: list[VideoChunk], *, final: bool) -> bool:
        """One poll of a polling probe at ``chunk``; True when the probe is finished."""
        c = self.config.chunk_seconds
        if run.poll_time is None:
            run.poll_time, run.polls = probe.time + (c if probe.hold else 0.0), 0
        last_poll = chunk_of(probe.until, c) if probe.until is not None else math.inf
        finished = final or chunk_of(run.poll_time, c) > last_poll
        if not finished and chunk_of(run.poll_time, c) <= chunk.index:
            window = [ch for ch in chunks if ch.index <= chunk.index][-self.config.window_chunks:]
            held = chunk_of(probe.time, c) if probe.hold else None
            res, dt, query_s = self._ask(model, window, fit(probe.prompt, model), held)
            run.poll_s += query_s
            run.polls += 1
            said = res.text.strip() if not res.silent else ""
            hit = bool(said) and (probe.stop_on == "reply" or "yes" in said.lower())
            if hit:
                follow = None
                if probe.follow_up:
                    fres, _, follow_s = self._ask(model, window, fit(probe.follow_up, model))
                    run.poll_s += follow_s
                    follow = fres.text.strip() if not fres.silent else ""
                self._finish_poll(run, probe, chunk.end, said, follow, dt, res)
                return True
            run.poll_time = chunk.end + c * 0.5
            finished = chunk_of(run.poll_time, c) > last_poll or (
                duration is not None and chunk.end >= duration and not probe.until_end)
        if finished:
            self._finish_poll(run, probe, None, "", None, 0.0, None)
            return True
        return False

    def _finish_poll(self, run: _ItemRun, probe: Probe, at: float | None, said: str, follow: str | None,
                     dt: float, res: StepResult | None) -> None:
        run.results.append({
            "key": probe.key, "time": probe.time, "polls": run.polls, "response": said, "silent": not said,
            "answered_at": at, "follow_up": follow, "step_s": dt, "query_s": run.poll_s,
            "ttft_s": (res.timings.ttft_s or None) if res is not None else None,
        })
        run.next_probe += 1
        run.poll_time, run.poll_s = None, 0.0

    # ------------------------------------------------------------------ stream mode
    def _stream(self, model: StreamingModel, video: str, group: list[Item], todo: set[str],
                out: Path) -> Iterator[dict[str, Any]]:
        cfg, c = self.config, self.config.chunk_seconds
        model.reset()
        injected: dict[str, list[dict[str, Any]]] = {it.id: [] for it in group}
        said: deque[tuple[float, str, frozenset[str]]] = deque(maxlen=MAX_TRANSCRIPT)
        codes: list[str] = []
        steps: list[float] = []
        ttfts: list[float] = []
        open_items = list(group)
        last: VideoChunk | None = None
        limit = model.context_config.max_question_chars

        def horizon(it: Item) -> float:
            if it.to_end:
                return math.inf
            if it.horizon is not None:
                return it.horizon
            return max((i["asked_at"] for i in injected[it.id]), default=0.0) + cfg.patience_s

        def answer_to(it: Item, key: str, now: float) -> str:
            for inj in injected[it.id]:
                if inj["key"] == key:
                    return next((x for t, x, ids in said if inj["asked_at"] <= t <= now and _mine(it.id, ids)), "")
            return ""

        def finish(it: Item) -> dict[str, Any] | None:
            first = min((i["asked_at"] for i in injected[it.id]), default=math.inf)
            end = horizon(it)
            kept = [[t, x] for t, x, ids in said if first <= t <= end and _mine(it.id, ids)]
            if it.id not in todo:
                return None
            return self._row(it, injections=injected[it.id], transcript=kept, patience=cfg.patience_s)

        source = with_lookahead(self.chunk_source(video, cfg.stream_config()), cfg.lookahead_chunks)
        for chunk, duration in source:
            last = chunk
            last_index = chunk_of(duration, c) if duration is not None else None
            texts: list[str] = []
            asked_now: set[str] = set()
            for it in group:
                done_keys = {i["key"] for i in injected[it.id]}
                for inj in it.injections:
                    if inj.key in done_keys:
                        continue
                    target = _target(inj.time, inj.from_end, duration)
                    if target is None:
                        continue
                    idx = chunk_of(target, c)
                    if last_index is not None:
                        idx = min(idx, last_index)
                    if idx > chunk.index:
                        continue
                    prev = injected[it.id][-1]["key"] if injected[it.id] else None
                    previous = (answer_to(it, prev, chunk.end) if prev else "") or NO_ANSWER
                    text = fit(inj.text.replace(ANSWER_PLACEHOLDER, previous), model)
                    if texts and len("\n".join([*texts, text])) > limit:
                        continue  # no room in this chunk's question: it goes into the next chunk
                    texts.append(text)
                    asked_now.add(it.id)
                    injected[it.id].append(
                        {"key": inj.key, "time": target, "chunk": chunk.index, "asked_at": chunk.end})
            t0 = self.clock()
            res = model.step(chunk, "\n".join(texts) if texts else None)
            steps.append(self.clock() - t0)
            reply = res.text.strip() if not res.silent else ""
            pending = any(injected[it.id] and chunk.end <= horizon(it) for it in group)
            if reply:
                said.append((chunk.end, reply, frozenset(asked_now)))
                ttfts.append(res.timings.ttft_s or steps[-1])
                codes.append("a" if pending or texts else "u")
            else:
                codes.append("s")
            for it in list(open_items):
                all_in = len(injected[it.id]) == len(it.injections)
                if all_in and chunk.end >= horizon(it):
                    open_items.remove(it)
                    row = finish(it)
                    if row is not None:
                        yield row
            if not open_items:
                break
        if last is None:
            raise EvalError(f"{video}: no video chunks")
        for it in open_items:
            row = finish(it)
            if row is not None:
                yield row
        with self._lock:
            append_jsonl(out / SESSIONS, {"video": video, "mode": "stream", "model": model.name,
                                          "chunks": len(codes), "codes": "".join(codes),
                                          "step_s": steps, "ttft_s": ttfts})


def _mine(item_id: str, asked_now: frozenset[str]) -> bool:
    """Stream attribution: a reply belongs to the questions asked in its chunk, or (none asked) to all waiting."""
    return not asked_now or item_id in asked_now


def drop_partial_line(path: Path) -> bool:
    """Cut a half-written last line (a run killed mid-append) off a JSONL file; True if one was cut."""
    if not path.is_file() or path.stat().st_size == 0:
        return False
    with open(path, "rb+") as f:
        f.seek(-1, 2)
        if f.read(1) == b"\n":
            return False
        data = f.seek(0) or f.read()
        keep = data.rfind(b"\n") + 1
        f.truncate(keep)
    log.warning("%s: dropped a half-written last line (%d bytes)", path, len(data) - keep)
    return True


def finished_ids(path: Path) -> set[str]:
    """Ids of items with an ``ok`` row in a results file (the last row per item wins)."""
    status: dict[str, str] = {}
    if path.is_file():
        for _, row in iter_jsonl(path, skip_bad=True):
            if isinstance(row, dict) and "item_id" in row:
                status[str(row["item_id"])] = str(row.get("status"))
    return {k for k, v in status.items() if v == "ok"}


def latest_rows(path: Path) -> list[dict[str, Any]]:
    """The rows of a results file, keeping only the last row of each item (in first-seen order)."""
    rows: dict[str, dict[str, Any]] = {}
    for _, row in iter_jsonl(path, skip_bad=True):
        if isinstance(row, dict) and "item_id" in row:
            rows[str(row["item_id"])] = row
    return list(rows.values())


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def _progress(total: int, desc: str, enabled: bool) -> Any:
    if not enabled:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="item", dynamic_ncols=True)
