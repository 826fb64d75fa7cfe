"""The asynchronous session: separate asyncio tasks drive one ``SessionCore``.

- ingestion (the caller's receive loop): frames are decoded and pushed at once, audio goes
  through the VAD; neither ever waits for the model;
- the model loop: prefill and every decoded piece run in a worker thread, so the event loop
  keeps ingesting; a new question cancels the generation between two pieces;
- ASR: utterances cut by the VAD are transcribed in a worker thread and asked as questions;
- TTS: complete sentences are synthesised in a worker thread and streamed as PCM blocks;
- the sender: core events and audio become protocol messages on a bounded outbox.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from aura.audio.stack import SpeechStack
from aura.audio.vad import SAMPLE_RATE, Utterance, UtteranceSegmenter
from aura.errors import AuraError
from aura.serve import protocol as p
from aura.serve.session import (
    CancelEvent,
    NoticeEvent,
    QuestionEvent,
    ResponseEndEvent,
    ResponseStartEvent,
    SessionCore,
    SessionError,
    StepEvent,
    TokenEvent,
)

log = logging.getLogger(__name__)
Send = Callable[[dict[str, Any]], Awaitable[None]]


class ConnectionLimits(BaseModel):
    """Per-connection limits (a client past them gets error messages; others are unaffected)."""

    model_config = ConfigDict(extra="forbid")

    max_message_bytes: int = Field(1_000_000, ge=1024, description="largest accepted message")
    max_frame_bytes: int = Field(500_000, ge=1024, description="largest accepted JPEG")
    max_frame_side: int = Field(4096, ge=16, description="largest accepted JPEG width or height")
    frame_side: int = Field(448, ge=16, description="frames are scaled down to at most this side")
    max_frames_per_s: float = Field(10.0, gt=0, description="frame rate above which frames are refused")
    max_audio_factor: float = Field(2.0, gt=0, description="audio accepted per second, in real-time units")
    max_messages_per_s: float = Field(200.0, gt=0)
    max_outbox: int = Field(512, ge=16, description="messages waiting for a slow client before drops")
    metrics_every_s: float = Field(1.0, gt=0)


class RateLimiter:
    """A token bucket on an injected clock: ``allow(cost)`` is True while the rate is respected."""

    def __init__(self, rate: float, burst: float, clock: Callable[[], float]) -> None:
        self.rate, self.burst, self.clock = rate, burst, clock
        self.tokens, self.last = burst, clock()

    def allow(self, cost: float = 1.0) -> bool:
        """Spend ``cost`` if available; False (nothing spent) when over the rate."""
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate)
        self.last = now
        if self.tokens >= cost:
            self.tokens -= cost
            return True
        return False


def decode_jpeg(data: bytes, limits: ConnectionLimits, shape: tuple[int, int] | None) -> np.ndarray:
    """JPEG bytes as an RGB uint8 array, scaled to at most ``frame_side`` (or to ``shape`` = (h, w))."""
    from PIL import Image, UnidentifiedImageError

    try:
        img = Image.open(io.BytesIO(data))
        if img.format != "JPEG":
            raise p.ProtocolError(f"frame is {img.format or 'not an image'}, not JPEG", "bad_frame")
        if max(img.size) > limits.max_frame_side:
            raise p.ProtocolError(f"frame {img.size[0]}x{img.size[1]} exceeds {limits.max_frame_side} px",
                                  "frame_too_large")
        img.draft("RGB", (limits.frame_side, limits.frame_side))
        img = img.convert("RGB")
        if shape is not None:
            size = (shape[1], shape[0])
        else:
            scale = min(1.0, limits.frame_side / max(img.size))
            size = (max(2, round(img.size[0] * scale)), max(2, round(img.size[1] * scale)))
        if img.size != size:
            img = img.resize(size, Image.BILINEAR)
        return np.asarray(img, dtype=np.uint8)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise p.ProtocolError(f"frame is not a decodable JPEG ({type(exc).__name__})", "bad_frame") from None


class LiveSession:
    """One connection's running session: call ``start()``, feed ``handle_*``, then ``close()``."""

    def __init__(self, core: SessionCore, send: Send, *, session_id: str, speech: SpeechStack | None = None,
                 limits: ConnectionLimits | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.core, self.send_json, self.id = core, send, session_id
        self.speech = speech
        self.limits = limits or ConnectionLimits()
        self.clock = clock
        self.outbox: deque[dict[str, Any]] = deque()
        self._wake_model = asyncio.Event()
        self._wake_tts = asyncio.Event()
        self._wake_send = asyncio.Event()
        self._utterances: asyncio.Queue[Utterance] = asyncio.Queue(maxsize=2)
        self._tasks: list[asyncio.Task[None]] = []
        self._frame_rate = RateLimiter(self.limits.max_frames_per_s, self.limits.max_frames_per_s, clock)
        self._msg_rate = RateLimiter(self.limits.max_messages_per_s, self.limits.max_messages_per_s, clock)
        self._audio_rate = RateLimiter(self.limits.max_audio_factor * SAMPLE_RATE,
                                       self.limits.max_audio_factor * SAMPLE_RATE * 2, clock)
        self._error_budget = RateLimiter(5.0, 10.0, clock)
        self._segmenter: UtteranceSegmenter | None = None
        self._frame_shape: tuple[int, int] | None = None
        self._closed = False
        self._ptt_held = False
        self._failed: str | None = None
        if speech is not None and speech.can_listen:
            cfg = speech.config
            self._segmenter = UtteranceSegmenter(speech.vad(), threshold=cfg.vad_threshold,
                                                 min_silence_ms=cfg.min_silence_ms,
                                                 max_utterance_s=cfg.max_utterance_s)
        if speech is None or not speech.can_speak:
            core.config.speak = False

    # ------------------------------------------------------------------ lifecycle
    def ready_message(self) -> dict[str, Any]:
        """The ``ready`` message describing this session."""
        notes = list(self.speech.notes) if self.speech is not None else ["speech off: not configured"]
        return p.ReadyOut(
            session=self.id, model=self.core.model.name, fps=self.core.config.fps,
            listen=self._segmenter is not None, speak=self.core.config.speak, notes=notes,
            limits={"max_message_bytes": self.limits.max_message_bytes,
                    "max_frame_bytes": self.limits.max_frame_bytes,
                    "max_frames_per_s": self.limits.max_frames_per_s,
                    "audio_sample_rate": SAMPLE_RATE},
        ).model_dump()

    def start(self) -> None:
        """Start the model, ASR, TTS, sender and metrics tasks."""
        self.push(self.ready_message())
        for note in self.speech.notes if self.speech is not None else []:
            self.core.notice(note)
        self._tasks = [asyncio.create_task(self._guard(name, coro)) for name, coro in
                       (("model", self._model_loop()), ("asr", self._asr_loop()), ("tts", self._tts_loop()),
                        ("send", self._send_loop()), ("metrics", self._metrics_loop()))]

    @property
    def failed(self) -> str | None:
        """The first task failure of this session (it then stops working), if any."""
        return self._failed

    async def _guard(self, name: str, coro: Awaitable[None]) -> None:
        try:
            await coro
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # one session's failure stays in that session
            log.exception("session %s: %s task failed", self.id, name)
            self._failed = self._failed or f"{name} task failed: {type(exc).__name__}: {exc}"
            if name != "send":
                self.push(p.ErrorOut(code="internal", message=self._failed, fatal=name == "model").model_dump())

    async def close(self) -> None:
        """Stop every task, cancelling any generation in progress."""
        self._closed = True
        self.core.cancel_response("session closed")
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # ------------------------------------------------------------------ inbound
    async def handle_text(self, raw: str) -> None:
        """Handle one JSON text message from the client (errors become ``error`` messages)."""
        try:
            self._check_message(len(raw.encode("utf-8", "replace")))
            msg = p.parse_text(raw)
            if isinstance(msg, p.QuestionIn):
                self.core.ask(msg.text, source="text")
            elif isinstance(msg, p.PingIn):
                self.push(p.PongOut(id=msg.id).model_dump())
            else:
                self._control(msg.action)
        except (p.ProtocolError, SessionError) as exc:
            self.error(getattr(exc, "code", "refused"), str(exc))
        self._wake_all()

    async def handle_bytes(self, raw: bytes) -> None:
        """Handle one binary media message (frame or audio)."""
        try:
            self._check_message(len(raw))
            msg = p.parse_binary(raw)
            if isinstance(msg, p.FrameIn):
                self._frame(msg)
            else:
                self._audio(msg)
        except (p.ProtocolError, SessionError) as exc:
            self.error(getattr(exc, "code", "refused"), str(exc))
        self._wake_all()

    def _check_message(self, size: int) -> None:
        if size > self.limits.max_message_bytes:
            raise p.ProtocolError(f"message of {size} bytes exceeds {self.limits.max_message_bytes}", "too_large")
        if not self._msg_rate.allow():
            raise p.ProtocolError("too many messages per second", "rate_limited")

    def _frame(self, msg: p.FrameIn) -> None:
        if len(msg.jpeg) > self.limits.max_frame_bytes:
            raise p.ProtocolError(f"frame of {len(msg.jpeg)} bytes exceeds {self.limits.max_frame_bytes}",
                                  "frame_too_large")
        if not self._frame_rate.allow():
            self.core.metrics.inc("frames_dropped")
            raise p.ProtocolError(f"frames arrive faster than {self.limits.max_frames_per_s:g}/s", "rate_limited")
        frame = decode_jpeg(msg.jpeg, self.limits, self._frame_shape)
        self._frame_shape = (frame.shape[0], frame.shape[1])
        self.core.push_frame(frame, msg.t)

    def _audio(self, msg: p.AudioIn) -> None:
        if self._segmenter is None:
            raise p.ProtocolError("speech input is off for this session", "no_speech")
        samples = len(msg.pcm) // 2
        if not self._audio_rate.allow(samples):
            raise p.ProtocolError("audio arrives faster than real time allows", "rate_limited")
        for utt in self._segmenter.feed(msg.pcm):
            self._utterance(utt)
        if not self._ptt_held and self._segmenter.in_speech != self.core.user_talking:
            self.core.set_user_talking(self._segmenter.in_speech)  # hands-free: the VAD says who talks

    def _utterance(self, utt: Utterance) -> None:
        self.core.metrics.inc("utterances")
        try:
            self._utterances.put_nowait(utt)
        except asyncio.QueueFull:
            self.error("busy", "speech recognition is busy; an utterance was dropped")

    def _control(self, action: str) -> None:
        if action == "ptt_start":
            self._ptt_held = True
            self.core.set_user_talking(True)
            if self._segmenter is not None:
                self._segmenter.reset()
                self._segmenter.hold = True  # one utterance until release, pauses included
        elif action == "ptt_end":
            self._ptt_held = False
            self.core.set_user_talking(False)
            if self._segmenter is None:
                raise p.ProtocolError("speech input is off for this session", "no_speech")
            self._segmenter.hold = False
            utt = self._segmenter.flush()
            if utt is None:
                self.push(p.NoticeOut(text="no speech heard").model_dump())
            else:
                self._utterance(utt)
        elif action == "speak_on":
            self.core.config.speak = self.speech is not None and self.speech.can_speak
        elif action == "speak_off":
            self.core.config.speak = False
            self.core.cancel_response("speech turned off")
        elif action == "end_of_stream":
            self.core.end_of_stream()

    # ------------------------------------------------------------------ outbound
    def push(self, message: dict[str, Any]) -> None:
        """Queue a message for the client (the oldest is dropped when a slow client lets it fill)."""
        if len(self.outbox) >= self.limits.max_outbox:
            self.outbox.popleft()
            self.core.metrics.inc("out_dropped")
        self.outbox.append(message)
        self.core.metrics.set("out_queue", len(self.outbox))
        self._wake_send.set()

    def error(self, code: str, message: str) -> None:
        """Send an error message (rate-limited; the connection stays open)."""
        self.core.metrics.inc("bad_messages")
        if self._error_budget.allow():
            self.push(p.ErrorOut(code=code, message=message).model_dump())

    def _wake_all(self) -> None:
        self._wake_model.set()
        self._wake_tts.set()
        self._wake_send.set()

    def _pump_events(self) -> None:
        for ev in self.core.drain_events():
            self.push(_event_message(ev))

    async def _send_loop(self) -> None:
        while True:
            self._pump_events()
            while self.outbox:
                msg = self.outbox.popleft()
                self.core.metrics.set("out_queue", len(self.outbox))
                try:
                    await self.send_json(msg)
                except Exception:  # the client left (or its socket broke): the receive loop ends the session
                    log.debug("session %s: send failed; client gone", self.id)
                    return
                self._pump_events()
            self._wake_send.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake_send.wait(), 0.05)

    async def _metrics_loop(self) -> None:
        while True:
            await asyncio.sleep(self.limits.metrics_every_s)
            self.push(p.MetricsOut(metrics=_finite(self.core.metrics.snapshot())).model_dump())

    # ------------------------------------------------------------------ workers
    async def _model_loop(self) -> None:
        core = self.core
        while True:
            plan = core.take_step()
            if plan is None:
                self._wake_model.clear()
                await self._wake_model.wait()
                continue
            core.mark_active(plan)
            try:
                gen = core.attach(plan, await asyncio.to_thread(core.model.begin_step, plan.chunk, plan.question))
            except AuraError as exc:  # the model refused this chunk or question: skip it, keep going
                core.abort(plan, exc)
                continue
            it = iter(gen)
            try:
                while True:
                    piece = await asyncio.to_thread(next, it, None)
                    if piece is None:
                        break
                    keep = core.on_piece(plan, piece)
                    self._wake_tts.set()
                    self._wake_send.set()
                    if not keep:
                        gen.cancel()
                        break
                if plan.cancel_requested:
                    gen.cancel()
                result = await asyncio.to_thread(gen.finish)
            except asyncio.CancelledError:
                gen.cancel()
                raise
            core.end(plan, result)
            self._wake_tts.set()
            self._wake_send.set()

    async def _asr_loop(self) -> None:
        while True:
            utt = await self._utterances.get()
            if self.speech is None or self.speech.asr is None:
                continue
            ended = self.clock()
            text = await asyncio.to_thread(self.speech.asr.transcribe, utt.audio)
            latency = self.clock() - ended
            self.core.metrics.observe("asr_latency_seconds", latency)
            when = self.core.stream_time
            self.push(p.TranscriptOut(text=text, stream_time=when, asr_latency_s=latency).model_dump())
            if text.strip():
                try:
                    self.core.ask(text, source="speech", started=ended)
                except SessionError as exc:
                    self.error("refused", str(exc))
                self._wake_all()

    async def _tts_loop(self) -> None:
        core = self.core
        while True:
            sentence = core.next_sentence()
            if sentence is None or self.speech is None or self.speech.tts is None:
                self._wake_tts.clear()
                await self._wake_tts.wait()
                continue
            tts = self.speech.tts
            it = iter(tts.stream(sentence.text))
            first = True
            try:
                while not core.is_cancelled(sentence.response_id):
                    block = await asyncio.to_thread(next, it, None)
                    if block is None:
                        break
                    seconds = len(block) / tts.sample_rate
                    if not core.audio_sent(sentence, seconds, first=first):
                        break
                    self.push(p.AudioOut(id=sentence.response_id, sample_rate=tts.sample_rate, first=first,
                                         pcm=base64.b64encode(block.astype("<i2").tobytes()).decode()).model_dump())
                    first = False
            finally:
                core.sentence_done(sentence)


def _finite(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    return obj


def _event_message(ev: object) -> dict[str, Any]:
    if isinstance(ev, TokenEvent):
        return p.TokenOut(id=ev.response_id, text=ev.text).model_dump()
    if isinstance(ev, QuestionEvent):
        return p.QuestionOut(text=ev.text, stream_time=ev.stream_time, source=ev.source).model_dump()
    if isinstance(ev, ResponseStartEvent):
        return p.ResponseStartOut(id=ev.response_id, stream_time=ev.stream_time, question=ev.question).model_dump()
    if isinstance(ev, ResponseEndEvent):
        return p.ResponseOut(id=ev.response_id, text=ev.text, cancelled=ev.cancelled).model_dump()
    if isinstance(ev, CancelEvent):
        return p.CancelOut(id=ev.response_id, reason=ev.reason).model_dump()
    if isinstance(ev, StepEvent):
        return p.StepOut(step=ev.step, chunk_start=ev.chunk_start, chunk_end=ev.chunk_end, chunks=ev.chunks,
                         silent=ev.silent, latency_s=ev.latency_s).model_dump()
    if isinstance(ev, NoticeEvent):
        return p.NoticeOut(text=ev.text).model_dump()
    raise TypeError(f"unknown session event {ev!r}")
