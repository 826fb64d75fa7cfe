"""The real-time session core: frames in, chunks to the model, questions, cancellation, sentences.

``SessionCore`` is a synchronous state machine with an injected clock (no wall clock inside):
tests drive it step by step with a ``ManualClock``; ``aura.serve.runtime`` drives the same object
from asyncio tasks (ingestion, model loop, ASR, TTS). Everything it holds is bounded:

- the chunk being filled holds at most ``frames_per_chunk`` frames (one per 1/fps slot);
- completed chunks wait in a queue of at most ``max_ready_chunks``; when the model falls
  behind, the next step merges every waiting chunk into one (a catch-up step, counted in the
  metrics), and chunks beyond the bound are dropped (counted) rather than queued;
- at most ``max_pending_questions`` questions wait for the next chunk;
- sentences waiting for speech and events waiting for the client live in bounded deques.
"""

from __future__ import annotations

import itertools
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from aura.audio.sentences import SentenceSplitter
from aura.errors import AuraError
from aura.models.base import StepGeneration, StepResult, StreamingModel
from aura.serve.metrics import SessionMetrics
from aura.stream import VideoChunk

Clock = Callable[[], float]


class SessionError(AuraError):
    """A client request the session refuses (bad frame, bad question, too many questions)."""


class ManualClock:
    """A clock that moves only when told to: for tests, simulations and benchmarks on replayed time."""

    def __init__(self, start: float = 0.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        """Move forward by ``seconds`` (never backwards) and return the new time."""
        self.now += max(0.0, seconds)
        return self.now


class SessionConfig(BaseModel):
    """Bounds and behaviour of one session (defaults suit a laptop)."""

    model_config = ConfigDict(extra="forbid")

    fps: float = Field(2.0, gt=0, le=30)
    chunk_seconds: float = Field(1.0, gt=0, le=10)
    max_ready_chunks: int = Field(30, ge=1, description="completed chunks that may wait for the model")
    max_pending_questions: int = Field(8, ge=1)
    max_question_chars: int = Field(2000, ge=1)
    max_sentences_queued: int = Field(16, ge=1)
    max_events_queued: int = Field(1024, ge=16)
    max_response_chars: int = Field(4000, ge=1)
    speak: bool = True
    question_closes_chunk: bool = Field(
        True, description="a question ends the chunk being filled at the newest frame, so it is answered now "
                          "instead of at the next 1-second boundary")

    @property
    def frames_per_chunk(self) -> int:
        """Frames one chunk carries (fps x chunk length, at least one)."""
        return max(1, round(self.fps * self.chunk_seconds))


# ---------------------------------------------------------------------- events out of the core
@dataclass(frozen=True)
class QuestionEvent:
    """A question was accepted; it is asked with the next chunk."""

    text: str
    stream_time: float
    source: Literal["text", "speech"]


@dataclass(frozen=True)
class StepEvent:
    """A step finished: which chunks it covered, whether it spoke, and what it cost."""

    step: int
    chunk_start: float
    chunk_end: float
    chunks: int
    silent: bool
    latency_s: float


@dataclass(frozen=True)
class TokenEvent:
    """A decoded piece of a response."""

    response_id: int
    text: str


@dataclass(frozen=True)
class ResponseStartEvent:
    """A response began (its first piece was decoded) at this stream time."""

    response_id: int
    stream_time: float
    question: str | None


@dataclass(frozen=True)
class ResponseEndEvent:
    """A response is complete (or was cut short by a new question)."""

    response_id: int
    text: str
    cancelled: bool


@dataclass(frozen=True)
class CancelEvent:
    """A response (its text and audio) was cancelled; the client stops playing it."""

    response_id: int
    reason: str


@dataclass(frozen=True)
class NoticeEvent:
    """Something the user should know once (e.g. speech is off and why)."""

    text: str


Event = QuestionEvent | StepEvent | TokenEvent | ResponseStartEvent | ResponseEndEvent | CancelEvent | NoticeEvent


@dataclass
class Sentence:
    """A complete sentence of a response, waiting to be spoken."""

    response_id: int
    text: str
    ready_at: float


@dataclass
class StepPlan:
    """What the next model step consumes: one (possibly merged) chunk and the questions for it."""

    step: int
    chunk: VideoChunk
    chunks: int
    question: str | None
    question_started: float | None
    response_id: int
    began_at: float = 0.0
    first_piece_at: float | None = None
    text: str = ""
    cancel_requested: bool = False
    splitter: SentenceSplitter = field(default_factory=SentenceSplitter)


@dataclass
class _Pending:
    texts: list[str] = field(default_factory=list)
    started: float | None = None  # end of speech / arrival of the first waiting question


class SessionCore:
    """One user's stream: ingestion, step planning, cancellation and sentence release.

    Not thread-safe: call it from one thread (the event loop); the model may decode elsewhere
    between calls.
    """

    def __init__(self, model: StreamingModel, config: SessionConfig | None = None, *, clock: Clock) -> None:
        self.model = model
        self.config = config or SessionConfig()
        self.clock = clock
        self.metrics = SessionMetrics()
        self.events: deque[Event] = deque(maxlen=self.config.max_events_queued)
        self.sentences: deque[Sentence] = deque(maxlen=self.config.max_sentences_queued)
        self._slots: dict[int, np.ndarray] = {}
        self._filling: int | None = None  # nominal index (floor(t / chunk_seconds)) of the chunk being filled
        self._fill_start = 0.0
        self._chunk_floor = 0.0  # end of the last completed chunk: chunks never overlap
        self._close_on_next_frame = False
        self._ready: deque[VideoChunk] = deque()
        self._pending = _Pending()
        self._last_frame_t = -math.inf
        self._steps = 0
        self._response_ids = itertools.count(1)
        self._cancelled: deque[int] = deque(maxlen=64)
        self.active: StepPlan | None = None
        self._active_gen: StepGeneration | None = None
        self.speaking: int | None = None
        self.speaking_until = -math.inf
        self._frame_shape: tuple[int, ...] | None = None
        self._e2e_pending: dict[int, float] = {}  # response id -> when its question was asked
        self.user_talking = False
        model.reset()

    # ------------------------------------------------------------------ ingestion
    def push_frame(self, frame: np.ndarray, t: float) -> None:
        """Accept one RGB frame (uint8 H x W x 3) at stream time ``t`` seconds; never waits.

        Frames are kept one per 1/fps slot (a later frame in the same slot replaces the earlier,
        counted as dropped). The first frame of a later chunk completes the chunk being filled.
        Raises ``SessionError`` for a malformed frame or a time going backwards.
        """
        if not (isinstance(frame, np.ndarray) and frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3):
            raise SessionError("a frame must be a uint8 RGB image (H x W x 3)")
        if not math.isfinite(t) or t < 0:
            raise SessionError(f"frame time {t!r} is not a finite, non-negative number of seconds")
        if t < self._last_frame_t:
            self.metrics.inc("frames_dropped")
            raise SessionError(f"frame at t={t:g}s goes back before t={self._last_frame_t:g}s")
        if self._frame_shape is not None and frame.shape != self._frame_shape:
            raise SessionError(f"frame size {frame.shape[1]}x{frame.shape[0]} differs from the stream's "
                               f"{self._frame_shape[1]}x{self._frame_shape[0]}")
        self._frame_shape = frame.shape
        self._last_frame_t = t
        cs = self.config.chunk_seconds
        chunk = int(t // cs)
        if self._filling is not None and chunk != self._filling:
            self._complete_filling()
        if self._filling is None:
            self._filling = chunk
            self._fill_start = max(chunk * cs, self._chunk_floor)
        slot = min(self.config.frames_per_chunk - 1, int((t - chunk * cs) * self.config.fps))
        if slot in self._slots:
            self.metrics.inc("frames_dropped")
        self._slots[slot] = frame
        self.metrics.inc("frames_in")
        if self._close_on_next_frame:
            self._close_early()
        self._update_gauges()

    def end_of_stream(self) -> None:
        """Complete the chunk being filled (the input ended)."""
        if self._filling is not None:
            self._complete_filling()
        self._update_gauges()

    def _close_early(self) -> None:
        """A question asks about *now*: end the chunk being filled at the newest frame."""
        self._close_on_next_frame = False
        assert self._filling is not None
        nominal_end = (self._filling + 1) * self.config.chunk_seconds
        end = min(nominal_end, self._last_frame_t + 1.0 / self.config.fps)
        self._complete_filling(max(end, self._fill_start + 1e-3))

    def _complete_filling(self, end: float | None = None) -> None:
        assert self._filling is not None
        k = self._filling
        frames = [self._slots[s] for s in sorted(self._slots)]
        self._slots.clear()
        self._filling = None
        if not frames:
            return
        while len(frames) < self.config.frames_per_chunk:  # a missing slot repeats the newest frame
            frames.append(frames[-1])
        end = (k + 1) * self.config.chunk_seconds if end is None else end
        self._ready.append(VideoChunk(index=k, start=self._fill_start, end=end, frames=np.stack(frames)))
        self._chunk_floor = end
        self.metrics.chunk_completed(self.clock())
        while len(self._ready) > self.config.max_ready_chunks:
            self._ready.popleft()
            self.metrics.inc("chunks_dropped")

    @property
    def stream_time(self) -> float:
        """The stream time of the newest frame (0 before any)."""
        return max(self._last_frame_t, 0.0)

    @property
    def ready_chunks(self) -> int:
        """Completed chunks waiting for the model."""
        return len(self._ready)

    # ------------------------------------------------------------------ questions
    def ask(self, text: str, *, stream_time: float | None = None, source: Literal["text", "speech"] = "text",
            started: float | None = None) -> None:
        """Accept a question for the next chunk, cancelling any response being generated or spoken.

        ``started`` is when the user finished asking (end of speech; default: now), the start of
        the end-to-end latency. Raises ``SessionError`` for an empty or too long question, or
        when too many questions already wait.
        """
        text = " ".join(str(text).split())
        if not text:
            raise SessionError("the question is empty")
        if len(text) > self.config.max_question_chars:
            raise SessionError(f"the question has {len(text)} characters (max {self.config.max_question_chars})")
        if len(self._pending.texts) >= self.config.max_pending_questions:
            raise SessionError(f"{len(self._pending.texts)} questions already wait for the next chunk")
        now = self.clock()
        self.cancel_response("new question")
        self._pending.texts.append(text)
        if self._pending.started is None:
            self._pending.started = now if started is None else started
        self.metrics.inc("questions")
        if self.config.question_closes_chunk:
            if self._slots:
                self._close_early()
            else:
                self._close_on_next_frame = True
        when = stream_time if stream_time is not None else self.stream_time
        self._emit(QuestionEvent(text=text, stream_time=when, source=source))
        self._update_gauges()

    def cancel_response(self, reason: str) -> bool:
        """Cancel the response being generated and/or spoken; True if there was one."""
        now = self.clock()
        hit = False
        if self.active is not None and not self.active.cancel_requested:
            self.active.cancel_requested = True  # (still prefilling: it stops before it speaks)
            if self._active_gen is not None:
                self._active_gen.cancel()  # reaches the decoder now, not only at its next piece
            if self.active.first_piece_at is not None:
                self._cancelled.append(self.active.response_id)
                self._emit(CancelEvent(self.active.response_id, reason))
                hit = True
        speaking = self.speaking is not None or now < self.speaking_until
        if self.sentences or speaking:
            ids = {s.response_id for s in self.sentences}
            if self.speaking is not None:
                ids.add(self.speaking)
            self.sentences.clear()
            for rid in sorted(ids - set(self._cancelled)):
                self._cancelled.append(rid)
                self._emit(CancelEvent(rid, reason))
                hit = True
            self.speaking, self.speaking_until = None, -math.inf
        if hit:
            self.metrics.inc("cancellations")
        self._update_gauges()
        return hit

    def is_cancelled(self, response_id: int) -> bool:
        """True when ``response_id`` was cancelled (its remaining audio must not be sent)."""
        return response_id in self._cancelled

    # ------------------------------------------------------------------ model steps
    def take_step(self) -> StepPlan | None:
        """Plan the next step: every waiting chunk (merged when more than one) and the waiting questions.

        None when no chunk is ready. A merged chunk spans all waiting chunks and carries
        ``frames_per_chunk`` frames spread over them, newest last.
        """
        if not self._ready:
            return None
        waiting = list(self._ready)
        self._ready.clear()
        if len(waiting) == 1:
            frames = waiting[0].frames
        else:
            stacked = np.concatenate([c.frames for c in waiting])
            idx = np.linspace(0, len(stacked) - 1, self.config.frames_per_chunk).round().astype(int)
            frames = stacked[idx]
            self.metrics.inc("catchup_steps")
            self.metrics.inc("chunks_merged", len(waiting) - 1)
        chunk = VideoChunk(index=self._steps, start=waiting[0].start, end=waiting[-1].end, frames=frames)
        question = "\n".join(self._pending.texts) or None
        plan = StepPlan(step=self._steps, chunk=chunk, chunks=len(waiting), question=question,
                        question_started=self._pending.started, response_id=next(self._response_ids))
        self._pending = _Pending()
        self._steps += 1
        self._update_gauges()
        return plan

    def begin(self, plan: StepPlan) -> StepGeneration:
        """Start the model on ``plan`` (the caller iterates the result, calling ``on_piece``)."""
        self.mark_active(plan)
        return self.attach(plan, self.model.begin_step(plan.chunk, plan.question))

    def mark_active(self, plan: StepPlan) -> None:
        """``plan`` is now running (call before ``model.begin_step`` when that runs in another thread)."""
        self.active = plan
        plan.began_at = self.clock()

    def attach(self, plan: StepPlan, gen: StepGeneration) -> StepGeneration:
        """Bind the generation started for ``plan``; cancel it at once if a question came meanwhile."""
        self._active_gen = gen
        if plan.cancel_requested:
            gen.cancel()
        return gen

    def on_piece(self, plan: StepPlan, piece: str) -> bool:
        """Handle one decoded piece; return False when the caller must cancel the generation now."""
        if plan.cancel_requested:
            return False
        now = self.clock()
        if plan.first_piece_at is None:
            plan.first_piece_at = now
            self.metrics.observe("ttft_seconds", now - plan.began_at)
            if plan.question_started is not None:
                self.metrics.observe("question_to_first_token_seconds", now - plan.question_started)
                if not self.config.speak:
                    self.metrics.observe("e2e_seconds", now - plan.question_started)
            self.metrics.inc("responses")
            self._emit(ResponseStartEvent(plan.response_id, plan.chunk.end, plan.question))
        plan.text += piece
        self.metrics.inc("tokens")
        self._emit(TokenEvent(plan.response_id, piece))
        for sentence in plan.splitter.feed(piece):
            self._queue_sentence(plan, sentence, now)
        return len(plan.text) < self.config.max_response_chars

    def end(self, plan: StepPlan, result: StepResult) -> StepEvent:
        """Close the step: release the last sentence, record metrics, emit the step and response ends."""
        now = self.clock()
        cancelled = plan.cancel_requested or result.cancelled
        if not cancelled:
            for sentence in plan.splitter.flush():
                self._queue_sentence(plan, sentence, now)
        if plan.first_piece_at is not None:
            self._emit(ResponseEndEvent(plan.response_id, result.text or plan.text, cancelled))
        latency = now - plan.began_at
        self.metrics.inc("steps")
        self.metrics.observe("step_latency_seconds", latency)
        self.metrics.inc("prefill_tokens", int(result.timings.prefill_tokens))
        self.metrics.inc("reused_tokens", int(result.timings.reused_tokens))
        event = StepEvent(step=plan.step, chunk_start=plan.chunk.start, chunk_end=plan.chunk.end,
                          chunks=plan.chunks, silent=plan.first_piece_at is None, latency_s=latency)
        self._emit(event)
        self.active, self._active_gen = None, None
        self._update_gauges()
        return event

    def abort(self, plan: StepPlan, error: AuraError) -> None:
        """The model refused ``plan`` (bad chunk, bad question): tell the client and carry on."""
        self.active, self._active_gen = None, None
        self.metrics.inc("steps")
        self._emit(NoticeEvent(f"step {plan.step} skipped: {error}"))
        self._update_gauges()

    def run_step(self) -> StepEvent | None:
        """Run one whole step synchronously (tests, benchmarks): plan, decode, cancel if asked, close.

        Returns None when no chunk is ready or the model refused the step (see ``abort``).
        """
        plan = self.take_step()
        if plan is None:
            return None
        try:
            gen = self.begin(plan)
        except AuraError as exc:
            self.abort(plan, exc)
            return None
        for piece in gen:
            if not self.on_piece(plan, piece):
                gen.cancel()
                break
        if plan.cancel_requested:
            gen.cancel()
        return self.end(plan, gen.finish())

    # ------------------------------------------------------------------ speech out
    def set_user_talking(self, talking: bool) -> None:
        """Push-to-talk pressed (True) or released: the assistant stops and stays quiet while the user talks."""
        self.user_talking = talking
        if talking:
            self.cancel_response("user started talking")

    def _queue_sentence(self, plan: StepPlan, text: str, now: float) -> None:
        if not self.config.speak or self.user_talking:  # never talk over the user (the text still shows)
            return
        if len(self.sentences) == self.sentences.maxlen:
            self.metrics.inc("sentences_dropped")
        self.sentences.append(Sentence(plan.response_id, text, now))
        self.metrics.inc("sentences")
        if plan.question_started is not None and plan.response_id not in self._e2e_pending:
            self._e2e_pending[plan.response_id] = plan.question_started
            while len(self._e2e_pending) > 64:
                self._e2e_pending.pop(next(iter(self._e2e_pending)))
        self._update_gauges()

    def next_sentence(self) -> Sentence | None:
        """The oldest sentence waiting for speech (skipping cancelled responses), marked as speaking."""
        while self.sentences:
            s = self.sentences.popleft()
            if not self.is_cancelled(s.response_id):
                self.speaking = s.response_id
                self._update_gauges()
                return s
        self._update_gauges()
        return None

    def audio_sent(self, sentence: Sentence, seconds: float, *, first: bool) -> bool:
        """Record an audio chunk of ``sentence`` sent out; False if its response was cancelled (stop)."""
        if self.is_cancelled(sentence.response_id):
            return False
        now = self.clock()
        if first:
            self.metrics.observe("tts_first_audio_seconds", now - sentence.ready_at)
            started = self._e2e_pending.pop(sentence.response_id, None)
            if started is not None:
                self.metrics.observe("e2e_seconds", now - started)
        self.metrics.inc("audio_chunks")
        self.speaking_until = max(self.speaking_until, now) + seconds
        return True

    def sentence_done(self, sentence: Sentence) -> None:
        """The sentence has been synthesised completely (or abandoned)."""
        if self.speaking == sentence.response_id:
            self.speaking = None

    # ------------------------------------------------------------------ events
    def _emit(self, event: Event) -> None:
        if len(self.events) == self.events.maxlen:
            self.metrics.inc("out_dropped")
        self.events.append(event)

    def notice(self, text: str) -> None:
        """Tell the client something once (e.g. why speech is off)."""
        self._emit(NoticeEvent(text))

    def drain_events(self) -> list[Event]:
        """Every event not yet delivered, oldest first."""
        out = list(self.events)
        self.events.clear()
        return out

    def _update_gauges(self) -> None:
        m = self.metrics
        m.set("frame_buffer", len(self._slots))
        m.set("ready_chunks", len(self._ready))
        m.set("tts_queue", len(self.sentences))
        m.set("pending_questions", len(self._pending.texts))
