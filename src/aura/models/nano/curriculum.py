"""Stage 1 of the nano recipe: learning to *look* before learning *when to speak*.

A vision encoder trained from scratch gets little signal from whole-stream samples: one answer
per ~40 chunks. Stage 1 instead asks about every chunk of the rendered training streams, in
the same chat format, with the world's exact truth (as LLaVA-style models align vision on
captions before instruction tuning):

- ``look``: one chunk and a real-time question about it (the world's own question kinds and
  training phrasings: count, is-there, colour of the shape, shape of the colour);
- ``describe``: one chunk and "What do you see?", answered with every visible object;
- ``change``: two chunks and "What just changed?", answered with every event that the second
  chunk is the first to show (or "Nothing changed."), which is what a multi-response or
  proactive answer has to notice.

Stage-1 samples have no system prompt and no silent turns; stage 2 (whole streams, balanced
loss) starts from the stage-1 weights.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from aura.world.phrasing import ANSWERS, fill
from aura.world.questions import WorldStream, realtime_qa
from aura.world.scene import ObjectState, WorldEvent
from aura.world.vocab import COLOURS, SHAPES

DESCRIBE_QUESTION = "What do you see?"
CHANGE_QUESTION = "What just changed?"
NOTHING_SEEN = "Nothing."
NOTHING_CHANGED = "Nothing changed."


def describe_objects(state: list[ObjectState]) -> str:
    """Every visible object in a fixed order (colour, then shape): ``"A red circle and a blue square."``."""
    if not state:
        return NOTHING_SEEN
    items = sorted(state, key=lambda o: (COLOURS.index(o.colour), SHAPES.index(o.shape)))
    names = [f"a {o.colour} {o.shape}" for o in items]
    text = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    return text[0].upper() + text[1:] + "."


def describe_events(events: list[WorldEvent], rng: np.random.Generator) -> str:
    """The events as the world's multi-response answers, one sentence each (or "Nothing changed.")."""
    if not events:
        return NOTHING_CHANGED
    sentences = []
    for e in events:
        options = ANSWERS[f"multi_{e.kind}"]
        template = options[int(rng.integers(len(options)))]
        sentences.append(fill(template, colour=e.colour, shape=e.shape, old=e.old_colour))
    return " ".join(sentences)


def _chunk(k: int, text: str | None = None) -> dict[str, Any]:
    content: list[dict[str, Any]] = [{"type": "video", "chunk": k, "start": float(k), "end": float(k + 1)}]
    if text:
        content.append({"type": "text", "text": text})
    return {"role": "user", "content": content}


def _sample(stream: WorldStream, video: str, kind: str, k: int, messages: list[dict[str, Any]]) -> dict[str, Any]:
    return {"id": f"{stream.id}#{kind}{k}", "video_id": stream.id, "video": video, "stage": "look",
            "kind": kind, "messages": messages}


def look_samples(stream: WorldStream, video: str, *, seed: int = 0, describe_share: float = 0.5,
                 change_negatives: float = 1.0) -> list[dict[str, Any]]:
    """Stage-1 samples over every whole chunk of ``stream`` (whose frames are ``video``).

    Deterministic for a given stream and ``seed``. ``describe_share`` is the chance a chunk
    also gets a describe sample; ``change_negatives`` the number of "Nothing changed." samples
    per change sample.
    """
    rng = np.random.default_rng([stream.seed, seed, 11])
    scene = stream.scene
    n_chunks = math.floor(scene.duration + 1e-9)
    out: list[dict[str, Any]] = []
    for k in range(n_chunks):
        qa = realtime_qa(scene, k, k + 0.5, rng)
        if qa is not None:
            question, answer = qa
            messages = [_chunk(k, question), {"role": "assistant", "content": answer}]
            out.append(_sample(stream, video, "look", k, messages))
        stable = not scene.events_between(k - 0.5, k + 0.5)
        if stable and rng.random() < describe_share:
            text = describe_objects(scene.state(k + 0.5))
            out.append(_sample(stream, video, "describe", k,
                               [_chunk(k, DESCRIBE_QUESTION), {"role": "assistant", "content": text}]))
    changes = [c for c in range(1, n_chunks) if any(math.floor(e.sample_time) == c for e in scene.events)]
    quiet = [c for c in range(1, n_chunks) if not scene.events_between(c - 1.0, c + 0.5)]
    n_neg = min(len(quiet), round(len(changes) * change_negatives))
    negatives = [int(c) for c in rng.choice(quiet, size=n_neg, replace=False)] if n_neg else []
    for c in sorted(changes + negatives):
        events = [e for e in scene.events if math.floor(e.sample_time) == c]
        messages = [_chunk(c - 1), {"role": "assistant", "content": "<|silent|>"},
                    _chunk(c, CHANGE_QUESTION), {"role": "assistant", "content": describe_events(events, rng)}]
        out.append(_sample(stream, video, "change", c, messages))
    return out
