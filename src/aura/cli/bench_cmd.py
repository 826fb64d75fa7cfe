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
