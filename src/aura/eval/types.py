"""The shapes every benchmark shares: items to run, probes to ask, result rows, scores.

An ``Item`` is one benchmark question, already resolved to a video file and to what must be
asked when. The runner does not know any benchmark: it asks an item's ``probes`` one at a time
(``protocol`` mode) or injects its ``injections`` into one continuous session per video
(``stream`` mode), and writes one result row per item. Scorers turn rows into ``ItemScore``s.
Each row carries the item's ``gold`` so a results file can be re-scored on its own.
"""

from __future__ import annotations

import math
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from aura.errors import AuraError, InputFileError

Mode = Literal["protocol", "stream"]
MODES: tuple[str, ...] = ("protocol", "stream")
ANSWER_PLACEHOLDER = "##ANSWER##"
"""In a prompt, replaced by the model's answer to the item's previous probe (OmniMMI MD)."""


class EvalError(AuraError):
    """An evaluation cannot run as asked (bad option, unknown benchmark, unusable model)."""


class AnnotationError(InputFileError):
    """A benchmark annotation or results file is unusable as a whole (not just some rows)."""


class Probe(BaseModel):
    """One question asked at one time in ``protocol`` mode (a fresh evaluation context each time).

    ``time`` is stream seconds; with ``from_end`` it counts back from the end of the video.
    A poll (``until`` set, or ``until_end``) re-asks the prompt at every chunk up to ``until`` and stops at the
    first reply that satisfies ``stop_on`` (any reply, or one containing "yes"); then, if
    ``follow_up`` is set, asks it once more in the same context and records that answer.
    With ``hold`` a poll does not re-ask: the question stays in the turn of its own time (or the
    window's first turn once that has scrolled out), teacher-forced like every earlier turn, and
    each poll only lets the model decide whether to speak now; polling starts one chunk after
    the question (the reply to the question's own chunk is its acknowledgement).
    """

    model_config = ConfigDict(extra="forbid")

    key: str
    time: float = Field(ge=0)
    prompt: str
    from_end: bool = False
    until: float | None = None
    until_end: bool = False
    stop_on: Literal["reply", "yes"] = "reply"
    follow_up: str | None = None
    hold: bool = False


class Injection(BaseModel):
    """A question put into the continuous session of ``stream`` mode at ``time`` (or from the end)."""

    model_config = ConfigDict(extra="forbid")

    key: str
    time: float = Field(ge=0)
    text: str
    from_end: bool = False


class Item(BaseModel):
    """One benchmark question, resolved: its video, what to ask when, and the gold answer."""

    model_config = ConfigDict(extra="forbid")

    id: str
    benchmark: str
    task: str
    category: str = ""
    video: str
    probes: list[Probe]
    injections: list[Injection]
    horizon: float | None = Field(None, description="stream mode: time after which the item needs nothing")
    to_end: bool = Field(False, description="stream mode: the item needs the stream until the video ends")
    gold: dict[str, Any] = Field(default_factory=dict)


class RowError(BaseModel):
    """A bad annotation row: which file, which row (0-based index), and what is wrong."""

    file: str
    index: int
    item_id: str | None = None
    message: str


class LoadResult(BaseModel):
    """Items that loaded, and the rows that did not (each with its index)."""

    items: list[Item] = Field(default_factory=list)
    errors: list[RowError] = Field(default_factory=list)


class ItemScore(BaseModel):
    """What one item scored: unit outcomes (one per scored probe), timing, false alarms.

    ``units`` are 0/1 outcomes counted in the task's accuracy (an OVO forward item counts each
    test time). ``time_errors`` are response time minus ground-truth time (seconds).
    """

    item_id: str
    task: str
    category: str = ""
    units: list[float] = Field(default_factory=list)
    time_errors: list[float] = Field(default_factory=list)
    false_alarms: int = 0
    extra: dict[str, Any] = Field(default_factory=dict)


def clock_seconds(value: Any, *, what: str = "time") -> float:
    """Seconds from a number or a clock string ``"H:MM:SS"``/``"MM:SS"``/``"SS"`` (fractions allowed)."""
    if isinstance(value, bool):
        raise ValueError(f"{what} must be a number or H:MM:SS, got {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and re.fullmatch(r"\s*\d+(\.\d+)?(:\d+(\.\d+)?){0,2}\s*", value):
        seconds = 0.0
        for part in value.strip().split(":"):
            seconds = seconds * 60 + float(part)
    else:
        raise ValueError(f"{what} must be a number or H:MM:SS, got {value!r}")
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"{what} must be a finite time >= 0, got {value!r}")
    return seconds


def span_seconds(value: Any, *, what: str = "timestamp") -> tuple[float, float]:
    """A time span from ``"s -- e"`` (OmniMMI) or a two-number list; start must not exceed end."""
    if isinstance(value, str) and "--" in value:
        parts = value.split("--")
    elif isinstance(value, list | tuple):
        parts = list(value)
    else:
        raise ValueError(f"{what} must be 's -- e' or [s, e], got {value!r}")
    if len(parts) != 2:
        raise ValueError(f"{what} must have two ends, got {value!r}")
    start, end = (clock_seconds(p.strip() if isinstance(p, str) else p, what=what) for p in parts)
    if end < start:
        raise ValueError(f"{what} ends before it starts: {value!r}")
    return start, end
