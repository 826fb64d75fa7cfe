"""``aura watch``: the main job — a video in, the assistant's replies out, as they happen."""

from __future__ import annotations

import argparse
import json
import sys

from aura.errors import AuraError


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``watch`` to the ``aura`` parser."""
    p = sub.add_parser("watch", help="stream a video through the assistant and print its replies")
    p.add_argument("video", help="any video file PyAV/ffmpeg can read (or a URL/RTSP stream)")
    p.add_argument("--ask", action="append", default=[], metavar="'TIME: QUESTION'",
                   help="ask QUESTION at TIME seconds (or M:SS); repeatable")
    p.add_argument("--questions", metavar="FILE.json", help='questions file: [{"time": 3.0, "question": "..."}]')
    p.add_argument("--model", default="nano", help="model spec: nano, nano:DIR, hf:DIR, openai:URL#model")
    p.add_argument("--realtime", action="store_true", help="pace the stream at wall-clock speed")
    p.add_argument("--jsonl", action="store_true", help="print one JSON object per event")
    p.add_argument("--temperature", type=float, default=0.0)
    p.add_argument("--max-new-tokens", type=int, default=128)
    p.add_argument("--threads", type=int, default=0,
                   help="torch CPU threads (0: one for nano, torch's default for the others)")
    p.set_defaults(func=run_watch)


def run_watch(args: argparse.Namespace) -> int:
    """Run ``aura watch``; a video that breaks mid-way streams what decoded, then errors (exit 2)."""
    from aura.models.registry import load_model, set_torch_threads
    from aura.stream import ContextConfig
    from aura.video import CorruptVideoError, iter_chunks, probe
    from aura.watch import WatchEvent, check_schedule, load_questions, parse_ask, watch

    questions = [parse_ask(a) for a in args.ask]
    if args.questions:
        questions += load_questions(args.questions)
    info = probe(args.video)
    questions = check_schedule(questions, info.duration)
    config = ContextConfig()
    set_torch_threads(args.model, args.threads)
    model = load_model(args.model, config, temperature=args.temperature,
                                 max_new_tokens=args.max_new_tokens)

    def show(event: WatchEvent) -> None:
        if args.jsonl:
            print(json.dumps(event.to_json(), ensure_ascii=False), flush=True)
        elif event.type == "question":
            print(f"[{event.time:7.1f}s] you:       {event.text}", flush=True)
        else:
            print(f"[{event.time:7.1f}s] assistant: {event.text}", flush=True)

    if not args.jsonl:
        print(f"watching {args.video} ({info.duration:.1f}s, {info.width}x{info.height}) with {model.name}",
              flush=True)
    try:
        stats = watch(model, iter_chunks(args.video, config), questions, show, realtime=args.realtime)
    except CorruptVideoError as exc:
        print(f"aura: error: {exc}", file=sys.stderr)
        return 2
    except AuraError:
        raise
    summary = (f"{stats['chunks']} chunks, {stats['replies']} replies, step latency p50 "
               f"{stats['step_p50_s'] * 1000:.0f} ms, p99 {stats['step_p99_s'] * 1000:.0f} ms")
    if args.jsonl:
        print(json.dumps({"type": "summary", **stats}), flush=True)
    else:
        print(summary)
    return 0
