"""Entry point of the ``aura`` command: builds the parser from the command groups and runs.

User errors (``AuraError``) print one line and exit with status 2, without a traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from aura import __version__
from aura.cli import (
    bench_cmd,
    data_cmd,
    demo_cmd,
    eval_cmd,
    serve_cmd,
    stream_cmd,
    train_cmd,
    watch_cmd,
    world_cmd,
)
from aura.errors import AuraError

GROUPS = [watch_cmd, stream_cmd, train_cmd, data_cmd, bench_cmd, serve_cmd, eval_cmd, world_cmd, demo_cmd]


def build_parser() -> argparse.ArgumentParser:
    """The full ``aura`` parser with every command group that exists."""
    parser = argparse.ArgumentParser(
        prog="aura",
        description="aura: an always-on streaming video assistant (an open implementation of AURA).",
    )
    parser.add_argument("--version", action="version", version=f"aura {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    sub = parser.add_subparsers(dest="group", metavar="COMMAND")
    for group in GROUPS:
        group.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except AuraError as exc:
        print(f"aura: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("aura: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
