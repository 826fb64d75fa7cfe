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
    p.add_argument("--json", action="store_true", help="print the raw result as JSON")
    p.set_defaults(func=_run_loss)


def _run_loss(args: argparse.Namespace) -> int:
    from aura.bench.loss import main_loss
    from aura.errors import ConfigError

    if args.repeats < 1:
        raise ConfigError("--repeats must be at least 1")
    return main_loss(args.repeats, args.threads or None, args.json, args.model)
