"""A FastAPI app holding only the real-time routes (the page, ``/ws``, ``/metrics``).

The full server (``aura serve``) includes the same router next to the OpenAI-compatible API;
this factory is for tests, the benchmark and ``aura demo`` when only the live side is needed.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI

from aura.audio.stack import SpeechStack
from aura.models.base import StreamingModel
from aura.serve.ws import RealtimeConfig, RealtimeServer, build_router


def create_realtime_app(model_factory: Callable[[], StreamingModel], config: RealtimeConfig | None = None,
                        speech: SpeechStack | None = None) -> FastAPI:
    """An app serving the page, the WebSocket sessions and ``/metrics`` for models from ``model_factory``."""
    app = FastAPI(title="aura live", docs_url=None, redoc_url=None)
    server = RealtimeServer(model_factory, config, speech)
    app.state.realtime = server
    app.include_router(build_router(server))
    return app
