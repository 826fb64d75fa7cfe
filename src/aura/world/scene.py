"""Procedural scenes: objects with lifetimes and colour changes, and their exact state over time.

A scene is a pure function of its seed and parameters. Every event happens at a time
``k/2 + 1/4`` seconds, midway between two 2 FPS sampling instants, so the state shown at each
sampling instant is unambiguous for a video rendered at 2 FPS or at 4 FPS and more.
Objects never overlap and never leave the frame (see ``aura.world.physics``), so every
object that exists is fully visible: "visible" and "exists" are the same thing.
"""

from __future__ import annotations

import math
from functools import cached_property
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from aura.world.vocab import ASPECTS, COLOURS, MAX_OBJECTS, MAX_SIZE, MIN_SIZE, SHAPES, Colour, Shape, bounding_radius

EventKind = Literal["appear", "disappear", "colour"]
SAMPLE_FPS = 2.0
MIN_GAP, MAX_GAP = 2.5, 12.0
"""Seconds between consecutive events (so their answers fall in different chunks)."""
MAX_FILL = 0.42
"""Most of the frame area the objects' bounding circles may cover together."""


class WorldObject(BaseModel):
    """One object: its shape, colours over time, size and lifetime ``[appear, disappear)``."""

    model_config = ConfigDict(extra="forbid")
    id: int
    shape: Shape
    colour: Colour
    size: float = Field(ge=MIN_SIZE, le=MAX_SIZE)
    appear: float = Field(ge=0)
    disappear: float | None = None
    changes: list[tuple[float, Colour]] = Field(default_factory=list)
    speed: float = 0.1

    def colour_at(self, t: float) -> Colour:
        """The object's colour at time ``t``."""
        colour = self.colour
        for when, new in self.changes:
            if when <= t:
                colour = new
        return colour

    def alive(self, t: float) -> bool:
        """Whether the object is on screen at time ``t``."""
        return self.appear <= t and (self.disappear is None or t < self.disappear)


class WorldEvent(BaseModel):
    """Something that happens: an object appears, disappears or changes colour."""

    model_config = ConfigDict(extra="forbid")
    time: float
    kind: EventKind
    object: int
    shape: Shape
    colour: Colour
    old_colour: Colour | None = None

    @property
    def sample_time(self) -> float:
        """The first 2 FPS sampling instant that shows the event."""
        return math.ceil(self.time * SAMPLE_FPS) / SAMPLE_FPS


class ObjectState(BaseModel):
    """What a visible object looks like at one instant."""

    model_config = ConfigDict(frozen=True)
    id: int
    shape: Shape
    colour: Colour


class Scene(BaseModel):
    """A whole scene: its seed, duration, aspect ratio, objects and (derived) event list."""

    model_config = ConfigDict(extra="forbid")
    seed: int
    duration: float = Field(gt=0)
    aspect: str
    objects: list[WorldObject]

    @property
    def width(self) -> float:
        """Frame width in frame heights."""
        return ASPECTS[self.aspect]

    @cached_property
    def events(self) -> list[WorldEvent]:
        """Every event after time 0, in time order (objects present at 0 are not events)."""
        out: list[WorldEvent] = []
        for o in self.objects:
            if o.appear > 0:
                out.append(
                    WorldEvent(time=o.appear, kind="appear", object=o.id, shape=o.shape, colour=o.colour_at(o.appear))
                )
            for when, new in o.changes:
                old = o.colour_at(when - 1e-6)
                out.append(WorldEvent(time=when, kind="colour", object=o.id, shape=o.shape, colour=new, old_colour=old))
            if o.disappear is not None:
                colour = o.colour_at(o.disappear - 1e-6)
                out.append(WorldEvent(time=o.disappear, kind="disappear", object=o.id, shape=o.shape, colour=colour))
        return sorted(out, key=lambda e: (e.time, e.object))

    def state(self, t: float) -> list[ObjectState]:
        """The visible objects at time ``t`` (ordered by id)."""
        return [ObjectState(id=o.id, shape=o.shape, colour=o.colour_at(t)) for o in self.objects if o.alive(t)]

    def events_between(self, a: float, b: float) -> list[WorldEvent]:
        """Events with ``a < time <= b``."""
        return [e for e in self.events if a < e.time <= b]


def event_grid(t: float) -> float:
    """The event time nearest ``t`` on the grid ``k/2 + 1/4``."""
    return math.floor(t * SAMPLE_FPS) / SAMPLE_FPS + 0.25


def generate_scene(seed: int, duration: float, *, aspect: str | None = None) -> Scene:
    """A random scene for ``seed`` lasting ``duration`` seconds (the same seed gives the same scene).

    1-3 objects at t=0, then an event every 2.5-12 s: an object appears (at most 5 at once),
    disappears, or changes colour. Sizes are 8-35% of the frame height, limited so that the
    objects always fit without overlapping.
    """
    rng = np.random.default_rng([seed, 0])
    aspect = aspect or str(rng.choice(list(ASPECTS)))
    width = ASPECTS[aspect]
    objects: list[WorldObject] = []
    live: list[WorldObject] = []

    def fill(extra: float = 0.0) -> float:
        return (sum(math.pi * bounding_radius(o.shape, o.size) ** 2 for o in live) + extra) / width

    def new_object(t: float) -> WorldObject | None:
        shape = str(rng.choice(SHAPES))
        for _ in range(8):
            size = float(rng.uniform(MIN_SIZE, MAX_SIZE))
            if fill(math.pi * bounding_radius(shape, size) ** 2) <= MAX_FILL:
                break
        else:
            return None
        return WorldObject(
            id=len(objects),
            shape=shape,  # type: ignore[arg-type]
            colour=str(rng.choice(COLOURS)),  # type: ignore[arg-type]
            size=round(size, 4),
            appear=t,
            speed=round(float(rng.uniform(0.03, 0.25)), 4),
        )

    for _ in range(int(rng.integers(1, 4))):
        obj = new_object(0.0)
        if obj is not None:
            objects.append(obj)
            live.append(obj)
    t = event_grid(float(rng.uniform(2.0, 8.0)))
    while t < duration - 1.0:
        n = len(live)
        weights = np.array(
            [
                2.0 if n < 2 else 1.0 if n < MAX_OBJECTS else 0.0,
                0.0 if n == 0 else 0.3 if n == 1 else 1.0,
                1.0 if n else 0.0,
            ]
        )
        kind = ["appear", "disappear", "colour"][int(rng.choice(3, p=weights / weights.sum()))]
        if kind == "appear":
            obj = new_object(t)
            if obj is not None:
                objects.append(obj)
                live.append(obj)
        elif kind == "disappear":
            obj = live.pop(int(rng.integers(len(live))))
            obj.disappear = t
        else:
            obj = live[int(rng.integers(len(live)))]
            old = obj.colour_at(t)
            new = str(rng.choice([c for c in COLOURS if c != old]))
            obj.changes.append((t, new))  # type: ignore[arg-type]
        t = event_grid(t + float(rng.uniform(MIN_GAP, MAX_GAP)))
    return Scene(seed=seed, duration=float(duration), aspect=aspect, objects=objects)
