"""``aura stream``: play a QA timeline through the stream context; unroll it into samples."""

from __future__ import annotations

import argparse
import json
from importlib import resources
from pathlib import Path

from pydantic import ValidationError

from aura.errors import InputFileError
from aura.fileio import read_json, write_jsonl_atomic
from aura.stream import (
    SILENT_TOKEN,
    AssistantResponse,
    ContextConfig,
    Silence,
    StreamContext,
    Timeline,
    UserQuestion,
    unroll,
    unroll_exact,
)
from aura.stream.messages import Message, is_silent, message_text, video_parts
from aura.stream.timeline import timeline_events

DEMO_TIMELINE = "demo_timeline.json"


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``stream`` group to the ``aura`` parser."""
    group = sub.add_parser("stream", help="play QA timelines through the stream context")
    cmds = group.add_subparsers(dest="command", metavar="COMMAND", required=True)

    replay = cmds.add_parser("replay", help="stream a timeline and print what the model sees")
    replay.add_argument("timeline", nargs="?", help="timeline JSON (default: the bundled demo)")
    _context_flags(replay)
    replay.set_defaults(func=run_replay)

    unroll_p = cmds.add_parser("unroll", help="unroll timelines into training samples (JSONL)")
    unroll_p.add_argument("timelines", nargs="+", help="timeline JSON files (one object, or a list)")
    unroll_p.add_argument("-o", "--output", required=True, help="samples JSONL to write")
    unroll_p.add_argument("--exact", action="store_true",
                          help="one sample per stretch between window evictions, every turn supervised in its "
                          "exact inference context (docs/data-format.md), instead of one per reply")
    _context_flags(unroll_p)
    unroll_p.set_defaults(func=run_unroll)


def _context_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--policy", choices=["floating", "fifo", "unbounded"], default="floating")
    p.add_argument("--window", type=int, default=30, help="N: chunks that keep their video")
    p.add_argument("--float", dest="float_chunks", type=int, default=15, help="N': chunks evicted at once")
    p.add_argument("--history", type=int, default=10, help="M: QA groups kept as text")


def config_from_args(args: argparse.Namespace) -> ContextConfig:
    """The context configuration named by the common flags."""
    try:
        return ContextConfig(
            policy=args.policy,
            window_chunks=args.window,
            float_chunks=args.float_chunks,
            history_groups=args.history,
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        raise InputFileError(f"bad context option {first['loc'][0]}: {first['msg']}") from None


def load_timelines(path: str | Path) -> list[Timeline]:
    """Timelines from a JSON file holding one timeline object or a list of them."""
    data = read_json(path)
    items = data if isinstance(data, list) else [data]
    out = []
    for i, item in enumerate(items):
        try:
            out.append(Timeline.model_validate(item))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(x) for x in first["loc"])
            raise InputFileError(f"{path}: timeline {i}: {where}: {first['msg']}") from None
    return out


def _bundled_timeline() -> Path:
    return Path(str(resources.files("aura") / "assets" / DEMO_TIMELINE))


def _describe(message: Message) -> str:
    parts = [f"<video chunk {p['chunk']}>" for p in video_parts(message)]
    text = message_text(message)
    if text or not parts:
        parts.append(json.dumps(text))
    return " ".join(parts)


def _fold_silent_runs(messages: list[Message]) -> list[str]:
    """One line per message, with each run of (video-only user, silent) pairs shown as one line."""
    lines: list[str] = []
    run: list[int] = []

    def flush() -> None:
        if run:
            span = f"chunk {run[0]}" if len(run) == 1 else f"chunks {run[0]}-{run[-1]}"
            lines.append(f"  {'...':9s} {span}: video, {SILENT_TOKEN}")
            run.clear()

    i = 0
    while i < len(messages):
        m = messages[i]
        nxt = messages[i + 1] if i + 1 < len(messages) else None
        parts = video_parts(m)
        if parts and not message_text(m) and nxt is not None and is_silent(nxt):
            run.append(parts[0]["chunk"])
            i += 2
            continue
        flush()
        tag = "silent" if is_silent(m) else m["role"]
        lines.append(f"  {tag:9s} {_describe(m)}")
        i += 1
    flush()
    return lines


def run_replay(args: argparse.Namespace) -> int:
    """Play a timeline through the context, printing questions, replies, evictions, the final prompt."""
    path = Path(args.timeline) if args.timeline else _bundled_timeline()
    config = config_from_args(args)
    for timeline in load_timelines(path):
        ctx = StreamContext(config)
        print(f"== {timeline.video_id}: {timeline.duration:g}s, policy {config.policy}, "
              f"N={config.window_chunks} N'={config.float_chunks} M={config.history_groups}")
        reused = rendered_total = 0
        for event, response in timeline_events(timeline, config):
            if isinstance(event, (AssistantResponse, Silence)):
                rendered = ctx.render()  # what the model sees when it decides this chunk's reply
                reused += rendered.stable_prefix
                rendered_total += len(rendered.messages)
            before = ctx.evictions
            ctx.feed(event)
            if ctx.evictions != before:
                print(f"  [{event.start:6.1f}s] eviction: window now chunks "
                      f"{ctx.window[0].chunk.index}-{ctx.window[-1].chunk.index}, "
                      f"history {len(ctx.history.groups)} group(s)")
            elif isinstance(event, UserQuestion):
                print(f"  [{event.time:6.1f}s] user: {event.text}")
            elif response is not None:
                print(f"  [{event.time:6.1f}s] assistant ({response.kind}): {response.text}")
        share = reused / rendered_total if rendered_total else 0.0
        print(f"  {ctx.chunks_seen} chunks, {ctx.evictions} evictions; "
              f"{share:.1%} of rendered messages were an unchanged prefix of the previous step")
        print("-- final context (runs of silent video-only turns folded) --")
        for line in _fold_silent_runs(ctx.messages()):
            print(line)
    return 0


def run_unroll(args: argparse.Namespace) -> int:
    """Unroll every timeline into samples and write them atomically as one JSONL file."""
    config = config_from_args(args)
    timelines = [t for path in args.timelines for t in load_timelines(path)]
    how = unroll_exact if args.exact else unroll
    count = write_jsonl_atomic(args.output, (s for t in timelines for s in how(t, config)))
    print(f"wrote {count} samples from {len(timelines)} timeline(s) to {args.output}")
    return 0
