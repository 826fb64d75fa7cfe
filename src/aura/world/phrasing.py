"""How questions, acknowledgements and answers are worded.

Each question kind has several phrasings; those marked held out never appear in training
streams (``phrasing="train"``), so evaluation can measure generalisation to new wordings
(``phrasing="heldout"``). Acknowledgements and answers have several wordings too.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Literal

import numpy as np

PhrasingSplit = Literal["train", "heldout", "all"]

# kind -> [(template, held_out)]
QUESTIONS: dict[str, list[tuple[str, bool]]] = {
    "colour_of_shape": [
        ("What colour is the {shape}?", False),
        ("Which colour does the {shape} have?", False),
        ("Tell me the colour of the {shape}.", False),
        ("What is the colour of the {shape} right now?", True),
        ("The {shape}: what colour is it?", True),
    ],
    "shape_of_colour": [
        ("What shape is the {colour} object?", False),
        ("Which shape is {colour}?", False),
        ("What is the shape of the {colour} object?", False),
        ("Name the shape of the {colour} thing.", True),
    ],
    "count": [
        ("How many objects are there?", False),
        ("How many shapes do you see?", False),
        ("Count the objects on screen.", False),
        ("How many things are in view right now?", True),
        ("What is the number of objects?", True),
    ],
    "exists": [
        ("Is there a {colour} {shape}?", False),
        ("Do you see a {colour} {shape}?", False),
        ("Can you see a {colour} {shape} right now?", False),
        ("Is any {colour} {shape} on screen?", True),
    ],
    "proactive": [
        ("Tell me when a {target} appears.", False),
        ("Let me know when you see a {target}.", False),
        ("Notify me when a {target} shows up.", False),
        ("Alert me once a {target} is visible.", True),
        ("Say something when a {target} appears.", True),
    ],
    "multi_disappear": [
        ("Tell me every time an object disappears.", False),
        ("Let me know whenever something disappears.", False),
        ("Each time an object vanishes, tell me.", False),
        ("Report every disappearance.", True),
    ],
    "multi_colour": [
        ("Tell me every time an object changes colour.", False),
        ("Let me know whenever an object changes its colour.", False),
        ("Each time something changes colour, tell me.", False),
        ("Report every colour change.", True),
    ],
    "multi_appear": [
        ("Tell me every time a new object appears.", False),
        ("Let me know whenever something appears.", False),
        ("Each time an object shows up, tell me.", False),
        ("Report every new object.", True),
    ],
    "first_appeared_colour": [
        ("What colour was the first object that appeared?", False),
        ("Which colour did the first new object have?", False),
        ("The first object that showed up: what colour was it?", True),
    ],
    "first_appeared_shape": [
        ("What shape was the first object that appeared?", False),
        ("Which shape was the first new object?", False),
        ("The first object that showed up: what shape was it?", True),
    ],
    "last_appeared": [
        ("What was the last object that appeared?", False),
        ("Which object appeared most recently?", False),
        ("What showed up last?", True),
    ],
    "last_disappeared": [
        ("Which object disappeared last?", False),
        ("What was the last object to disappear?", False),
        ("What vanished most recently?", True),
    ],
}

ACKS: dict[str, list[str]] = {
    "proactive": [
        "OK, I will let you know when it happens.",
        "Sure, I'll tell you when I see it.",
        "Got it, I'm watching for a {target}.",
        "Will do, I'll tell you as soon as a {target} appears.",
    ],
    "multi": [
        "Sure, I will tell you each time.",
        "OK, I'll report every one.",
        "Got it, I'll keep you posted.",
        "Will do, I'll tell you every time it happens.",
    ],
}

ANSWERS: dict[str, list[str]] = {
    "colour_of_shape": ["The {shape} is {colour}.", "It is {colour}.", "{Colour}."],
    "shape_of_colour": ["It is a {shape}.", "The {colour} object is a {shape}.", "A {shape}."],
    "count_0": ["There are no objects.", "I see no objects."],
    "count_1": ["There is 1 object.", "I see 1 object."],
    "count_n": ["There are {n} objects.", "I see {n} objects.", "{n} objects."],
    "exists_yes": ["Yes, there is a {colour} {shape}.", "Yes."],
    "exists_no": ["No, there is no {colour} {shape}.", "No."],
    "proactive": [
        "A {colour} {shape} just appeared.",
        "There is a {colour} {shape} now.",
        "Now I see a {colour} {shape}.",
    ],
    "multi_disappear": ["The {colour} {shape} disappeared.", "The {colour} {shape} is gone."],
    "multi_colour": ["The {shape} turned from {old} to {colour}.", "The {old} {shape} is now {colour}."],
    "multi_appear": ["A {colour} {shape} appeared.", "A new {colour} {shape} showed up."],
    "first_appeared_colour": ["It was {colour}.", "The first one was {colour}."],
    "first_appeared_shape": ["It was a {shape}.", "The first one was a {shape}."],
    "last_appeared": ["The {colour} {shape}.", "It was a {colour} {shape}."],
    "last_disappeared": ["The {colour} {shape}.", "It was the {colour} {shape}."],
}


def pick_question(kind: str, rng: np.random.Generator, phrasing: PhrasingSplit) -> tuple[str, bool]:
    """A template for ``kind`` allowed by ``phrasing``, and whether it is held out."""
    options = [(t, h) for t, h in QUESTIONS[kind] if phrasing == "all" or h == (phrasing == "heldout")]
    template, held = options[int(rng.integers(len(options)))]
    return template, held


def pick(table: dict[str, list[str]], key: str, rng: np.random.Generator) -> str:
    """One wording for ``key`` of ``table``."""
    options = table[key]
    return options[int(rng.integers(len(options)))]


def fill(template: str, **values: object) -> str:
    """``template`` with its fields filled (``{Colour}`` is the capitalised colour)."""
    if "colour" in values:
        values["Colour"] = str(values["colour"]).capitalize()
    return template.format(**values)


@lru_cache(maxsize=1)
def _question_patterns() -> dict[str, list[tuple[re.Pattern[str], str, bool]]]:
    out: dict[str, list[tuple[re.Pattern[str], str, bool]]] = {}
    for kind, templates in QUESTIONS.items():
        out[kind] = [(re.compile(re.sub(r"\\\{[A-Za-z]+\\\}", ".+?", re.escape(t)) + r"\Z"), t, h)
                     for t, h in templates]
    return out


def is_acknowledgement(kind: str, text: str, target: str | None = None) -> bool:
    """Whether ``text`` is one of the world's acknowledgements of a ``kind`` ("proactive" or
    "multi") question, word for word, with ``target`` (``"red triangle"``) as its target where the
    wording names one (any target when ``target`` is None)."""
    for template in ACKS.get(kind, []):
        parts = [re.escape(p) for p in template.split("{target}")]
        fill_in = ".+?" if target is None else re.escape(target)
        if re.fullmatch(fill_in.join(parts), text.strip()):
            return True
    return False


def wording_of(kind: str, text: str) -> tuple[str, bool] | None:
    """The template of ``kind`` that ``text`` fills, and whether it is held out (None when no
    template of that kind words it)."""
    for pattern, template, held in _question_patterns().get(kind, []):
        if pattern.match(text):
            return template, held
    return None
