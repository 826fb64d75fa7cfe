"""Reading a rendered frame back from its pixels: objects as (colour, shape) by connected components."""

from __future__ import annotations

import numpy as np

from aura.world.vocab import RGB

REFS = np.array([RGB[c] for c in RGB], np.float32)
NAMES = list(RGB)


def components(mask: np.ndarray) -> np.ndarray:
    """4-connected labels of ``mask`` (0 = background), by min-label propagation."""
    h, w = mask.shape
    big = h * w + 1
    labels = np.where(mask, np.arange(1, h * w + 1).reshape(h, w), big)
    while True:
        new = labels.copy()
        new[1:] = np.minimum(new[1:], labels[:-1])
        new[:-1] = np.minimum(new[:-1], labels[1:])
        new[:, 1:] = np.minimum(new[:, 1:], labels[:, :-1])
        new[:, :-1] = np.minimum(new[:, :-1], labels[:, 1:])
        new = np.where(mask, new, big)
        if np.array_equal(new, labels):
            break
        labels = new
    return np.where(mask, labels, 0)


def objects_in(frame: np.ndarray, min_area: int = 25) -> list[tuple[str, str]]:
    """``(colour, shape)`` of every object in ``frame``, sorted.

    Object pixels are saturated (backgrounds are near-grey); a component's colour is the
    reference nearest its median pixel, its shape follows from how much of its bounding box
    it fills (square ~1, circle ~0.79, triangle ~0.5).
    """
    f = frame.astype(np.float32)
    saturation = f.max(axis=2) - f.min(axis=2)
    labels = components(saturation > 70)
    found = []
    for lab in np.unique(labels):
        if lab == 0:
            continue
        ys, xs = np.nonzero(labels == lab)
        if len(ys) < min_area:
            continue
        median = np.median(f[ys, xs], axis=0)
        colour = NAMES[int(np.argmin(((REFS - median) ** 2).sum(axis=1)))]
        fill = len(ys) / ((ys.max() - ys.min() + 1) * (xs.max() - xs.min() + 1))
        shape = "triangle" if fill < 0.64 else "circle" if fill < 0.86 else "square"
        found.append((colour, shape))
    return sorted(found)
