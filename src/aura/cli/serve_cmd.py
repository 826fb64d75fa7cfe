"""``aura serve``: expose a local backend as an OpenAI-compatible server (FastAPI + uvicorn)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from aura.errors import ConfigError, InputFileError


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``serve`` command to the ``aura`` parser."""
    p = sub.add_parser("serve", help="serve a local model over an OpenAI-compatible HTTP API")
    p.add_argument("--model", required=True, help="local model spec, e.g. hf:/path/to/checkpoint")
    p.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--served-model-name", help="the model id clients send (default: the checkpoint folder name)")
    p.add_argument("--api-key-file", help="a file holding the bearer token clients must send (optional)")
    p.add_argument("--max-body-mb", type=float, default=32.0, help="request size limit in MB")
    p.add_argument("--temperature", type=float, default=0.0, help="default sampling temperature")
    p.add_argument("--max-tokens", type=int, default=128, help="default max new tokens per reply")
    p.add_argument("--max-pixels", type=int, help="cap on pixels per frame after resizing (model default if unset)")
    p.add_argument("--threads", type=int, default=0,
                   help="torch CPU threads (0: one for nano, torch's default for the others)")
    p.add_argument("--device", default="cpu", help="torch device for the model (cpu, cuda, cuda:1, ...)")
    p.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    p.add_argument("--no-live", action="store_true", help="no web page / WebSocket sessions / metrics (API only)")
    p.add_argument("--no-speech", action="store_true", help="live sessions are text only (no VAD, ASR, TTS)")
    p.set_defaults(func=run_serve)


def _api_key(path: str | None) -> str | None:
    if path is None:
        return None
    file = Path(path)
    try:
        key = file.read_text().strip()
    except OSError as exc:
        raise InputFileError(f"{file}: cannot read the API key file ({exc.strerror or exc})") from None
    if not key:
        raise InputFileError(f"{file}: the API key file is empty")
    return key


def run_serve(args: argparse.Namespace) -> int:
    """Load the model, build the app and serve until interrupted."""
    from pydantic import ValidationError

    from aura.models.registry import load_chat_backend, set_torch_threads
    from aura.serve.app import create_app
    from aura.serve.openai_api import APISettings

    if not 0 < args.port < 65536:
        raise ConfigError(f"--port must be in 1..65535, got {args.port}")
    try:
        settings = APISettings(
            api_key=_api_key(args.api_key_file),
            max_body_bytes=int(args.max_body_mb * 1024 * 1024),
            default_temperature=args.temperature,
            default_max_tokens=args.max_tokens,
        )
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ConfigError(f"invalid server setting {err['loc'][0]}: {err['msg']}") from None
    set_torch_threads(args.model, args.threads)
    options: dict = {"device": args.device, "dtype": args.dtype}
    if args.served_model_name:
        options["name"] = args.served_model_name
    if args.max_pixels:
        options["max_pixels"] = args.max_pixels
    backend = load_chat_backend(args.model, **options)
    routers = []
    if not args.no_live:  # the live page, /ws sessions and /metrics (docs/serving.md)
        from aura.serve.realtime_app import live_router

        routers.append(live_router(args.model, token=settings.api_key, speech=not args.no_speech,
                                   temperature=args.temperature, max_new_tokens=args.max_tokens))
    app = create_app(backend, settings, routers=routers)
    import uvicorn

    print(f"aura serve: {backend.name} on http://{args.host}:{args.port}/v1", file=sys.stderr, flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0
