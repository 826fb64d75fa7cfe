"""The real-time routes: the web page, the WebSocket session endpoint and ``/metrics``.

``build_router(server)`` returns an ``APIRouter`` to include in any FastAPI app (the
OpenAI-compatible app includes it). Each WebSocket connection gets its own model instance
(from ``model_factory``) and its own ``LiveSession``; a connection's errors, floods or abrupt
disconnects are handled inside it and never reach another session.
"""

from __future__ import annotations

import asyncio
import hmac
import itertools
import logging
import time
from collections.abc import Callable
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import FileResponse, PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field

from aura.audio.stack import SpeechStack
from aura.models.base import StreamingModel
from aura.serve import protocol as p
from aura.serve.metrics import render_prometheus
from aura.serve.runtime import ConnectionLimits, LiveSession
from aura.serve.session import SessionConfig, SessionCore

log = logging.getLogger(__name__)
STATIC_DIR = Path(__file__).parent / "static"
PAGE_FILES = {"index.html": "text/html", "app.js": "text/javascript", "style.css": "text/css"}


class RealtimeConfig(BaseModel):
    """Server-wide settings of the real-time endpoint (safe laptop defaults)."""

    model_config = ConfigDict(extra="forbid")

    token: str | None = Field(None, description="required as ?token= (WebSocket, /metrics) when set")
    max_sessions: int = Field(4, ge=1, description="concurrent WebSocket sessions")
    session: SessionConfig = Field(default_factory=SessionConfig)
    limits: ConnectionLimits = Field(default_factory=ConnectionLimits)
    sample_video: Path | None = Field(None, description="a video file the page can play as its source")


class RealtimeServer:
    """Shared state of the real-time endpoint: the model factory, speech stack and live sessions."""

    def __init__(self, model_factory: Callable[[], StreamingModel], config: RealtimeConfig | None = None,
                 speech: SpeechStack | None = None) -> None:
        self.model_factory = model_factory
        self.config = config or RealtimeConfig()
        self.speech = speech
        self.sessions: dict[str, LiveSession] = {}
        self.rejected = 0
        self.closed_sessions = 0
        self._loading = 0
        self._ids = itertools.count(1)

    def authorised(self, token: str | None) -> bool:
        """True when no token is configured, or ``token`` matches it."""
        want = self.config.token
        return want is None or (token is not None and hmac.compare_digest(token.encode(), want.encode()))

    def metrics_text(self) -> str:
        """Prometheus text for every live session plus server gauges."""
        return render_prometheus(
            {sid: live.core.metrics for sid, live in self.sessions.items()},
            {"sessions_active": len(self.sessions), "sessions_rejected": self.rejected,
             "sessions_closed": self.closed_sessions},
        )

    async def serve(self, ws: WebSocket) -> None:
        """Run one WebSocket session until the client leaves (never raises for client behaviour)."""
        await ws.accept()
        if not self.authorised(ws.query_params.get("token")):
            self.rejected += 1
            await _refuse(ws, "unauthorised", "missing or wrong token", 1008)
            return
        if len(self.sessions) + self._loading >= self.config.max_sessions:
            self.rejected += 1
            await _refuse(ws, "busy", f"the server already runs {self.config.max_sessions} sessions", 1013)
            return
        sid = f"s{next(self._ids)}"
        live: LiveSession | None = None
        self._loading += 1  # the slot is taken while the model loads
        try:
            try:
                model = await asyncio.to_thread(self.model_factory)
            finally:
                self._loading -= 1
            core = SessionCore(model, self.config.session.model_copy(), clock=time.monotonic)
            live = LiveSession(core, ws.send_json, session_id=sid, speech=self.speech, limits=self.config.limits)
            self.sessions[sid] = live
            live.start()
            while True:
                msg = await ws.receive()
                if msg["type"] == "websocket.disconnect":
                    break
                if msg.get("text") is not None:
                    await live.handle_text(msg["text"])
                elif msg.get("bytes") is not None:
                    await live.handle_bytes(msg["bytes"])
        except WebSocketDisconnect:
            pass
        except Exception as exc:  # a bug in one session must not take the server down
            log.exception("session %s failed", sid)
            await _refuse(ws, "internal", f"session failed: {type(exc).__name__}", 1011)
        finally:
            if live is not None:
                await live.close()
            self.sessions.pop(sid, None)
            self.closed_sessions += 1


async def _refuse(ws: WebSocket, code: str, message: str, close_code: int) -> None:
    try:
        await ws.send_json(p.ErrorOut(code=code, message=message, fatal=True).model_dump())
        await ws.close(code=close_code)
    except Exception:  # the client may already be gone
        pass


def build_router(server: RealtimeServer) -> APIRouter:
    """The page (``/``, ``/static/*``), the session endpoint (``/ws``), ``/metrics`` and ``/sample-video``."""
    router = APIRouter()

    @router.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html")

    @router.get("/static/{name}", include_in_schema=False)
    async def static(name: str) -> FileResponse:
        if name not in PAGE_FILES:
            raise HTTPException(status_code=404, detail="no such file")
        return FileResponse(STATIC_DIR / name, media_type=PAGE_FILES[name])

    @router.get("/sample-video", include_in_schema=False)
    async def sample_video() -> FileResponse:
        path = server.config.sample_video
        if path is None or not path.is_file():
            raise HTTPException(status_code=404, detail="no sample video configured")
        return FileResponse(path)

    @router.get("/metrics", response_class=PlainTextResponse)
    async def metrics(request: Request) -> PlainTextResponse:
        if not server.authorised(request.query_params.get("token") or _bearer(request)):
            raise HTTPException(status_code=401, detail="missing or wrong token")
        return PlainTextResponse(server.metrics_text(), media_type="text/plain; version=0.0.4")

    @router.websocket("/ws")
    async def websocket(ws: WebSocket) -> None:
        await server.serve(ws)

    return router


def _bearer(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    return auth[7:] if auth.lower().startswith("bearer ") else None
