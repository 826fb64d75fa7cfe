"""``aura bench rtf``: per-chunk step latency of a streaming model on a video, and its real-time factor.

The video is decoded up front (decoding is not the model's cost), then streamed through
``aura.watch.watch`` with its scheduled questions; every step (prefill, decode of any reply,
bookkeeping) is timed. RTF = mean step time / chunk duration (1 s): below 1 keeps up with live.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from aura.bench import machine
from aura.stream import ContextConfig


def run_rtf(model_spec: str, video: Path, questions: Path | None, *, threads: int | None = 1,
            max_new_tokens: int = 64) -> dict[str, Any]:
    """Step latencies (s) of ``model_spec`` on ``video`` with the questions in ``questions``."""
    import torch

    from aura.models.registry import load_model
    from aura.video import iter_chunks
    from aura.watch import check_schedule, load_questions, watch

    if threads:
        torch.set_num_threads(threads)
    config = ContextConfig()
    model = load_model(model_spec, config, max_new_tokens=max_new_tokens)
    chunks = list(iter_chunks(str(video), config))
    qs = check_schedule(load_questions(str(questions)) if questions else [], chunks[-1].end)
    steps: list[float] = []
    replies: list[float] = []
    original = model.begin_step

    def timed(chunk: Any, question: str | None = None) -> Any:
        start = time.perf_counter()
        gen = original(chunk, question)
        finish = gen.finish

        def finished() -> Any:
            result = finish()
            elapsed = time.perf_counter() - start
            steps.append(elapsed)
            if not result.silent:
                replies.append(elapsed)
            return result

        gen.finish = finished  # type: ignore[method-assign]
        return gen

    model.begin_step = timed  # type: ignore[method-assign]
    watch(model, chunks, qs, lambda e: None)
    arr = np.asarray(steps)
    return {
        "model": model.name, "machine": machine(), "video": str(video), "chunks": len(steps), "replies": len(replies),
        "torch_threads": torch.get_num_threads(),
        "step_ms": {k: float(np.percentile(arr, q) * 1000) for k, q in (("p50", 50), ("p90", 90), ("p99", 99))}
        | {"mean": float(arr.mean() * 1000), "max": float(arr.max() * 1000)},
        "reply_step_ms_p50": float(np.percentile(replies, 50) * 1000) if replies else None,
        "rtf": float(arr.mean() / config.chunk_seconds),
    }


def main_rtf(model_spec: str, video: str | None, questions: str | None, threads: int, as_json: bool,
             max_new_tokens: int) -> int:
    """Print the latency table (or JSON) for ``aura bench rtf``."""
    from aura.world.sample import assets_dir

    v = Path(video) if video else assets_dir() / "sample.mp4"
    q = Path(questions) if questions else (assets_dir() / "sample_questions.json" if not video else None)
    out = run_rtf(model_spec, v, q, threads=threads or None, max_new_tokens=max_new_tokens)
    if as_json:
        print(json.dumps(out, indent=2))
        return 0
    s = out["step_ms"]
    print(f"{out['model']} on {out['video']}: {out['chunks']} chunks, {out['replies']} replies, "
          f"{out['torch_threads']} torch thread(s); {out['machine']}")
    print("| step latency | p50 | p90 | p99 | max | mean | RTF |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    print(f"| ms per 1-s chunk | {s['p50']:.1f} | {s['p90']:.1f} | {s['p99']:.1f} | {s['max']:.1f} | "
          f"{s['mean']:.1f} | {out['rtf']:.3f} |")
    return 0
