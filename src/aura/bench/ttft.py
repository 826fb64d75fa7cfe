"""``aura bench ttft``: time to first token per step under the floating, FIFO and unbounded windows.

Every policy sees the same synthetic stream (seeded random frames, questions at fixed seconds).
The policies run in lockstep (step k of each policy, then step k+1), so drift on a shared
machine hits them alike. Per policy the report gives TTFT (mean, p50, p90, max), prefilled and
reused tokens per step, the process CPU time of the prefill (robust to other processes on a shared
machine), the fraction of prompt tokens reused, and that reuse against its ideal
bound: every token of the previous prompt between evictions, none at an eviction. Ratios are
taken against ``floating``. The model is random (built in a temp dir): vision tokens dominate as
in real use (64 per chunk), and the numbers measure the cache policy, not the model's answers.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from aura.bench import machine
from aura.errors import ConfigError
from aura.models.base import StreamingModel
from aura.stream import ContextConfig, VideoChunk

POLICIES = ("floating", "fifo", "unbounded")
QUESTION_EVERY_S = 20
QUESTIONS = ("What is happening now?", "Tell me when the red square appears.", "How many objects are there?")


@dataclass
class PolicyRun:
    """Per-step measurements of one policy."""

    policy: str
    ttft_ms: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)  # process CPU time of begin_step (prefill, hf: first token)
    prefill: list[int] = field(default_factory=list)
    reused: list[int] = field(default_factory=list)
    ideal_reused: list[int] = field(default_factory=list)
    rebuilds: int = 0

    def summary(self) -> dict[str, Any]:
        """Aggregates of this run."""
        t = sorted(self.ttft_ms)
        total = sum(self.prefill) + sum(self.reused)
        return {
            "policy": self.policy,
            "steps": len(t),
            "ttft_mean_ms": statistics.fmean(t),
            "ttft_p50_ms": _pct(t, 50),
            "ttft_p90_ms": _pct(t, 90),
            "ttft_max_ms": t[-1],
            "ttft_cpu_mean_ms": statistics.fmean(self.cpu_ms),
            "prefill_tokens_mean": statistics.fmean(self.prefill),
            "reused_tokens_mean": statistics.fmean(self.reused),
            "reused_fraction": sum(self.reused) / total if total else 0.0,
            "reused_vs_ideal": sum(self.reused) / max(1, sum(self.ideal_reused)),
            "rebuilds": self.rebuilds,
        }


def _pct(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile."""
    k = max(0, min(len(sorted_values) - 1, int(np.ceil(q / 100 * len(sorted_values))) - 1))
    return float(sorted_values[k])


def synthetic_stream(seconds: int, size: int, seed: int = 0) -> list[tuple[VideoChunk, str | None]]:
    """``seconds`` one-second chunks of two seeded random size x size frames, questions every 20 s."""
    rng = np.random.default_rng(seed)
    out = []
    for k in range(seconds):
        frames = rng.integers(0, 256, (2, size, size, 3), dtype=np.uint8)
        q = QUESTIONS[(k // QUESTION_EVERY_S) % len(QUESTIONS)] if k % QUESTION_EVERY_S == 5 else None
        out.append((VideoChunk(k, float(k), float(k + 1), frames), q))
    return out


class _Factory:
    """Builds one streaming model per policy around a single set of random weights."""

    def __init__(self, backend: str, workdir: Path, max_new_tokens: int, seed: int) -> None:
        self.backend = backend
        self.max_new_tokens = max_new_tokens
        if backend == "hf":
            from aura.models.hf.loader import load_checkpoint
            from aura.models.hf.tiny import build_tiny_checkpoint

            path = build_tiny_checkpoint(workdir / "qwen3_vl", "qwen3_vl", hidden_size=256, num_layers=4,
                                         num_heads=4, vision_hidden=64, vision_depth=2, seed=seed,
                                         max_pixels=256 * 256)
            self.loaded = load_checkpoint(path)
            self.frame_size = 256  # 16x16 patches of 16 px -> 64 merged visual tokens per chunk
            self.describe = "tiny random Qwen3-VL: hidden 256, 4 layers, 4 heads; vision 64x2; 64 visual tokens/chunk"
        elif backend == "nano":
            import torch

            from aura.models.nano.config import NanoConfig
            from aura.models.nano.model import NanoVLM
            from aura.models.nano.tokenizer import train_tokenizer
            from aura.stream.config import SYSTEM_PROMPT

            self.tokenizer = train_tokenizer([SYSTEM_PROMPT, *QUESTIONS] * 4, vocab_size=512)
            fields = {"vocab_size": len(self.tokenizer), "d_model": 256, "n_layers": 4, "n_heads": 4,
                      "max_seq_len": 65536}
            if "grid" in NanoConfig.model_fields:
                fields["grid"] = 8  # an 8x8 = 64-token visual grid per chunk
            cfg = NanoConfig(**fields)
            size = cfg.image_size
            torch.manual_seed(seed)
            self.nano = NanoVLM(cfg, video_pad_id=self.tokenizer.convert_tokens_to_ids("<|video_pad|>"))
            self.frame_size = size
            self.describe = f"random aura-nano: d_model 256, 4 layers; {cfg.visual_tokens} visual tokens/chunk"
        else:
            raise ConfigError(f"unknown backend {backend!r} (hf or nano)")

    def model(self, config: ContextConfig) -> StreamingModel:
        if self.backend == "hf":
            from aura.models.hf.backend import HFStreamingModel

            return HFStreamingModel(self.loaded, config, max_new_tokens=self.max_new_tokens)
        from aura.models.nano.streaming import NanoStreamingModel

        return NanoStreamingModel(self.nano, self.tokenizer, config, max_new_tokens=self.max_new_tokens)

    def prompt_tokens(self, model: StreamingModel) -> int:
        """Tokens of the current prompt messages (the open turn included), encoded independently of any cache."""
        messages = model.context.messages()
        hf = self.backend == "hf"
        enc = model.engine.encode(messages, model.pixels) if hf else model.encode(messages)  # type: ignore[attr-defined]
        return sum(len(e.input_ids) for e in enc)


def run(backend: str, policies: Sequence[str], seconds: int, *, window: int = 30, float_chunks: int = 15,
        max_new_tokens: int = 4, seed: int = 0, warmup: int = 3) -> dict[str, Any]:
    """Run the benchmark; return the per-policy summaries, ratios and the setup."""
    for p in policies:
        if p not in POLICIES:
            raise ConfigError(f"unknown policy {p!r} ({', '.join(POLICIES)})")
    if seconds < 1:
        raise ConfigError("--seconds must be at least 1")
    with tempfile.TemporaryDirectory(prefix="aura-bench-ttft-") as tmp:
        factory = _Factory(backend, Path(tmp), max_new_tokens, seed)
        stream = synthetic_stream(seconds, factory.frame_size, seed)
        warm = factory.model(ContextConfig(window_chunks=window, float_chunks=float_chunks))
        for chunk, q in synthetic_stream(warmup, factory.frame_size, seed + 1):
            warm.step(chunk, q)
        models = {p: factory.model(ContextConfig(policy=p, window_chunks=window, float_chunks=float_chunks))
                  for p in policies}
        runs = {p: PolicyRun(p) for p in policies}
        previous = dict.fromkeys(policies, 0)
        for chunk, q in stream:
            for p, m in models.items():
                evictions = m.context.evictions
                cpu = time.process_time()
                gen = m.begin_step(chunk, q)
                cpu = time.process_time() - cpu
                evicted = m.context.evictions != evictions
                prompt = factory.prompt_tokens(m)
                r = gen.finish()
                run_ = runs[p]
                run_.ttft_ms.append(r.timings.ttft_s * 1000)
                run_.cpu_ms.append(cpu * 1000)
                run_.prefill.append(r.timings.prefill_tokens)
                run_.reused.append(r.timings.reused_tokens)
                run_.ideal_reused.append(0 if evicted else previous[p])
                run_.rebuilds += int(r.timings.cache_rebuilt)
                previous[p] = prompt
        summaries = {p: runs[p].summary() for p in policies}
    ratios = {}
    if "floating" in summaries:
        base = summaries["floating"]
        for p, s in summaries.items():
            if p != "floating":
                ratios[f"{p}/floating"] = {
                    "ttft_mean": s["ttft_mean_ms"] / base["ttft_mean_ms"],
                    "ttft_cpu_mean": s["ttft_cpu_mean_ms"] / base["ttft_cpu_mean_ms"],
                    "prefill_tokens": s["prefill_tokens_mean"] / max(1e-9, base["prefill_tokens_mean"]),
                }
    import torch

    return {
        "backend": backend,
        "model": factory.describe,
        "seconds": seconds,
        "window": window,
        "float_chunks": float_chunks,
        "max_new_tokens": max_new_tokens,
        "torch_threads": torch.get_num_threads(),
        "machine": machine(),
        "date": time.strftime("%Y-%m-%d", time.gmtime()),
        "policies": summaries,
        "ratios": ratios,
    }




def format_table(result: dict[str, Any]) -> str:
    """The result as a Markdown table plus the ratio lines."""
    lines = [
        "| policy | steps | TTFT mean ms | p50 | p90 | max | prefill CPU ms | prefill tok/step | "
        "reused tok/step | reused % | reused vs ideal | rebuilds |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in result["policies"].values():
        lines.append(
            f"| {s['policy']} | {s['steps']} | {s['ttft_mean_ms']:.1f} | {s['ttft_p50_ms']:.1f} | "
            f"{s['ttft_p90_ms']:.1f} | {s['ttft_max_ms']:.1f} | {s['ttft_cpu_mean_ms']:.1f} | "
            f"{s['prefill_tokens_mean']:.0f} | "
            f"{s['reused_tokens_mean']:.0f} | {100 * s['reused_fraction']:.1f} | "
            f"{100 * s['reused_vs_ideal']:.1f}% | {s['rebuilds']} |"
        )
    for name, r in result["ratios"].items():
        lines.append(f"\n{name}: mean TTFT x{r['ttft_mean']:.2f} (CPU x{r['ttft_cpu_mean']:.2f}), "
                     f"prefilled tokens x{r['prefill_tokens']:.2f}")
    return "\n".join(lines)


def main_ttft(backend: str, policies: Sequence[str], seconds: int, as_json: bool, threads: int | None,
              **kwargs: Any) -> int:
    """CLI entry: run and print the table (or JSON)."""
    import torch

    if threads:
        torch.set_num_threads(threads)
    result = run(backend, policies, seconds, **kwargs)
    if as_json:
        print(json.dumps(result, indent=2))
    else:
        print(f"aura bench ttft: backend {backend} ({result['model']}), {seconds} s stream, "
              f"N={result['window']}, N'={result['float_chunks']}, {result['torch_threads']} torch thread(s), "
              f"{result['machine']}, {result['date']}\n")
        print(format_table(result))
    return 0
