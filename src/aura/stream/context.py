"""The stream context: the one implementation of what an AURA model sees.

Fed event by event (chunk, questions, reply; chunk, ...), it keeps the video window and the
text history bounded and renders them as chat messages. The same object builds prompts at
inference, unrolls training samples and defines what the loss supervises.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

from aura.errors import (
    ChunkGapError,
    EmptyQuestionError,
    QuestionTooLongError,
    ResponseWithoutQuestionError,
    StreamError,
    TimestampError,
    TurnStateError,
)
from aura.stream.config import SILENT_TOKEN, ContextConfig
from aura.stream.events import AssistantResponse, Event, Silence, UserQuestion, VideoChunk
from aura.stream.history import EvictedTurn, TextHistory
from aura.stream.messages import Message, assistant_message, system_message, user_chunk_message


@dataclass
class Turn:
    """One chunk of the video window with the questions asked during it and the reply to it."""

    chunk: VideoChunk
    questions: list[tuple[str, str]] = field(default_factory=list)
    closed: bool = False
    reply: str | None = None  # None: silent (once closed)
    reply_group: str | None = None
    reply_time: float = 0.0

    def user_message(self) -> Message:
        text = "\n".join(q for _, q in self.questions) or None
        return user_chunk_message(self.chunk.index, self.chunk.start, self.chunk.end, text)


@dataclass(frozen=True)
class Rendered:
    """A rendered context: the messages, and how many leading ones equal the previous render's.

    ``evicted`` is True when turns left the window since the previous render (the moment a
    backend rebuilds its cache).
    """

    messages: list[Message]
    stable_prefix: int
    evicted: bool


class StreamContext:
    """AURA's dual sliding window with floating eviction, fed one event at a time.

    Events must come in stream order: a ``VideoChunk`` opens a turn, ``UserQuestion`` events
    attach to it, and an ``AssistantResponse`` or ``Silence`` closes it. Invalid events raise a
    ``StreamError`` subclass and leave the context unchanged.
    """

    def __init__(self, config: ContextConfig | None = None) -> None:
        self.config = config or ContextConfig()
        self.window: deque[Turn] = deque()
        self.history = TextHistory(self.config.history_groups, self.config.multi_answer_cap)
        self._alive: dict[str, None] = {}  # open question groups, oldest first
        self._next_qid = 0
        self._last_time = -math.inf
        self._last_index: int | None = None
        self._previous: list[Message] | None = None
        self._evicted_since_render = False
        self.evictions = 0
        self.chunks_seen = 0

    # ------------------------------------------------------------------ feeding
    def feed(self, event: Event) -> None:
        """Apply one event; raise a ``StreamError`` (and change nothing) if it does not fit."""
        if isinstance(event, VideoChunk):
            self._add_chunk(event)
        elif isinstance(event, UserQuestion):
            self._add_question(event)
        elif isinstance(event, AssistantResponse):
            self._close_turn(event.time, event.text, event.question_id)
        elif isinstance(event, Silence):
            self._close_turn(event.time, None, None)
        else:
            raise StreamError(f"unknown event type {type(event).__name__}")

    @property
    def open_turn(self) -> Turn | None:
        """The newest turn if it still waits for the assistant's reply."""
        if self.window and not self.window[-1].closed:
            return self.window[-1]
        return None

    def open_questions(self) -> list[str]:
        """Ids of question groups a reply may still answer, oldest first."""
        return list(self._alive)

    def _check_time(self, time: float, what: str) -> None:
        if not math.isfinite(time):
            raise TimestampError(f"{what} has a non-finite time {time!r}")
        if time < self._last_time:
            raise TimestampError(f"{what} at t={time:g}s goes back before t={self._last_time:g}s")

    def _add_chunk(self, chunk: VideoChunk) -> None:
        if self.open_turn is not None:
            raise TurnStateError(
                f"chunk {chunk.index} arrived before the reply to chunk {self.window[-1].chunk.index}"
            )
        if self._last_index is not None and chunk.index != self._last_index + 1:
            raise ChunkGapError(f"chunk {chunk.index} does not follow chunk {self._last_index}")
        self._check_time(chunk.start, f"chunk {chunk.index}")
        if not (math.isfinite(chunk.end) and chunk.end > chunk.start):
            raise TimestampError(f"chunk {chunk.index} ends at {chunk.end!r}, not after its start")
        self._last_index = chunk.index
        self._last_time = chunk.start
        self.chunks_seen += 1
        self.window.append(Turn(chunk))
        self._evict_if_due()

    def _add_question(self, q: UserQuestion) -> None:
        turn = self.open_turn
        if turn is None:
            raise TurnStateError(f"question at t={q.time:g}s arrived with no open chunk")
        text = q.text.strip()
        if not text:
            raise EmptyQuestionError(f"question at t={q.time:g}s is empty")
        if len(text) > self.config.max_question_chars:
            raise QuestionTooLongError(
                f"question at t={q.time:g}s has {len(text)} characters "
                f"(limit {self.config.max_question_chars})"
            )
        self._check_time(q.time, "question")
        if not (turn.chunk.start <= q.time <= turn.chunk.end):
            raise TimestampError(
                f"question at t={q.time:g}s lies outside chunk {turn.chunk.index} "
                f"[{turn.chunk.start:g}, {turn.chunk.end:g}]"
            )
        if len(turn.questions) >= self.config.max_questions_per_chunk:
            raise StreamError(
                f"chunk {turn.chunk.index} already has {len(turn.questions)} questions "
                f"(limit {self.config.max_questions_per_chunk})"
            )
        qid = q.id if q.id is not None else f"q{self._next_qid}"
        if qid in self._alive:
            raise StreamError(f"question id {qid!r} is already in use")
        self._next_qid += 1
        self._last_time = q.time
        self._alive[qid] = None
        turn.questions.append((qid, text))

    def _close_turn(self, time: float, text: str | None, question_id: str | None) -> None:
        turn = self.open_turn
        if turn is None:
            raise TurnStateError(f"assistant reply at t={time:g}s has no open chunk to answer")
        self._check_time(time, "assistant reply")
        if text is not None:
            text = text.strip()
            if not text:
                raise StreamError(f"assistant reply at t={time:g}s is empty (use Silence for silence)")
            if text == SILENT_TOKEN:
                text, question_id = None, None
        group = None
        if text is not None:
            if question_id is None:
                if not self._alive:
                    raise ResponseWithoutQuestionError(
                        f"assistant reply at t={time:g}s answers no question (none is open)"
                    )
                group = next(reversed(self._alive))
            elif question_id in self._alive:
                group = question_id
            else:
                raise ResponseWithoutQuestionError(
                    f"assistant reply at t={time:g}s answers question {question_id!r}, which is not open"
                )
        self._last_time = time
        turn.closed, turn.reply, turn.reply_group, turn.reply_time = True, text, group, time

    # ------------------------------------------------------------------ windows
    def _evict_if_due(self) -> None:
        cfg = self.config
        if cfg.policy == "unbounded":
            return
        if cfg.policy == "fifo":
            count = len(self.window) - cfg.window_chunks
        elif len(self.window) >= cfg.window_chunks + cfg.float_chunks:
            count = cfg.float_chunks
        else:
            count = 0
        if count <= 0:
            return
        leaving = [self.window.popleft() for _ in range(count)]
        retired = self.history.absorb(
            [EvictedTurn(tuple(t.questions), t.reply, t.reply_group, t.reply_time) for t in leaving]
        )
        for gid in retired:
            if gid not in self.history.group_ids() and not self._asked_in_window(gid):
                self._alive.pop(gid, None)
        self.evictions += 1
        self._evicted_since_render = True

    def _asked_in_window(self, gid: str) -> bool:
        return any(qid == gid for turn in self.window for qid, _ in turn.questions)

    # ------------------------------------------------------------------ rendering
    def messages(self) -> list[Message]:
        """System prompt, text history, then the window's turns (the open turn's user part last)."""
        out = [system_message(self.config.system_prompt)]
        out.extend(self.history.messages())
        for turn in self.window:
            out.append(turn.user_message())
            if turn.closed:
                out.append(assistant_message(turn.reply))
        return out

    def render(self) -> Rendered:
        """Render now and report how many leading messages are unchanged since the last render."""
        messages = self.messages()
        stable = 0
        if self._previous is not None:
            for old, new in zip(self._previous, messages, strict=False):
                if old != new:
                    break
                stable += 1
        rendered = Rendered(messages, stable, self._evicted_since_render)
        self._previous = messages
        self._evicted_since_render = False
        return rendered
