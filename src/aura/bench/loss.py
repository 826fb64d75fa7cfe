"""``aura bench loss``: the cost of the Silent-Speech Balanced Loss versus plain cross-entropy.

On the tiny CPU configuration (a tiny random Qwen3-VL built in a temporary directory, samples
unrolled from the bundled demo timeline, synthetic frames), the same micro-batches are trained
with each loss in turn: forward, loss, backward, AdamW step. Variants are interleaved within
each repeat so drift on a shared machine hits them alike; the report gives medians over the
repeats, plus the loss computation alone on fixed logits. Everything runs in one process.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from aura.bench import machine
from aura.train.loss import IGNORE_INDEX, labels_from, stream_loss, supervision

VARIANTS = ("balanced", "plain", "reference_ce")
"""balanced / plain: ``aura.train.loss`` variants; reference_ce: ``F.cross_entropy`` mean over the
plain variant's tokens (what a stock trainer computes), as a floor."""


def _reference_ce(logits: torch.Tensor, input_ids: torch.Tensor, kinds: torch.Tensor,
                  n_silent: torch.Tensor) -> torch.Tensor:
    mask, _ = supervision(kinds, n_silent, "plain")
    labels = labels_from(input_ids, mask)
    return F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]).float(), labels[:, 1:].reshape(-1),
                           ignore_index=IGNORE_INDEX)


def _loss_fn(variant: str) -> Callable[..., torch.Tensor]:
    if variant == "reference_ce":
        return _reference_ce
    return lambda logits, ids, kinds, n_silent: stream_loss(logits, ids, kinds, n_silent, variant).loss  # type: ignore[arg-type]




def _demo_samples() -> list[dict[str, Any]]:
    from aura.fileio import read_json
    from aura.stream import ContextConfig, Timeline, unroll

    data = read_json(Path(str(resources.files("aura") / "assets" / "demo_timeline.json")))
    cfg = ContextConfig(window_chunks=8, float_chunks=4, history_groups=4)
    return [s.model_dump(mode="json") for s in unroll(Timeline.model_validate(data), cfg)]


def run_loss_bench(*, repeats: int = 20, warmup: int = 2, micro_batch_size: int = 2, threads: int | None = 1,
                   model_dir: str | None = None, device: str = "cpu") -> dict[str, Any]:
    """Time training steps and loss-only calls per variant; return medians (ms) and paired overheads.

    ``threads`` sets ``torch.set_num_threads`` for the run (None leaves it). Builds a tiny
    Qwen3-VL in a temporary directory unless ``model_dir`` names a checkpoint. ``device`` is
    where the model runs (``cpu`` or ``cuda``); CUDA timings synchronise before reading the clock.
    """
    dev = torch.device(device)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    from aura.train.config import DataConfig, ModelConfig
    from aura.train.data import BatchBuilder, Plan, plan_micro_batches
    from aura.train.frames import SyntheticFrames
    from aura.train.model import apply_freezing, load_for_training

    if threads is not None:
        torch.set_num_threads(threads)
    with tempfile.TemporaryDirectory() as tmp:
        if model_dir is None:
            from aura.models.hf.tiny import build_tiny_checkpoint

            model_dir = str(build_tiny_checkpoint(Path(tmp) / "tiny", "qwen3_vl", hidden_size=32, vision_hidden=32,
                                                  vision_depth=1))
        mcfg = ModelConfig(path=model_dir)
        loaded = load_for_training(mcfg)
    model = loaded.model.to(dev)
    model.config.use_cache = False
    apply_freezing(model, mcfg)
    dcfg = DataConfig(train="-", frames="synthetic", synthetic_size=32)
    builder = BatchBuilder(loaded.chat_format, SyntheticFrames(32, 32), loaded.preprocess,
                           max_length=dcfg.max_length, pad_id=loaded.pad_id)
    samples = _demo_samples()
    plan = Plan(micro_batch_size, 8, seed=0)
    batches = [builder.build(rows).to(dev) for rows in plan_micro_batches(iter(enumerate(samples, 1)), plan, 0)]
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5)
    model.train()

    def step(variant: str, b: Any) -> tuple[float, float]:
        fn = _loss_fn(variant)
        sync()
        w0, c0 = time.perf_counter(), time.process_time()
        out = model(**b.model_inputs(), use_cache=False)
        loss = fn(out.logits, b.input_ids, b.kinds, b.n_silent)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        sync()
        return time.perf_counter() - w0, time.process_time() - c0

    with torch.no_grad():
        fixed = [model(**b.model_inputs(), use_cache=False).logits.detach() for b in batches]

    def loss_only(variant: str, logits: torch.Tensor, b: Any) -> tuple[float, float]:
        fn = _loss_fn(variant)
        sync()
        w0, c0 = time.perf_counter(), time.process_time()
        lg = logits.requires_grad_(True)
        fn(lg, b.input_ids, b.kinds, b.n_silent).backward()
        lg.grad = None
        sync()
        return time.perf_counter() - w0, time.process_time() - c0

    # Every micro-batch is stepped with each variant back to back (rotating who goes first), so
    # each (repeat, micro-batch) gives a paired comparison that drift on a shared machine cannot bias.
    rec: dict[str, dict[str, list[float]]] = {k: {v: [] for v in VARIANTS} for k in
                                              ("step_wall", "step_cpu", "loss_wall", "loss_cpu")}
    for r in range(warmup + repeats):
        for i, b in enumerate(batches):
            k = (r + i) % len(VARIANTS)
            for v in VARIANTS[k:] + VARIANTS[:k]:
                sw, sc = step(v, b)
                lw, lc = loss_only(v, fixed[i], b)
                if r >= warmup:
                    for key, val in (("step_wall", sw), ("step_cpu", sc), ("loss_wall", lw), ("loss_cpu", lc)):
                        rec[key][v].append(val * 1000)

    def med(key: str) -> dict[str, float]:
        return {v: statistics.median(x) for v, x in rec[key].items()}

    def paired(key: str, a: str, b: str) -> float:
        return statistics.median(x / y for x, y in zip(rec[key][a], rec[key][b], strict=True) if y > 0) - 1.0

    tokens = sum(int(b.attention_mask.sum()) for b in batches) / len(batches)
    clock = "step_wall" if dev.type == "cuda" else "step_cpu"
    return {
        "command": "aura bench loss",
        "date": time.strftime("%Y-%m-%d", time.gmtime()),
        "machine": machine() + (f", {torch.cuda.get_device_name(dev)}" if dev.type == "cuda" else ""),
        "device": dev.type,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "repeats": repeats,
        "micro_batches": len(batches),
        "micro_batch_size": micro_batch_size,
        "tokens_per_micro_batch": tokens,
        "vocab": int(model.config.get_text_config().vocab_size),
        "step_ms_wall": med("step_wall"),
        "step_ms_cpu": med("step_cpu"),
        "loss_ms_wall": med("loss_wall"),
        "loss_ms_cpu": med("loss_cpu"),
        "overhead_clock": clock,
        "step_overhead_balanced_vs_plain": paired(clock, "balanced", "plain"),
        "step_overhead_balanced_vs_reference_ce": paired(clock, "balanced", "reference_ce"),
    }


def format_report(res: dict[str, Any]) -> str:
    """A Markdown table of a ``run_loss_bench`` result."""
    lines = [
        f"aura bench loss — {res['date']}, {res['machine']}, {res['device']}, torch {res['torch']}, "
        f"{res['threads']} thread(s), {res['micro_batches']} micro-batches of {res['micro_batch_size']} "
        f"(~{res['tokens_per_micro_batch']:.0f} tokens), median of {res['repeats']} repeats",
        "",
        "| loss | step wall (ms) | step CPU (ms) | loss fwd+bwd wall (ms) | loss fwd+bwd CPU (ms) |",
        "|---|---:|---:|---:|---:|",
    ]
    for v in VARIANTS:
        lines.append(f"| {v} | {res['step_ms_wall'][v]:.2f} | {res['step_ms_cpu'][v]:.2f} | "
                     f"{res['loss_ms_wall'][v]:.3f} | {res['loss_ms_cpu'][v]:.3f} |")
    lines.append("")
    clock = "wall" if res["overhead_clock"] == "step_wall" else "CPU"
    lines.append(f"step overhead (median of paired per-micro-batch ratios, {clock} time): balanced vs plain "
                 f"{res['step_overhead_balanced_vs_plain']:+.1%}; balanced vs reference_ce "
                 f"{res['step_overhead_balanced_vs_reference_ce']:+.1%} (goal: at most +5%)")
    return "\n".join(lines)


def main_loss(repeats: int, threads: int | None, as_json: bool, model_dir: str | None = None,
              device: str = "cpu") -> int:
    """Run the benchmark and print the report (or JSON)."""
    res = run_loss_bench(repeats=repeats, threads=threads, model_dir=model_dir, device=device)
    print(json.dumps(res, indent=2) if as_json else format_report(res))
    return 0
