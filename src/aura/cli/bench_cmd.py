"""``aura bench``: benchmark scripts (each subcommand prints a report to paste in docs/benchmarks.md).

Each benchmark registers one subcommand below; add new ones next to ``loss``.
"""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``bench`` group to the ``aura`` parser."""
    group = sub.add_parser("bench", help="benchmarks (see docs/benchmarks.md)")
    cmds = group.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _register_loss(cmds)
    _register_data(cmds)
    _register_ttft(cmds)
    _register_rtf(cmds)
    _register_precision(cmds)
    from aura.bench.e2e import register_cli as _register_e2e  # spoken question -> first audio (docs/serving.md)

    _register_e2e(cmds)


def _register_loss(cmds: argparse._SubParsersAction) -> None:
    p = cmds.add_parser("loss", help="training-step time: Silent-Speech Balanced Loss vs plain cross-entropy")
    p.add_argument("--repeats", type=int, default=20, help="timed repeats (median reported)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (0: leave torch's default)")
    p.add_argument("--model", help="a checkpoint directory (default: a tiny random Qwen3-VL built in a temp dir)")
    p.add_argument("--device", default="cpu", help="cpu or cuda (default: cpu)")
    p.add_argument("--json", action="store_true", help="print the raw result as JSON")
    p.set_defaults(func=_run_loss)


def _run_loss(args: argparse.Namespace) -> int:
    from aura.bench.loss import main_loss
    from aura.errors import ConfigError

    if args.repeats < 1:
        raise ConfigError("--repeats must be at least 1")
    if args.device not in ("cpu", "cuda") and not args.device.startswith("cuda:"):
        raise ConfigError(f"--device {args.device!r}: expected cpu or cuda")
    if args.device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise ConfigError("--device cuda: no CUDA device is available")
    return main_loss(args.repeats, args.threads or None, args.json, args.model, args.device)


def _register_precision(cmds: argparse._SubParsersAction) -> None:
    p = cmds.add_parser("precision", help="nano decoder training-step time: float32 vs bfloat16 autocast")
    p.add_argument("--decoder", default="4,192,4", metavar="LAYERS,WIDTH,HEADS",
                   help="the decoder's shape (default: the recipe's 4,192,4)")
    p.add_argument("--batch", type=int, default=32, help="samples per step (default: stage 1's 32)")
    p.add_argument("--tokens", type=int, default=120, help="tokens per sample (default 120, a stage-1 sample's)")
    p.add_argument("--repeats", type=int, default=10, help="timed repeats (median reported)")
    p.add_argument("--threads", type=int, default=2, help="torch threads (0: leave torch's default)")
    p.add_argument("--compiled", action="store_true",
                   help="also time a float32 copy under torch.compile (its compilation reported apart)")
    p.add_argument("--json", action="store_true", help="print the raw result as JSON")
    p.set_defaults(func=_run_precision)


def _run_precision(args: argparse.Namespace) -> int:
    from aura.bench.precision import main_precision

    return main_precision(args)


def _register_ttft(cmds: argparse._SubParsersAction) -> None:
    p = cmds.add_parser("ttft", help="time to first token per step: floating vs FIFO vs unbounded windows")
    p.add_argument("--backend", choices=["hf", "nano"], default="hf", help="random model of this backend")
    p.add_argument("--policy", action="append", choices=["floating", "fifo", "unbounded"],
                   help="policy to run (repeat; default: all three)")
    p.add_argument("--seconds", type=int, default=120, help="stream length in 1-second chunks")
    p.add_argument("--window", type=int, default=30, help="N: chunks that keep their video")
    p.add_argument("--float", dest="float_chunks", type=int, default=15, help="N': chunks evicted at once")
    p.add_argument("--max-new-tokens", type=int, default=4, help="decode budget per step (TTFT excludes decoding)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (0: leave torch's default)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print the raw result as JSON")
    p.set_defaults(func=_run_ttft)


def _run_ttft(args: argparse.Namespace) -> int:
    from aura.bench.ttft import POLICIES, main_ttft
    from aura.errors import ConfigError

    if args.window < 1 or args.float_chunks < 1 or args.max_new_tokens < 1:
        raise ConfigError("--window, --float and --max-new-tokens must be at least 1")
    return main_ttft(args.backend, args.policy or list(POLICIES), args.seconds, args.json, args.threads or None,
                     window=args.window, float_chunks=args.float_chunks, max_new_tokens=args.max_new_tokens,
                     seed=args.seed)


def _register_data(cmds: argparse._SubParsersAction) -> None:
    p = cmds.add_parser("prepare", help="data engine stage 1 throughput vs a plain PyAV decode+encode loop")
    p.add_argument("inputs", nargs="*", help="video files (default: synthetic H.264 clips)")
    p.add_argument("--videos", type=int, default=3, help="synthetic clips to make")
    p.add_argument("--seconds", type=float, default=60.0, help="length of each synthetic clip")
    p.add_argument("--fps", type=int, default=30, help="frame rate of the synthetic clips")
    p.add_argument("--width", type=int, default=640)
    p.add_argument("--height", type=int, default=360)
    p.add_argument("--repeats", type=int, default=3, help="timed repeats (medians reported)")
    p.add_argument("--json", action="store_true", help="print the raw result as JSON")
    p.set_defaults(func=_run_data, which="prepare")
    s = cmds.add_parser("structure", help="data engine stage 4 (timeline -> samples) samples per second")
    s.add_argument("--segments", type=int, default=20, help="synthetic segments")
    s.add_argument("--seconds", type=float, default=300.0, help="length of each segment")
    s.add_argument("--repeats", type=int, default=3, help="timed repeats (medians reported)")
    s.add_argument("--json", action="store_true", help="print the raw result as JSON")
    s.set_defaults(func=_run_data, which="structure")


def _run_data(args: argparse.Namespace) -> int:
    from aura.bench.data import main_prepare, main_structure
    from aura.errors import ConfigError

    if args.repeats < 1 or args.seconds <= 0:
        raise ConfigError("--repeats must be at least 1 and --seconds positive")
    return main_prepare(args) if args.which == "prepare" else main_structure(args)


def _register_rtf(cmds: argparse._SubParsersAction) -> None:
    p = cmds.add_parser("rtf", help="per-chunk step latency and real-time factor of a model on a video")
    p.add_argument("--model", default="nano", help="model spec (default: the bundled aura-nano)")
    p.add_argument("--video", help="video to stream (default: the bundled sample with its questions)")
    p.add_argument("--questions", help='questions JSON: [{"time": 3.0, "question": "..."}]')
    p.add_argument("--threads", type=int, default=1, help="torch threads (0: leave torch's default)")
    p.add_argument("--max-new-tokens", type=int, default=64)
    p.add_argument("--json", action="store_true", help="print the raw result as JSON")
    p.set_defaults(func=lambda a: __import__("aura.bench.rtf", fromlist=["main_rtf"]).main_rtf(
        a.model, a.video, a.questions, a.threads, a.json, a.max_new_tokens))
