"""The text history: older interaction kept as at most M question-answer groups.

Turns that leave the video window are rewritten by the rules of AURA's release
(reference §3) and absorbed here:

- A: the video part goes; a turn that had only video keeps an empty user text ``""``.
- B: turns whose reply is ``<|silent|>`` are dropped. A question asked in such a turn is not
  lost: it waits (``pending``) and joins its first answer when that answer leaves the window,
  which gives the basic shape (question, answer).
- C: every group has one of four shapes: basic (question, answer); one-answer
  (question, ack, "", answer); multi-answer (question, ack, ("", answer) x k); truncated
  ("", answer) whose question was cut off.
- D: a truncated answer (its group has left the history) is merged into the last group of
  the history; with an empty history it stands as a truncated group of its own.
- E: a group keeps at most ``multi_answer_cap`` rounds; its oldest ("", answer) rounds go
  first and the first round is never dropped.
- Capacity: at most M groups; the oldest whole group is dropped first. Pending questions are
  bounded by M too.

Answers are attributed to their group by id, so an answer joins its own group even when
another group entered the history after it (the release, which has no ids, would merge it
into the last group; we only do that when the question is truly gone).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Literal

from aura.stream.messages import Message, assistant_message, user_text_message

Shape = Literal["basic", "one-answer", "multi-answer", "truncated"]


@dataclass
class QAGroup:
    """One question and its later non-silent answers, as text.

    ``rounds`` are (time, reply) pairs in time order; the first answers the question itself
    (an immediate answer or an acknowledgement), the others follow an empty user turn.
    ``question`` is None for a truncated group whose question was cut off.
    """

    id: str
    question: str | None
    rounds: list[tuple[float, str]] = field(default_factory=list)

    @property
    def shape(self) -> Shape:
        """Which of the four history shapes this group has."""
        if self.question is None:
            return "truncated"
        if len(self.rounds) == 1:
            return "basic"
        if len(self.rounds) == 2:
            return "one-answer"
        return "multi-answer"

    def messages(self) -> list[Message]:
        """The group rendered as alternating text-only user/assistant messages."""
        out: list[Message] = []
        for i, (_, reply) in enumerate(self.rounds):
            user_text = self.question if (i == 0 and self.question is not None) else ""
            out.append(user_text_message(user_text))
            out.append(assistant_message(reply))
        return out


@dataclass(frozen=True)
class EvictedTurn:
    """A closed turn leaving the video window: its questions and its reply (None if silent)."""

    questions: tuple[tuple[str, str], ...]
    reply: str | None
    reply_group: str | None
    time: float


class TextHistory:
    """At most M QA groups of text, fed with turns evicted from the video window."""

    def __init__(self, max_groups: int, multi_answer_cap: int) -> None:
        self.max_groups = max_groups
        self.multi_answer_cap = multi_answer_cap
        self.groups: list[QAGroup] = []
        self.pending: OrderedDict[str, str] = OrderedDict()

    def group_ids(self) -> set[str]:
        """Ids of groups in the history or waiting for their first answer."""
        return {g.id for g in self.groups} | set(self.pending)

    def absorb(self, turns: list[EvictedTurn]) -> list[str]:
        """Apply rules A–E to turns leaving the window (oldest first), then the capacity rule.

        Returns the ids of groups that left the history for good (capacity), oldest first.
        """
        for turn in turns:
            self._absorb_one(turn)
        return self._enforce_capacity()

    def messages(self) -> list[Message]:
        """The whole history rendered as messages, oldest group first."""
        out: list[Message] = []
        for group in self.groups:
            out.extend(group.messages())
        return out

    def _absorb_one(self, turn: EvictedTurn) -> None:
        asked_here = {qid for qid, _ in turn.questions}
        for qid, text in turn.questions:
            if turn.reply is not None and turn.reply_group == qid:
                self.groups.append(QAGroup(qid, text, [(turn.time, turn.reply)]))
            else:
                self.pending[qid] = text  # rule B keeps the question waiting for its answer
        if turn.reply is None or turn.reply_group in asked_here:
            return  # rule B: a silent turn leaves nothing else behind
        gid = turn.reply_group or ""
        own = self._find(gid)
        if own is not None:
            self._add_round(own, turn.time, turn.reply)
        elif gid in self.pending:
            self.groups.append(QAGroup(gid, self.pending.pop(gid), [(turn.time, turn.reply)]))
        elif self.groups:  # rule D: the question is gone; merge into the last group
            self._add_round(self.groups[-1], turn.time, turn.reply)
        else:
            self.groups.append(QAGroup(gid, None, [(turn.time, turn.reply)]))

    def _find(self, gid: str) -> QAGroup | None:
        for group in reversed(self.groups):
            if group.id == gid:
                return group
        return None

    def _add_round(self, group: QAGroup, time: float, reply: str) -> None:
        group.rounds.append((time, reply))
        excess = len(group.rounds) - self.multi_answer_cap
        if excess > 0:  # rule E: drop the oldest ("", answer) rounds, never the first round
            del group.rounds[1 : 1 + excess]

    def _enforce_capacity(self) -> list[str]:
        retired: list[str] = []
        while len(self.groups) > self.max_groups:
            retired.append(self.groups.pop(0).id)
        while len(self.pending) > self.max_groups:
            retired.append(self.pending.popitem(last=False)[0])
        return retired
