"""The OpenAI-compatible chat-completions API (``POST /v1/chat/completions``, ``GET /v1/models``).

Accepts ``text``, ``video_url`` and ``image_url`` parts (``data:`` URIs only: the server never
fetches anything), runs a local ``ChatBackend`` with prefix-cache reuse, and answers either one
JSON completion or a ``stream: true`` server-sent-event stream. Malformed requests get a 4xx
with an OpenAI-style JSON error; requests are bounded in size; an optional bearer token guards
every route. A silent reply comes back as the literal content ``<|silent|>``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import logging
import queue
import secrets
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any, Literal, Protocol

import numpy as np
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from aura.errors import AuraError
from aura.stream.config import SILENT_TOKEN

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------- backend protocol
class ChatGenerationLike(Protocol):
    """What a backend's generation offers the API."""

    silent: bool
    text: str
    prompt_tokens: int
    cached_tokens: int
    completion_tokens: int
    finish_reason: str

    def __iter__(self) -> Iterator[str]: ...
    def cancel(self) -> None: ...
    def close(self) -> None: ...


class ChatBackend(Protocol):
    """A local model the API can serve (e.g. ``aura.models.hf.chat_backend.HFChatBackend``)."""

    name: str

    def prepare_video(self, frames: np.ndarray) -> Any: ...
    def generate(self, messages: list[dict], videos: Mapping[int, Any], *, temperature: float, max_tokens: int,
                 seed: int) -> ChatGenerationLike: ...


# ---------------------------------------------------------------------- settings and schema
class APISettings(BaseModel):
    """Limits and defaults of the OpenAI-compatible API."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    api_key: str | None = None
    max_body_bytes: int = Field(32 * 1024 * 1024, ge=1024)
    max_messages: int = Field(512, ge=1)
    max_videos: int = Field(128, ge=1)
    max_frames_per_video: int = Field(64, ge=1)
    max_frame_pixels: int = Field(4096 * 4096, ge=1)
    default_temperature: float = Field(0.0, ge=0, le=2)
    default_max_tokens: int = Field(128, ge=1)
    max_tokens_limit: int = Field(4096, ge=1)
    video_cache_entries: int = Field(256, ge=1)


class _URL(BaseModel):
    model_config = ConfigDict(extra="allow")
    url: str


class _Part(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: Literal["text", "image_url", "video_url"]
    text: str | None = None
    image_url: _URL | None = None
    video_url: _URL | None = None


class _Message(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "user", "assistant"]
    content: str | list[_Part] | None = None


class _StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")
    include_usage: bool = False


class ChatRequest(BaseModel):
    """The accepted subset of an OpenAI chat-completions request (unknown fields are ignored)."""

    model_config = ConfigDict(extra="allow")
    model: str | None = None
    messages: list[_Message] = Field(min_length=1)
    stream: bool = False
    stream_options: _StreamOptions | None = None
    temperature: float | None = Field(None, ge=0, le=2)
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    seed: int | None = None
    n: int = Field(1, ge=1, le=1)


class APIError(Exception):
    """A request problem answered with an HTTP status and an OpenAI-style JSON error."""

    def __init__(self, status: int, message: str, *, type_: str = "invalid_request_error", code: str | None = None,
                 param: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.type, self.code, self.param = status, message, type_, code, param

    def response(self) -> JSONResponse:
        body = {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}
        return JSONResponse(body, status_code=self.status)


# ---------------------------------------------------------------------- media
def _data_uri_bytes(url: str, kind: str, max_bytes: int) -> bytes:
    if not url.startswith("data:"):
        raise APIError(400, f"{kind} must be a data: URI (the server fetches nothing)", param=kind)
    head, sep, payload = url.partition(",")
    if not sep or not head.endswith(";base64"):
        raise APIError(400, f"{kind} data URI must be base64-encoded", param=kind)
    if len(payload) > max_bytes * 4 // 3 + 4:
        raise APIError(413, f"{kind} is larger than the request limit", code="too_large", param=kind)
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise APIError(400, f"{kind} data URI is not valid base64", param=kind) from None


class VideoStore:
    """Decoded and preprocessed media keyed by content hash: the same data URI maps to the same chunk id.

    Bounded (least recently used entries leave); a re-sent URI that was dropped gets a new id,
    which only costs a cache miss.
    """

    def __init__(self, backend: ChatBackend, settings: APISettings) -> None:
        self.backend = backend
        self.settings = settings
        self._entries: OrderedDict[str, tuple[int, Any]] = OrderedDict()
        self._next = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, kind: str, url: str) -> tuple[int, Any]:
        """(chunk id, backend pixels) for one ``video_url`` / ``image_url`` data URI."""
        digest = hashlib.sha256(url.encode()).hexdigest()
        hit = self._entries.get(digest)
        if hit is not None:
            self._entries.move_to_end(digest)
            return hit
        data = _data_uri_bytes(url, kind, self.settings.max_body_bytes)
        frames = self._decode(kind, data)
        try:
            pixels = self.backend.prepare_video(frames)
        except AuraError as exc:
            raise APIError(400, f"{kind}: {exc}", param=kind) from None
        entry = (self._next, pixels)
        self._next += 1
        self._entries[digest] = entry
        while len(self._entries) > self.settings.video_cache_entries:
            self._entries.popitem(last=False)
        return entry

    def _decode(self, kind: str, data: bytes) -> np.ndarray:
        s = self.settings
        if kind == "video_url":
            from aura.video.encode import decode_mp4_bytes

            try:
                frames = decode_mp4_bytes(data, max_frames=s.max_frames_per_video)
            except AuraError as exc:
                msg = str(exc).replace("video bytes", "video_url")
                raise APIError(400, msg if "video_url" in msg else f"video_url: {msg}", param=kind) from None
        else:
            from PIL import Image, UnidentifiedImageError

            try:
                with Image.open(io.BytesIO(data)) as img:
                    if img.width * img.height > s.max_frame_pixels:
                        raise APIError(400, f"image_url is {img.width}x{img.height}, too large", param=kind)
                    frames = np.asarray(img.convert("RGB"), dtype=np.uint8)[None]
            except (UnidentifiedImageError, OSError, ValueError):
                raise APIError(400, "image_url is not a decodable image", param=kind) from None
        if frames.shape[1] * frames.shape[2] > s.max_frame_pixels:
            raise APIError(400, f"{kind} frames are {frames.shape[2]}x{frames.shape[1]}, too large", param=kind)
        return frames


def to_messages(req: ChatRequest, store: VideoStore, settings: APISettings) -> tuple[list[dict], dict[int, Any]]:
    """Our message format (video parts naming chunk ids) and the pixels of every referenced chunk."""
    if len(req.messages) > settings.max_messages:
        raise APIError(400, f"too many messages ({len(req.messages)} > {settings.max_messages})", param="messages")
    out: list[dict] = []
    videos: dict[int, Any] = {}
    for i, m in enumerate(req.messages):
        if m.content is None or isinstance(m.content, str):
            out.append({"role": m.role, "content": m.content or ""})
            continue
        if m.role != "user" and any(p.type != "text" for p in m.content):
            raise APIError(400, f"messages[{i}]: only user messages may carry images or videos", param="messages")
        parts: list[dict] = []
        for p in m.content:
            if p.type == "text":
                if p.text is None:
                    raise APIError(400, f"messages[{i}]: a text part has no text", param="messages")
                parts.append({"type": "text", "text": p.text})
                continue
            url = p.video_url if p.type == "video_url" else p.image_url
            if url is None:
                raise APIError(400, f"messages[{i}]: a {p.type} part has no {p.type} object", param="messages")
            key, pixels = store.get(p.type, url.url)
            videos[key] = pixels
            if len(videos) > settings.max_videos:
                raise APIError(400, f"too many videos/images (limit {settings.max_videos})", param="messages")
            parts.append({"type": "video", "chunk": key})
        if m.role == "user":
            out.append({"role": m.role, "content": parts})
        else:
            out.append({"role": m.role, "content": "".join(p["text"] for p in parts)})
    return out, videos


# ---------------------------------------------------------------------- router
async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > limit:
                raise APIError(413, f"request body is larger than {limit} bytes", code="too_large")
        except ValueError:
            raise APIError(400, "invalid Content-Length header") from None
    body = bytearray()
    async for piece in request.stream():
        body.extend(piece)
        if len(body) > limit:
            raise APIError(413, f"request body is larger than {limit} bytes", code="too_large")
    return bytes(body)


def _check_auth(request: Request, settings: APISettings) -> None:
    if settings.api_key is None:
        return
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not secrets.compare_digest(token.strip().encode(), settings.api_key.encode()):
        raise APIError(401, "missing or invalid bearer token", type_="authentication_error", code="invalid_api_key")


def _parse(body: bytes) -> ChatRequest:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise APIError(400, "request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise APIError(400, "request body must be a JSON object")
    try:
        return ChatRequest.model_validate(data)
    except ValidationError as exc:
        err = max(exc.errors(), key=lambda e: len(e.get("loc", ())))  # the most specific complaint
        where = ".".join(str(x) for x in err.get("loc", ()) if not str(x).startswith(("list[", "str")))
        raise APIError(400, f"{where}: {err.get('msg', 'invalid value')}", param=where or None) from None


def build_router(backend: ChatBackend, settings: APISettings | None = None) -> APIRouter:
    """The ``/v1`` routes serving ``backend`` (one generation at a time; requests queue on a lock)."""
    settings = settings or APISettings()
    router = APIRouter()
    lock = threading.Lock()
    store = VideoStore(backend, settings)

    @router.get("/v1/models")
    async def list_models(request: Request) -> JSONResponse:
        try:
            _check_auth(request, settings)
        except APIError as exc:
            return exc.response()
        return JSONResponse(
            {"object": "list", "data": [{"id": backend.name, "object": "model", "created": 0, "owned_by": "aura"}]}
        )

    @router.post("/v1/chat/completions")
    async def chat_completions(request: Request):
        try:
            _check_auth(request, settings)
            req = _parse(await _read_body(request, settings.max_body_bytes))
            if req.model is not None and req.model != backend.name:
                raise APIError(404, f"model {req.model!r} does not exist (this server has {backend.name!r})",
                               code="model_not_found", param="model")
            max_tokens = req.max_completion_tokens or req.max_tokens
            if max_tokens is None:
                max_tokens = min(settings.default_max_tokens, settings.max_tokens_limit)
            if max_tokens > settings.max_tokens_limit:
                raise APIError(400, f"max_tokens {max_tokens} exceeds the limit {settings.max_tokens_limit}",
                               param="max_tokens")
            temperature = settings.default_temperature if req.temperature is None else req.temperature
            seed = req.seed if req.seed is not None else 0
        except APIError as exc:
            return exc.response()
        from starlette.concurrency import run_in_threadpool

        def start() -> ChatGenerationLike:
            with lock:
                messages, videos = to_messages(req, store, settings)
            lock.acquire()
            try:
                return backend.generate(messages, videos, temperature=temperature, max_tokens=max_tokens, seed=seed)
            except BaseException:
                lock.release()
                raise

        try:
            gen = await run_in_threadpool(start)
        except APIError as exc:
            return exc.response()
        except AuraError as exc:
            return APIError(400, str(exc)).response()
        # the lock is held by this generation until it is closed
        rid = f"chatcmpl-{uuid.uuid4().hex}"
        created = int(time.time())
        if not req.stream:
            def finish() -> dict:
                try:
                    for _ in gen:
                        pass
                    return _completion(rid, created, backend.name, gen)
                finally:
                    _release(gen, lock)

            return JSONResponse(await run_in_threadpool(finish))
        include_usage = bool(req.stream_options and req.stream_options.include_usage)
        return StreamingResponse(_sse(rid, created, backend.name, gen, lock, include_usage, request),
                                 media_type="text/event-stream")

    return router


def _release(gen: ChatGenerationLike, lock: threading.Lock) -> None:
    try:
        gen.close()
    finally:
        lock.release()


def _usage(gen: ChatGenerationLike) -> dict:
    return {
        "prompt_tokens": gen.prompt_tokens,
        "completion_tokens": gen.completion_tokens,
        "total_tokens": gen.prompt_tokens + gen.completion_tokens,
        "prompt_tokens_details": {"cached_tokens": gen.cached_tokens},
    }


def _completion(rid: str, created: int, model: str, gen: ChatGenerationLike) -> dict:
    content = SILENT_TOKEN if gen.silent else gen.text
    return {
        "id": rid,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                     "finish_reason": gen.finish_reason, "logprobs": None}],
        "usage": _usage(gen),
    }


def _chunk(rid: str, created: int, model: str, delta: dict, finish: str | None) -> str:
    body = {"id": rid, "object": "chat.completion.chunk", "created": created, "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}]}
    return f"data: {json.dumps(body)}\n\n"


class _Producer(threading.Thread):
    """Runs one generation to its end in its own thread, handing pieces over through a queue.

    The generation (bounded by ``max_tokens``) always finishes and releases the engine lock,
    even when the HTTP client went away and nobody reads the stream any more.
    """

    def __init__(self, gen: ChatGenerationLike, lock: threading.Lock) -> None:
        super().__init__(name="aura-generation", daemon=True)
        self.gen = gen
        self.lock = lock
        self.queue: queue.Queue[tuple[str, Any]] = queue.Queue()
        self.stop = threading.Event()

    def run(self) -> None:
        try:
            if not self.gen.silent:
                for piece in self.gen:
                    self.queue.put(("piece", piece))
                    if self.stop.is_set():
                        self.gen.cancel()
                        break
            self.queue.put(("done", None))
        except Exception as exc:  # reported to the client as an error event
            log.exception("generation failed")
            self.queue.put(("error", exc))
        finally:
            _release(self.gen, self.lock)


async def _sse(rid: str, created: int, model: str, gen: ChatGenerationLike, lock: threading.Lock,
               include_usage: bool, request: Request) -> AsyncIterator[str]:
    """Server-sent events of one completion; a client that hangs up stops decoding early."""
    import anyio

    producer = _Producer(gen, lock)
    producer.start()
    try:
        yield _chunk(rid, created, model, {"role": "assistant", "content": ""}, None)
        if gen.silent:
            yield _chunk(rid, created, model, {"content": SILENT_TOKEN}, None)
        while True:
            kind, value = await anyio.to_thread.run_sync(producer.queue.get)
            if kind == "piece":
                yield _chunk(rid, created, model, {"content": value}, None)
                if await request.is_disconnected():
                    producer.stop.set()
            elif kind == "error":
                msg = str(value).strip().splitlines()[0] if str(value).strip() else type(value).__name__
                yield f"data: {json.dumps({'error': {'message': msg, 'type': 'server_error'}})}\n\n"
                return
            else:
                break
        yield _chunk(rid, created, model, {}, gen.finish_reason)
        if include_usage:
            body = {"id": rid, "object": "chat.completion.chunk", "created": created, "model": model,
                    "choices": [], "usage": _usage(gen)}
            yield f"data: {json.dumps(body)}\n\n"
        yield "data: [DONE]\n\n"
    finally:
        producer.stop.set()
