"""What a stream context leaves open at each decision: an auxiliary training target for nano.

At every assistant turn the model decides whether anything open asks for what the chunk shows.
That is a two-step lookup (which questions are open; does the chunk's event answer one), and a
small decoder learns the first step slowly (``docs/nano-experiments.md``, sessions 13-19). With
``RecipeConfig.question_state_weight`` the text stages also train a linear read-out of an
intermediate layer, at every assistant turn's first position, to say what is open there:

- three bits: a multi-response question about appearances, disappearances or colour changes
  is in the context (it stays open as long as the context holds it);
- twelve bits, one per colour-shape pair: a proactive question in the context waits for an
  object of that pair (asked, and no later reply has named a matching object).

``QuestionStateReader.states`` reads this from a sample's token ids alone (the world's question
templates and the training rewordings recognise the questions), so every sample the trainer
builds gets it without new fields in the data. The read-out is a training aid only: it is not
saved with the checkpoint and inference never runs it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from aura.models.nano.paraphrase import REWORDINGS
from aura.world.phrasing import QUESTIONS
from aura.world.questions import matches
from aura.world.vocab import COLOURS, SHAPES

MULTI_KINDS: tuple[str, ...] = ("appear", "disappear", "colour")
PAIRS: tuple[tuple[str, str], ...] = tuple((c, s) for c in COLOURS for s in SHAPES)
STATE_SIZE = len(MULTI_KINDS) + len(PAIRS)
"""Bits of one decision's state: the open multi-response kinds, then the awaited pairs."""

_WORD = "[a-z]+(?: [a-z]+)?"


@lru_cache(maxsize=1)
def _patterns() -> list[tuple[re.Pattern[str], str]]:
    """(regex of every phrasing and rewording of a proactive or multi-response question, its kind)."""
    out = []
    for kind in ("proactive", *(f"multi_{k}" for k in MULTI_KINDS)):
        templates = [t for t, _ in QUESTIONS[kind]] + REWORDINGS.get(kind, [])
        for template in templates:
            pattern = re.escape(template).replace(re.escape("{target}"), f"(?P<target>{_WORD})")
            out.append((re.compile(f"^{pattern}$"), kind))
    return out


def parse_question(text: str) -> tuple[str, dict[str, str]] | None:
    """``("multi", {"event": kind})`` or ``("proactive", target)`` (``colour`` and/or ``shape``)
    when ``text`` is a world question of those types, else None."""
    text = text.strip()
    for pattern, kind in _patterns():
        match = pattern.match(text)
        if not match:
            continue
        if kind != "proactive":
            return "multi", {"event": kind.removeprefix("multi_")}
        words = match.group("target").split()
        target: dict[str, str] = {}
        for w in words:
            if w in COLOURS:
                target["colour"] = w
            elif w in SHAPES:
                target["shape"] = w
        return ("proactive", target) if target else None
    return None


def named_pairs(text: str) -> set[tuple[str, str]]:
    """The colour-shape pairs a reply names (every colour it says with every shape it says)."""
    words = re.findall(r"[a-z]+", text.lower())
    colours = [w for w in words if w in COLOURS]
    shapes = [w for w in words if w in SHAPES]
    return {(c, s) for c in colours for s in shapes}


def message_states(messages: Sequence[tuple[str, str]]) -> list[np.ndarray]:
    """The state (``STATE_SIZE`` floats in {0, 1}) at each assistant message of ``messages``
    (``(role, text)`` pairs, text without video), in order: what the questions before it, in
    the same or earlier user turns, leave open."""
    multis: set[str] = set()
    waiting: list[dict[str, Any]] = []  # proactive targets not yet answered
    fresh: list[dict[str, Any]] = []  # asked in the last user turn: its acknowledgement comes first
    states = []
    for role, text in messages:
        if role == "user":
            fresh = []
            parsed = parse_question(text) if text else None
            if parsed and parsed[0] == "multi":
                multis.add(parsed[1]["event"])
            elif parsed:
                fresh.append(parsed[1])
                waiting.append(parsed[1])
        elif role == "assistant":
            state = np.zeros(STATE_SIZE, dtype=np.float32)
            for i, kind in enumerate(MULTI_KINDS):
                state[i] = kind in multis
            for j, pair in enumerate(PAIRS):
                state[len(MULTI_KINDS) + j] = any(matches(t, *pair) for t in waiting)
            states.append(state)
            named = named_pairs(text)
            if named:  # a reply naming a matching object answers the targets asked before this turn
                waiting = [t for t in waiting
                           if any(t is f for f in fresh) or not any(matches(t, *p) for p in named)]
            fresh = []
    return states


def sample_states(messages: Sequence[dict[str, Any]]) -> list[np.ndarray]:
    """``message_states`` of rendered messages (``aura.stream`` dicts; system turns ignored, a
    user turn's text parts joined, ``<|silent|>`` read as no text)."""
    pairs = []
    for m in messages:
        content = m["content"]
        if m["role"] == "system":
            continue
        if not isinstance(content, str):
            content = " ".join(p.get("text", "") for p in content if p.get("type") == "text")
        pairs.append((m["role"], "" if content == "<|silent|>" else content))
    return message_states(pairs)


class QuestionStateReader:
    """Finds every assistant turn in a nano token sequence and the state there (``message_states``)."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        ids = tokenizer.convert_tokens_to_ids
        self.im_start, self.im_end = ids("<|im_start|>"), ids("<|im_end|>")
        self.roles = {ids("user"): "user", ids("assistant"): "assistant", ids("system"): "system"}

    def states(self, input_ids: Sequence[int]) -> tuple[list[int], np.ndarray]:
        """(positions, states (n, ``STATE_SIZE``)): each position is the last token of an assistant
        turn's header (the one whose logits choose the turn's first token)."""
        ids = list(input_ids)
        messages: list[tuple[str, str]] = []
        positions = []
        starts = [i for i, t in enumerate(ids) if t == self.im_start]
        for s in starts:
            if s + 2 >= len(ids):
                break
            role = self.roles.get(ids[s + 1])
            if role is None:
                continue
            try:
                end = ids.index(self.im_end, s + 3)
            except ValueError:
                end = len(ids)
            text = self.tokenizer.decode(ids[s + 3 : end], skip_special_tokens=True)
            if role == "assistant":
                positions.append(s + 2)
            messages.append((role, text))  # special tokens, <|silent|> among them, decode to nothing
        states = message_states(messages)
        return positions, (np.stack(states) if states else np.zeros((0, STATE_SIZE), dtype=np.float32))
