"""``aura world``: generate synthetic streams (videos + exact timelines) and show one."""

from __future__ import annotations

import argparse
import json
import logging
import re
import time
from pathlib import Path

import numpy as np
from pydantic import ValidationError

from aura.errors import ConfigError
from aura.fileio import atomic_write_text
from aura.stream import ContextConfig
from aura.world import make_stream, render_video, split_seeds
from aura.world.sample import write_sample

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``world`` group to the ``aura`` parser."""
    group = sub.add_parser("world", help="synthetic streams with exact ground truth")
    cmds = group.add_subparsers(dest="command", metavar="COMMAND", required=True)

    gen = cmds.add_parser("generate", help="render streams and write their timelines (resumable)")
    gen.add_argument("--split", choices=["train", "val", "test"], required=True)
    gen.add_argument("--count", type=int, required=True, help="number of streams")
    gen.add_argument("--start", type=int, default=0, help="first index inside the split's seed range")
    gen.add_argument("--out", required=True, help="output directory")
    gen.add_argument("--seconds", default="60-240", help="duration, N or MIN-MAX (default 60-240)")
    gen.add_argument("--size", type=int, default=128, help="frame height in pixels (default 128)")
    gen.add_argument("--fps", type=float, default=2.0, help="video frame rate (default 2)")
    gen.add_argument(
        "--phrasing",
        choices=["train", "heldout", "all"],
        default=None,
        help="question phrasings (default: train for train, all for val/test)",
    )
    gen.add_argument("--aspect", choices=["4:3", "16:9", "1:1"], default=None, help="fix the aspect ratio")
    gen.add_argument("--no-video", action="store_true", help="write timelines only")
    gen.add_argument("--window", type=int, default=30, help="N of the stream context the replies must fit")
    gen.add_argument("--float", dest="float_chunks", type=int, default=15, help="N' of that context")
    gen.add_argument("--history", type=int, default=10, help="M of that context (forgotten questions get no reply)")
    gen.set_defaults(func=run_generate)

    show = cmds.add_parser("show", help="print one stream's events, questions and replies")
    show.add_argument("seed", type=int)
    show.add_argument("--seconds", type=float, default=None, help="duration (default: the seed's own)")
    show.add_argument("--phrasing", choices=["train", "heldout", "all"], default=None)
    show.add_argument("--json", action="store_true", help="print the whole stream as JSON")
    show.set_defaults(func=run_show)

    sample = cmds.add_parser("sample", help="regenerate the bundled sample video and questions")
    sample.add_argument("--out", default=None, help="directory (default: the package's assets)")
    sample.set_defaults(func=run_sample)


def parse_seconds(text: str) -> tuple[int, int]:
    """``"120"`` -> (120, 120); ``"60-240"`` -> (60, 240). Durations are 30..600 whole seconds."""
    m = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", text)
    if not m:
        raise ConfigError(f"--seconds must be N or MIN-MAX, got {text!r}")
    lo = int(m.group(1))
    hi = int(m.group(2) or lo)
    if not 30 <= lo <= hi <= 600:
        raise ConfigError(f"--seconds must lie in 30..600 with MIN <= MAX, got {text!r}")
    return lo, hi


def run_generate(args: argparse.Namespace) -> int:
    """Write ``videos/<id>.mp4``, ``streams/<id>.json`` (full truth) and ``timelines/<id>.json``."""
    lo, hi = parse_seconds(args.seconds)
    if args.count < 1:
        raise ConfigError("--count must be >= 1")
    if not 16 <= args.size <= 2160:
        raise ConfigError("--size must be in 16..2160")
    if not 0 < args.fps <= 60:
        raise ConfigError("--fps must be in (0, 60]")
    try:
        config = ContextConfig(window_chunks=args.window, float_chunks=args.float_chunks, history_groups=args.history)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ConfigError(f"bad context option {first['loc'][0] if first['loc'] else ''}: {first['msg']}") from None
    out = Path(args.out)
    seeds = split_seeds(args.split, args.count, start=args.start)
    done = skipped = 0
    started = time.perf_counter()
    for seed in seeds:
        sid = f"world-{seed}"
        video = out / "videos" / f"{sid}.mp4"
        timeline_path = out / "timelines" / f"{sid}.json"
        if timeline_path.exists() and (args.no_video or video.exists()):
            skipped += 1
            continue
        duration = lo if lo == hi else int(np.random.default_rng([seed, 8]).integers(lo, hi + 1))
        stream = make_stream(seed, duration=float(duration), aspect=args.aspect, phrasing=args.phrasing, config=config)
        if not args.no_video:
            render_video(stream.scene, video, fps=args.fps, height=args.size, style=stream.style)
        rel = None if args.no_video else f"videos/{sid}.mp4"  # relative to OUT (where samples go)
        atomic_write_text(out / "streams" / f"{sid}.json", stream.model_dump_json())
        # Written last: its presence marks the item as finished (resumable).
        atomic_write_text(timeline_path, stream.to_timeline(rel).model_dump_json(indent=1))
        done += 1
        log.info("%s: %ds, %d questions", sid, duration, len(stream.questions))
    elapsed = time.perf_counter() - started
    print(f"world {args.split}: {done} generated, {skipped} already done, in {elapsed:.1f}s -> {out}")
    return 0


def run_show(args: argparse.Namespace) -> int:
    """Print a stream's scene, events, questions and owed replies in time order."""
    stream = make_stream(args.seed, duration=args.seconds, phrasing=args.phrasing)
    if args.json:
        print(json.dumps(stream.model_dump(mode="json"), indent=1))
        return 0
    scene = stream.scene
    style = stream.style
    print(
        f"== {stream.id} ({stream.split}, phrasing {stream.phrasing}): {scene.duration:g}s, aspect {scene.aspect}, "
        f"{style.background} {'dark' if style.dark else 'light'} background, "
        f"AA {'on' if style.antialias else 'off'}, noise {style.noise:g}, CRF {style.crf}"
    )
    start = ", ".join(f"{o.colour} {o.shape}" for o in scene.state(0.0)) or "nothing"
    print(f"   0.0s  start: {start}")
    rows: list[tuple[float, int, str]] = []
    for e in scene.events:
        what = {"appear": "appears", "disappear": "disappears"}.get(e.kind, f"turns {e.colour} (was {e.old_colour})")
        name = f"{e.colour} {e.shape}" if e.kind != "colour" else e.shape
        rows.append((e.time, 0, f"event: {name} {what} (first shown at {e.sample_time:g}s)"))
    for q in stream.questions:
        flag = ", held-out phrasing" if q.heldout else ""
        rows.append((q.time, 1, f"user [{q.id} {q.type}/{q.kind}{flag}]: {q.text}"))
    for r in stream.responses:
        ev = f" (evidence {r.evidence_time:g}s)" if r.evidence_time is not None and r.kind == "answer" else ""
        rows.append((r.time, 2, f"assistant [{r.question_id} {r.kind}]: {r.text}{ev}"))
    for t, _, text in sorted(rows, key=lambda x: (x[0], x[1])):
        print(f"{t:6.1f}s  {text}")
    return 0


def run_sample(args: argparse.Namespace) -> int:
    """Regenerate ``sample.mp4`` and ``sample_questions.json``."""
    video, questions = write_sample(args.out)
    print(f"wrote {video} ({video.stat().st_size / 1e6:.2f} MB) and {questions}")
    return 0
