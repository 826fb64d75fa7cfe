"""Reading a free-text reply back into facts, to score a model's replies against the world's truth."""

from __future__ import annotations

import re
from typing import Any

from aura.world.vocab import COLOURS, SHAPES

NUMBER_WORDS = {"no": 0, "zero": 0, "none": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6}
_COLOUR_WORD = re.compile(rf"\b({'|'.join(COLOURS)})\b", re.IGNORECASE)
_SHAPE_WORD = re.compile(rf"\b({'|'.join(SHAPES)})s?\b", re.IGNORECASE)  # plurals as ``extract`` reads them


def extract(text: str) -> dict[str, Any]:
    """The colours, shapes, count and yes/no a reply states (in order of mention).

    ``count`` is the first number (digits or a word up to six; "no objects" is 0) or None;
    ``yes`` is True/False when the reply starts with yes/no, else None.
    """
    words = re.findall(r"[a-z]+|\d+", text.lower())
    colours = [w for w in words if w in COLOURS]
    shapes = [w.rstrip("s") for w in words if w.rstrip("s") in SHAPES]
    count = None
    for i, w in enumerate(words):
        if w.isdigit():
            count = int(w)
            break
        if w in NUMBER_WORDS and (w != "no" or (i + 1 < len(words) and words[i + 1].startswith("object"))):
            count = NUMBER_WORDS[w]
            break
    yes = True if words[:1] == ["yes"] else False if words[:1] == ["no"] else None
    return {"colours": colours, "shapes": shapes, "count": count, "yes": yes}


def agrees(facts: dict[str, Any], text: str) -> bool:
    """Whether ``text`` states exactly the world's ``facts`` (a ``WorldResponse.facts`` dict).

    count: the stated number; yes: the leading yes/no; colour/shape: mentioned, and no other
    colour/shape mentioned (besides ``old_colour`` for a colour change, which must be there too).
    """
    got = extract(text)
    if "count" in facts and got["count"] != facts["count"]:
        return False
    if "yes" in facts and got["yes"] is not facts["yes"]:
        return False
    if "colour" in facts:
        want = {facts["colour"], *([facts["old_colour"]] if facts.get("old_colour") else [])}
        if set(got["colours"]) != want:
            return False
    return not ("shape" in facts and set(got["shapes"]) != {facts["shape"]})


def reply_form(text: str) -> str:
    """``text`` with the world's colours, shapes and numbers replaced by ``{colour}``, ``{shape}``
    and ``{n}``, so replies of one form count together; ``(silent)`` for an empty reply."""
    if not text.strip():
        return "(silent)"
    out = _SHAPE_WORD.sub("{shape}", _COLOUR_WORD.sub("{colour}", text.strip()))
    return re.sub(r"\d+", "{n}", out)
