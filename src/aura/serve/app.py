"""The ``aura serve`` FastAPI application: the OpenAI-compatible API (and room for more routers)."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from aura.serve.openai_api import APISettings, ChatBackend, build_router


def create_app(backend: ChatBackend, settings: APISettings | None = None, *,
               routers: Sequence[APIRouter] = ()) -> FastAPI:
    """An app serving ``backend`` at ``/v1/chat/completions`` and ``/v1/models``, plus extra ``routers``.

    Unknown routes and wrong methods answer with OpenAI-style JSON errors (4xx), not HTML.
    """
    app = FastAPI(title="aura", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.backend = backend
    app.include_router(build_router(backend, settings))
    for router in routers:
        app.include_router(router)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        body = {"error": {"message": str(exc.detail), "type": "invalid_request_error", "param": None, "code": None}}
        return JSONResponse(body, status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        body = {"error": {"message": "invalid request", "type": "invalid_request_error", "param": None, "code": None}}
        return JSONResponse(body, status_code=400)

    return app
