"""The world's vocabulary: shapes, colours and their reference RGB values."""

from __future__ import annotations

from typing import Literal

Shape = Literal["circle", "square", "triangle"]
Colour = Literal["red", "green", "blue", "yellow"]

SHAPES: tuple[Shape, ...] = ("circle", "square", "triangle")
COLOURS: tuple[Colour, ...] = ("red", "green", "blue", "yellow")

RGB: dict[str, tuple[int, int, int]] = {
    "red": (215, 35, 35),
    "green": (35, 175, 55),
    "blue": (40, 75, 225),
    "yellow": (235, 215, 35),
}
"""Reference colours; a renderer jitters them per object, never enough to cross into another."""

MAX_OBJECTS = 5
MIN_SIZE, MAX_SIZE = 0.08, 0.35
"""Object size (its bounding-box height) as a fraction of the frame height."""

ASPECTS: dict[str, float] = {"4:3": 4 / 3, "16:9": 16 / 9, "1:1": 1.0}


def nearest_colour(rgb: tuple[float, float, float]) -> str:
    """The reference colour nearest to ``rgb`` (Euclidean in RGB)."""
    return min(RGB, key=lambda c: sum((a - b) ** 2 for a, b in zip(RGB[c], rgb, strict=True)))


def half_extents(shape: str, size: float) -> tuple[float, float]:
    """Half width and half height of a shape's bounding box (in frame heights)."""
    if shape == "triangle":
        return size / 3**0.5, size / 2  # equilateral, height = size
    return size / 2, size / 2


def bounding_radius(shape: str, size: float) -> float:
    """Radius of a circle around the shape's centre that contains it."""
    hw, hh = half_extents(shape, size)
    if shape == "circle":
        return size / 2
    return (hw * hw + hh * hh) ** 0.5
