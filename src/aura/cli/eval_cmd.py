"""``aura eval``: run a benchmark against a model (``run``), score a results file (``score``), compare runs."""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from aura.errors import AuraError
from aura.eval import (
    CachedJudge,
    EvalConfig,
    EvalError,
    MatchJudge,
    OpenAIJudge,
    Runner,
    compare,
    get_benchmark,
    load_summary,
    names,
    read_results,
    write_report,
)
from aura.eval.benchmarks.base import load_all
from aura.eval.report import render_markdown
from aura.models.base import StreamingModel


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``eval`` group to the ``aura`` parser."""
    group = sub.add_parser("eval", help="evaluate on OVO-Bench, StreamingBench, OmniMMI (protocol or stream mode)")
    cmds = group.add_subparsers(dest="command", metavar="COMMAND", required=True)

    run = cmds.add_parser("run", help="run a benchmark against a model (resumable), then score it")
    run.add_argument("benchmark", help=f"one of: {', '.join(names())}")
    run.add_argument("--annotations", "-a", nargs="+", required=True, help="the benchmark's annotation file(s)")
    run.add_argument("--videos", required=True, help="directory the annotation's video paths are relative to")
    run.add_argument("--model", "-m", required=True,
                     help="nano[:DIR] | hf:DIR | openai:URL#MODEL | py:MODULE:FACTORY (returns a StreamingModel)")
    run.add_argument("--max-new-tokens", type=int, default=128, help="longest reply (tokens)")
    run.add_argument("--mode", choices=["protocol", "stream"], default="protocol")
    run.add_argument("--out", "-o", required=True, help="run directory (results.jsonl, summary.json, report.md, plots)")
    run.add_argument("--workers", type=int, default=1, help="videos evaluated in parallel (one model each)")
    run.add_argument("--window", type=int, default=30, help="protocol: chunks of video context per query")
    run.add_argument("--patience", type=float, default=5.0, help="stream: seconds in which an answer counts")
    run.add_argument("--limit", type=int, default=None, help="only the first N items (smoke runs)")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    _judge_flags(run)
    run.set_defaults(func=run_eval)

    score = cmds.add_parser("score", help="score a results file: ours (results.jsonl / run dir) or the official one")
    score.add_argument("benchmark", help=f"one of: {', '.join(names())}")
    score.add_argument("--results", "-r", required=True, help="results file or run directory")
    score.add_argument("--model", help="StreamingBench official files: the model's key in each question")
    score.add_argument("--task", help="OmniMMI official files: the task (SG, AP, MD, SI, PA, PT) if not in the name")
    score.add_argument("--out", "-o", help="write summary.json, report.md and plots here")
    _judge_flags(score)
    score.set_defaults(func=run_score)

    cmp_ = cmds.add_parser("compare", help="print a side-by-side table of two runs")
    cmp_.add_argument("a", help="run directory or summary.json")
    cmp_.add_argument("b", help="run directory or summary.json")
    cmp_.set_defaults(func=run_compare)

    from aura.eval.world import add_parser as add_world_parser  # aura eval world (docs/eval-world.md)

    add_world_parser(cmds)
    from aura.eval.calibrate import add_parser as add_calibrate_parser  # aura eval calibrate (nano silence bias)

    add_calibrate_parser(cmds)
    from aura.eval.watch_probe import add_parser as add_watch_parser  # aura eval watch (nano watch decisions)

    add_watch_parser(cmds)


def _judge_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--judge", choices=["match", "openai"], default="match",
                   help="OmniMMI open answers: offline match (not official) or an LLM judge over an OpenAI API")
    p.add_argument("--judge-url", help="base URL of the OpenAI-compatible judge server")
    p.add_argument("--judge-model", default="gpt-4o", help="judge model name")
    p.add_argument("--judge-key", default="none", help="API key of the judge server")
    p.add_argument("--judge-workers", type=int, default=4, help="judge requests in flight (--judge openai)")


def make_judge(args: argparse.Namespace, cache_dir: Path | None) -> CachedJudge:
    """The judge named by the flags, with its verdict cache in ``cache_dir`` (if any)."""
    if args.judge == "openai":
        if not args.judge_url:
            raise EvalError("--judge openai needs --judge-url (an OpenAI-compatible server)")
        judge: Any = OpenAIJudge(args.judge_model, base_url=args.judge_url, api_key=args.judge_key)
    else:
        judge = MatchJudge()
    return CachedJudge(judge, cache_dir / "judge_cache.jsonl" if cache_dir else None)


def _judge_workers(args: argparse.Namespace) -> int:
    return max(1, args.judge_workers) if args.judge == "openai" else 1


def model_factory(spec: str, *, max_new_tokens: int = 128) -> Callable[[], StreamingModel]:
    """A factory for the model named by ``spec`` (called once per worker; never downloads)."""
    kind, _, arg = spec.partition(":")
    if kind == "py":
        module, _, attr = arg.rpartition(":")
        if not module or not attr:
            raise EvalError(f"model spec {spec!r}: expected py:MODULE:FACTORY")
        try:
            factory = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as exc:
            raise EvalError(f"model spec {spec!r}: {exc}") from None
        return factory
    if kind in ("hf", "openai", "nano"):
        if not arg and kind != "nano":
            raise EvalError(f"model spec {spec!r} needs a target (hf:DIR or openai:URL#MODEL)")

        def registered() -> StreamingModel:
            from aura.models.registry import load_model

            return load_model(spec, max_new_tokens=max_new_tokens)

        return registered
    raise EvalError(f"unknown model spec {spec!r} (expected nano[:DIR], hf:DIR, openai:URL#MODEL or py:MODULE:FACTORY)")


def run_eval(args: argparse.Namespace) -> int:
    """Load annotations, run (resuming), score and write the reports; print the overall score."""
    bench = get_benchmark(args.benchmark)
    try:
        config = EvalConfig(mode=args.mode, window_chunks=args.window, patience_s=args.patience, workers=args.workers)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise EvalError(f"bad option {first['loc'][0]}: {first['msg']}") from None
    videos = Path(args.videos)
    if not videos.is_dir():
        raise EvalError(f"{videos}: no such video directory")
    loaded = load_all(bench, [Path(a) for a in args.annotations], videos)
    items = loaded.items[: args.limit] if args.limit else loaded.items
    if not items:
        first = f": {loaded.errors[0].message}" if loaded.errors else ""
        raise EvalError(f"no usable items in {', '.join(args.annotations)} ({len(loaded.errors)} bad rows){first}")
    out = Path(args.out)
    factory = model_factory(args.model, max_new_tokens=args.max_new_tokens)
    meta = {"benchmark": bench.name, "model": args.model, "annotations": [str(a) for a in args.annotations]}
    counts = Runner(factory, config).run(items, out, progress=not args.no_progress, meta=meta)
    judge = make_judge(args, out)
    meta = {"model": args.model, "judge": judge.name}
    summary = write_report(out, bench, judge, load_errors=loaded.errors, meta=meta, workers=_judge_workers(args))
    print(f"{bench.name} {config.mode}: {counts['done']} run, {counts['skipped']} already done, "
          f"{counts['errors']} errors, {len(loaded.errors)} bad annotation rows")
    overall = summary.get("overall")
    score = f"overall {overall:.1f}" if overall is not None else "no score"
    print(f"{score} -> {out / 'report.md'}")
    return 0


def run_score(args: argparse.Namespace) -> int:
    """Score a results file (our rows or the official format) and print the report."""
    bench = get_benchmark(args.benchmark)
    rows, fmt = read_results(bench, args.results, model=args.model, task=args.task)
    out = Path(args.out) if args.out else None
    judge = make_judge(args, out)
    meta = {"results": str(args.results), "format": fmt, "judge": judge.name}
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        write_report(out, bench, judge, meta=meta, rows=rows, workers=_judge_workers(args))
        print((out / "report.md").read_text(encoding="utf-8"), end="")
        return 0
    from aura.eval.report import summarize

    summary, _, errors = summarize(bench, rows, judge, meta=meta, workers=_judge_workers(args))
    print(render_markdown(summary, errors, []), end="")
    return 0


def run_compare(args: argparse.Namespace) -> int:
    """Print the side-by-side table of two runs' summaries."""
    try:
        a, b = load_summary(args.a), load_summary(args.b)
    except AuraError as exc:
        raise EvalError(f"cannot compare: {exc}") from None
    print(compare(a, b, (Path(args.a).name or "A", Path(args.b).name or "B")), end="")
    return 0
