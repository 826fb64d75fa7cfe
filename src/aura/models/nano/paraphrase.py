"""More ways to ask: training-only rewordings of the world's questions, for nano's training data.

A model trained from scratch on the world's text knows only the phrasings it was trained on;
the held-out phrasings (``aura.world.phrasing``) measure how far it gets beyond them. These
rewordings recombine the training phrasings' words (and add neutral fillers such as "now" or
"Could you"), so the model learns to read a question by its content words rather than by its
exact wording. None of them is, or uses a word only found in, a held-out phrasing (a test
checks both).

``paraphrase_sample`` rewrites the questions of a training sample: each user text that is a
training phrasing of the world is replaced, with probability ``share``, by a rewording of the
same kind with the same colour, shape or target.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import numpy as np

from aura.world.phrasing import QUESTIONS

REWORDINGS: dict[str, list[str]] = {
    "colour_of_shape": [
        "Which colour is the {shape}?",
        "What colour does the {shape} have?",
        "Tell me what colour the {shape} is.",
        "Could you tell me the colour of the {shape}?",
        "What colour is the {shape} now?",
        "The colour of the {shape}?",
    ],
    "shape_of_colour": [
        "Which shape is the {colour} object?",
        "What shape is {colour}?",
        "Tell me the shape of the {colour} object.",
        "Could you tell me what shape the {colour} object is?",
        "The shape of the {colour} object?",
        "What shape is the {colour} object now?",
    ],
    "count": [
        "How many objects do you see?",
        "How many shapes are there?",
        "Count the shapes.",
        "How many objects are on screen now?",
        "Could you count the objects?",
        "Tell me how many objects there are.",
        "How many objects can you see right now?",
    ],
    "exists": [
        "Is there a {colour} {shape} now?",
        "Can you see a {colour} {shape}?",
        "Tell me if there is a {colour} {shape}.",
        "Do you see a {colour} {shape} right now?",
        "Is there a {colour} {shape} on screen?",
        "Could you tell me if you see a {colour} {shape}?",
    ],
    "proactive": [
        "Tell me when you see a {target}.",
        "Let me know when a {target} appears.",
        "Notify me when you see a {target}.",
        "Tell me as soon as a {target} shows up.",
        "When a {target} appears, tell me.",
        "Let me know as soon as you see a {target}.",
    ],
    "multi_disappear": [
        "Tell me whenever an object disappears.",
        "Let me know every time something disappears.",
        "Each time something disappears, tell me.",
        "Tell me each time an object vanishes.",
        "Whenever an object disappears, let me know.",
    ],
    "multi_colour": [
        "Tell me whenever an object changes colour.",
        "Let me know every time something changes colour.",
        "Each time an object changes its colour, tell me.",
        "Whenever something changes colour, let me know.",
    ],
    "multi_appear": [
        "Tell me whenever a new object appears.",
        "Let me know every time a new object shows up.",
        "Each time something appears, tell me.",
        "Whenever a new object appears, let me know.",
    ],
}
"""Kind -> training-only rewordings (the fields are those of the world's templates)."""


@lru_cache(maxsize=1)
def _patterns() -> list[tuple[re.Pattern[str], str]]:
    """(regex of a training phrasing with named fields, its kind), for the kinds with rewordings."""
    out = []
    for kind, templates in QUESTIONS.items():
        if kind not in REWORDINGS:
            continue
        for template, held in templates:
            if held:
                continue
            pattern = re.escape(template)
            for name in ("colour", "shape", "target"):
                pattern = pattern.replace(re.escape("{" + name + "}"), f"(?P<{name}>[a-z]+(?: [a-z]+)?)")
            out.append((re.compile(f"^{pattern}$"), kind))
    return out


def reword(text: str, rng: np.random.Generator) -> str | None:
    """A rewording of ``text`` if it is a training phrasing of a kind with rewordings, else None."""
    for pattern, kind in _patterns():
        match = pattern.match(text)
        if match:
            options = REWORDINGS[kind]
            return options[int(rng.integers(len(options)))].format(**match.groupdict())
    return None


def paraphrase_sample(sample: dict[str, Any], rng: np.random.Generator, share: float) -> dict[str, Any]:
    """``sample`` with each user question that is a training phrasing reworded with probability
    ``share`` (the same question the same way throughout the sample); a new dict, the input left alone."""
    if share <= 0:
        return sample
    chosen: dict[str, str] = {}

    def swap(text: str) -> str:
        if text not in chosen:
            new = reword(text, rng) if rng.random() < share else None
            chosen[text] = new or text
        return chosen[text]

    messages = []
    for m in sample["messages"]:
        if m.get("role") == "user":
            content = m["content"]
            if isinstance(content, str):
                m = {**m, "content": swap(content) if content else content}
            else:
                m = {**m, "content": [{**p, "text": swap(p["text"])} if p.get("type") == "text" and p.get("text")
                                      else p for p in content]}
        messages.append(m)
    return {**sample, "messages": messages}
