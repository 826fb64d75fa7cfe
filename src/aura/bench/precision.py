"""``aura bench precision``: a nano decoder training step in float32 and under bfloat16 autocast.

What stages 1 and 2 of ``aura train nano`` spend their time on (the frame encoder is frozen and
its output cached there): forward of the decoder on a batch of token ids, logits at the supervised
positions only, cross-entropy, backward, AdamW. The two precisions step the same batch back to
back (rotating who goes first) on two copies of one model, so drift on a shared machine hits them
alike; the report gives medians and the median of the paired ratios. bfloat16 pays only where
the CPU has bfloat16 instructions (AMX, AVX512-BF16); the report says whether this one has AMX.
A training run need not be told: ``mixed_precision: measure`` (``aura train nano``'s default)
makes the same paired timing on the run's own first batches and keeps the faster. ``--compiled`` also
steps a third copy in float32 under ``torch.compile`` (whether compiling buys CPU training time).
"""

from __future__ import annotations

import copy
import json
import statistics
import time
from typing import Any

import torch
import torch.nn.functional as F

from aura.bench import machine
from aura.train.hardware import cpu_has_amx
from aura.train.precision_choice import paired_speedup, time_alternating

PRECISIONS = ("fp32", "bf16")


def run_precision_bench(*, layers: int = 4, width: int = 192, heads: int = 4, batch: int = 32, tokens: int = 120,
                        keep_every: int = 6, repeats: int = 10, warmup: int = 2, threads: int | None = 2,
                        seed: int = 0, compiled: bool = False) -> dict[str, Any]:
    """Time training steps of a random nano decoder (the recipe's vocabulary, the given shape) in each
    precision on one fixed batch; return medians (ms), the paired speed-up and the last losses.

    ``batch`` x ``tokens`` token ids per step, logits kept at every ``keep_every``-th position (the
    supervised share of a stage-1 sample). ``threads`` sets ``torch.set_num_threads`` (None leaves it).
    ``compiled`` adds a float32 copy whose forward runs under ``torch.compile`` (its first step, the
    compilation, is reported apart as ``compile_s``).
    """
    from aura.models.nano import NanoVLM
    from aura.models.nano.recipe import RecipeConfig

    if threads is not None:
        torch.set_num_threads(threads)
    base_cfg = RecipeConfig().model
    cfg = base_cfg.model_validate({**base_cfg.model_dump(), "n_layers": layers, "d_model": width, "n_heads": heads})
    torch.manual_seed(seed)
    base = NanoVLM(cfg, video_pad_id=cfg.vocab_size - 1)
    variants = (*PRECISIONS, "compiled") if compiled else PRECISIONS
    models = {p: copy.deepcopy(base).train() for p in variants}
    optimizers = {p: torch.optim.AdamW(m.parameters(), lr=1e-3) for p, m in models.items()}
    forwards: dict[str, Any] = {p: models[p] for p in PRECISIONS}
    if compiled:
        forwards["compiled"] = torch.compile(models["compiled"], dynamic=False)
    gen = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, cfg.vocab_size - 1, (batch, tokens), generator=gen)
    keep = torch.arange(0, tokens - 1, keep_every)
    targets = ids[:, keep + 1]
    losses: dict[str, list[float]] = {p: [] for p in variants}

    def step(precision: str) -> None:
        opt = optimizers[precision]
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
            logits, _ = forwards[precision](ids, logits_to_keep=keep)
        loss = F.cross_entropy(logits.float().flatten(0, 1), targets.flatten())
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        losses[precision].append(float(loss.detach()))

    compile_s = None
    if compiled:  # the compilation, not timed with the steps
        t0 = time.perf_counter()
        step("compiled")
        compile_s = time.perf_counter() - t0
    times = {p: [t * 1000 for t in ts] for p, ts in time_alternating(step, variants, repeats=repeats,
                                                                      warmup=warmup).items()}

    def speedup(over: str) -> float:
        return paired_speedup(times["fp32"], times[over])

    out = {
        "command": f"aura bench precision --decoder {layers},{width},{heads} --batch {batch} --tokens {tokens}"
                   + (" --compiled" if compiled else ""),
        "date": time.strftime("%Y-%m-%d", time.gmtime()),
        "machine": machine(),
        "amx": cpu_has_amx(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "parameters": base.num_parameters(),
        "repeats": repeats,
        "tokens_per_step": batch * tokens,
        "step_ms": {p: statistics.median(t) for p, t in times.items()},
        "speedup_bf16": speedup("bf16"),
        "losses": losses,
    }
    if compiled:
        out.update(speedup_compiled=speedup("compiled"), compile_s=compile_s)
    return out


def format_report(res: dict[str, Any]) -> str:
    """A Markdown table of a ``run_precision_bench`` result."""
    lines = [
        f"{res['command']} — {res['date']}, {res['machine']} (AMX: {'yes' if res['amx'] else 'no'}), "
        f"torch {res['torch']}, {res['threads']} thread(s), {res['parameters']:,} parameters, "
        f"{res['tokens_per_step']:,} tokens per step, median of {res['repeats']} repeats",
        "",
        "| precision | step (ms) | tokens/s |",
        "|---|---:|---:|",
    ]
    for p, ms in res["step_ms"].items():
        name = "fp32 under torch.compile" if p == "compiled" else p
        lines.append(f"| {name} | {ms:.1f} | {res['tokens_per_step'] / ms * 1000:,.0f} |")
    lines.append("")
    lines.append(f"bf16 speed-up (median of paired per-step ratios): {res['speedup_bf16']:.2f}x")
    if "speedup_compiled" in res:
        lines.append(f"torch.compile speed-up over eager fp32: {res['speedup_compiled']:.2f}x "
                     f"(its first step, compiling, took {res['compile_s']:.1f} s)")
    return "\n".join(lines)


def main_precision(args: Any) -> int:
    """Run the benchmark from parsed ``aura bench precision`` arguments and print the report (or JSON)."""
    from pydantic import ValidationError

    from aura.errors import ConfigError
    from aura.models.nano.config import parse_decoder_shape

    layers, width, heads = parse_decoder_shape(args.decoder)
    for name in ("repeats", "batch", "tokens"):
        if getattr(args, name) < 1:
            raise ConfigError(f"--{name} must be at least 1")
    if not 2 <= args.tokens <= 4096 or args.batch > 1024:
        raise ConfigError("--tokens must be within 2..4096 and --batch at most 1024")
    try:  # the decoder's config is validated before any model is built
        res = run_precision_bench(layers=layers, width=width, heads=heads, batch=args.batch, tokens=args.tokens,
                                  repeats=args.repeats, threads=args.threads or None,
                                  compiled=bool(getattr(args, "compiled", False)))
    except ValidationError as exc:
        raise ConfigError(f"--decoder {args.decoder}: {exc.errors()[0]['msg']}") from None
    print(json.dumps(res, indent=2) if args.json else format_report(res))
    return 0
