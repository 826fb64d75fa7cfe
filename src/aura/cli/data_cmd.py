"""``aura data``: the five-stage data engine (prepare, synthesize, refine, structure, verify, run, stats)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from pydantic import ValidationError

from aura.data.config import DataConfig, load_config
from aura.data.errors import DataError
from aura.data.pipeline import STAGES, run_all
from aura.data.shard import parse_shard
from aura.data.stats import collect, export_samples, render


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``data`` group to the ``aura`` parser."""
    group = sub.add_parser("data", help="the data engine: raw videos -> verified streaming training samples")
    cmds = group.add_subparsers(dest="command", metavar="COMMAND", required=True)
    helps = {
        "prepare": "probe, split, resample to 2 FPS, re-encode to H.264, verify; write the manifest",
        "synthesize": "MLLM: scene descriptions, candidate QAs of three types, verification of each",
        "refine": "harder real-time variants, template rewrites, acknowledgements",
        "structure": "merge each segment's QAs into a timeline and unroll it into samples",
        "verify": "rule checks and a judge model on each sample's target reply",
    }
    for stage in STAGES:
        p = cmds.add_parser(stage, help=helps[stage])
        if stage == "prepare":
            p.add_argument("inputs", nargs="*", help="video files, folders, or @list.txt (default: config inputs)")
            p.add_argument("--segment-seconds", type=float, help="longest segment (default 300)")
            p.add_argument("--out-max-side", type=int, help="downscale so no side exceeds this")
        _common_flags(p)
        if stage in ("synthesize", "refine", "verify"):
            _api_flags(p)
        if stage == "verify":
            p.add_argument("--no-judge", action="store_true", help="rule checks only")
        p.set_defaults(func=run_stage, stage=stage)

    run = cmds.add_parser("run", help="run all five stages with one config file")
    run.add_argument("--config", required=True, help="YAML/JSON config (see configs/data/)")
    run.add_argument("--stages", default=",".join(STAGES), help="comma-separated subset, in order")
    run.add_argument("--shard", help="K/N: process only shard K (0-based) of N")
    run.add_argument("--no-progress", action="store_true")
    run.set_defaults(func=run_pipeline)

    export = cmds.add_parser("export", help="write every shard's verified samples to one JSONL file (atomically)")
    export.add_argument("--work", help="work directory")
    export.add_argument("--config", help="take the work directory from this config")
    export.add_argument("-o", "--output", required=True, help="samples JSONL to write")
    export.add_argument("--absolute-paths", action="store_true", help="make each sample's video path absolute")
    export.set_defaults(func=run_export)

    stats = cmds.add_parser("stats", help="counts per stage, failure/rejection reasons, type mix vs the paper's")
    stats.add_argument("--work", help="work directory")
    stats.add_argument("--config", help="take the work directory from this config")
    stats.add_argument("--json", action="store_true", help="print JSON")
    stats.set_defaults(func=run_stats)


def _common_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--work", help="work directory (default: from --config)")
    p.add_argument("--config", help="YAML/JSON config; flags override it")
    p.add_argument("--shard", help="K/N: process only shard K (0-based) of N")
    p.add_argument("--concurrency", type=int, help="items processed at once")
    p.add_argument("--retry-failed", action="store_true", help="redo items that failed before")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def _api_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--api-base", help="OpenAI-compatible base URL, e.g. http://host:8000/v1")
    p.add_argument("--model", help="model name on that server")
    p.add_argument("--api-key-file", help="file holding the API key")
    p.add_argument("--api-key-env", help="NAME of an environment variable holding the API key")
    p.add_argument("--timeout", type=float, help="seconds per request")
    p.add_argument("--max-tries", type=int, help="tries per request (timeouts, 5xx, malformed JSON)")
    p.add_argument("--api-concurrency", type=int, help="most requests in flight")
    p.add_argument("--media", choices=["frames", "video_url"], help="send frames as images or one mp4")


def _config(args: argparse.Namespace) -> DataConfig:
    """The config file (if any) with the flags given on the command line applied over it."""
    if getattr(args, "config", None):
        cfg = load_config(args.config)
    elif getattr(args, "work", None):
        cfg = DataConfig(work=args.work)
    else:
        raise DataError("give --work DIR or --config FILE")
    top: dict[str, Any] = {}
    if getattr(args, "work", None):
        top["work"] = args.work
    if getattr(args, "shard", None):
        top["shard"] = args.shard
    if getattr(args, "concurrency", None):
        top["concurrency"] = args.concurrency
    if getattr(args, "retry_failed", False):
        top["retry_failed"] = True
    if getattr(args, "inputs", None):
        top["inputs"] = list(args.inputs)
    api = {k: getattr(args, a) for a, k in (
        ("api_base", "api_base"), ("model", "model"), ("api_key_file", "api_key_file"),
        ("api_key_env", "api_key_env"), ("timeout", "timeout_s"), ("max_tries", "max_tries"),
        ("api_concurrency", "concurrency"), ("media", "media"),
    ) if getattr(args, a, None) is not None}
    prep = {k: getattr(args, k) for k in ("segment_seconds", "out_max_side") if getattr(args, k, None) is not None}
    data = cfg.model_dump()
    data.update(top)
    data["api"].update(api)
    data["prepare"].update(prep)
    if getattr(args, "no_judge", False):
        data["verify"]["judge"] = False
    try:
        return DataConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise DataError(f"bad option {'.'.join(str(x) for x in first['loc'])}: {first['msg']}") from None


def _report(summaries: list[Any]) -> int:
    for s in summaries:
        print(s.line())
    return 0


def run_stage(args: argparse.Namespace) -> int:
    """Run one stage of the engine over the work directory."""
    cfg = _config(args)
    if args.stage == "prepare" and not cfg.inputs:
        raise DataError("prepare needs input videos (arguments or 'inputs' in the config)")
    return _report(run_all(cfg, parse_shard(cfg.shard), progress=not args.no_progress, stages=(args.stage,)))


def run_pipeline(args: argparse.Namespace) -> int:
    """Run the chosen stages in order with one config file."""
    cfg = load_config(args.config)
    stages = tuple(s.strip() for s in args.stages.split(",") if s.strip())
    unknown = [s for s in stages if s not in STAGES]
    if unknown:
        raise DataError(f"unknown stage(s) {', '.join(unknown)} (stages: {', '.join(STAGES)})")
    shard = parse_shard(args.shard or cfg.shard)
    return _report(run_all(cfg, shard, progress=not args.no_progress, stages=stages))


def run_stats(args: argparse.Namespace) -> int:
    """Print what the engine produced in a work directory."""
    cfg = load_config(args.config) if args.config else None
    work = args.work or (cfg.work if cfg else None)
    if not work:
        raise DataError("give --work DIR or --config FILE")
    stats = collect(work, cfg.target_mix if cfg else None)
    print(json.dumps(stats, indent=2) if args.json else render(stats))
    return 0


def run_export(args: argparse.Namespace) -> int:
    """Concatenate the verified samples of every shard into one file, in a stable order."""
    cfg = load_config(args.config) if args.config else None
    work = args.work or (cfg.work if cfg else None)
    if not work:
        raise DataError("give --work DIR or --config FILE")
    count = export_samples(work, args.output, absolute_paths=args.absolute_paths)
    print(f"wrote {count} verified samples to {args.output}")
    return 0
