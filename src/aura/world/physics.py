"""Object motion: constant speed, bouncing off the frame's edges and off each other.

Deterministic (seeded) and precomputed on a fixed time step, so positions at any time are
a table lookup. Objects are kept apart by their bounding circles (plus a margin), so they
never overlap; their bounding boxes stay inside the frame.
"""

from __future__ import annotations

import math

import numpy as np

from aura.world.scene import Scene
from aura.world.vocab import bounding_radius, half_extents

DT = 0.04
"""Simulation step (seconds)."""
MARGIN = 0.02
"""Extra gap (frame heights) kept between two objects' bounding circles."""


class Trajectories:
    """Centre positions (in frame heights) of every object at every step; NaN when absent."""

    def __init__(self, positions: np.ndarray) -> None:
        self.positions = positions

    def at(self, t: float) -> np.ndarray:
        """``(n_objects, 2)`` centres (x, y) at time ``t`` (NaN for absent objects)."""
        k = min(max(round(t / DT), 0), len(self.positions) - 1)
        return self.positions[k]


def simulate(scene: Scene) -> Trajectories:
    """Run the scene's motion (seeded by the scene's seed) and return every object's path."""
    rng = np.random.default_rng([scene.seed, 1])
    width = scene.width
    steps = math.ceil(scene.duration / DT) + 2
    n = len(scene.objects)
    out = np.full((steps, n, 2), np.nan, dtype=np.float32)
    radius = [bounding_radius(o.shape, o.size) for o in scene.objects]
    box = [half_extents(o.shape, o.size) for o in scene.objects]
    pos: dict[int, list[float]] = {}
    vel: dict[int, list[float]] = {}
    appear_at = {o.id: math.ceil(o.appear / DT - 1e-9) for o in scene.objects}
    gone_at = {o.id: math.ceil(o.disappear / DT - 1e-9) for o in scene.objects if o.disappear is not None}
    for k in range(steps):
        for o in scene.objects:
            if gone_at.get(o.id) == k:
                pos.pop(o.id, None)
                vel.pop(o.id, None)
            if appear_at[o.id] == k:
                pos[o.id] = _spawn(rng, o.id, pos, radius, box[o.id], width)
                angle = float(rng.uniform(0, 2 * math.pi))
                vel[o.id] = [o.speed * math.cos(angle), o.speed * math.sin(angle)]
        if k > 0:
            _step(pos, vel, radius, box, width)
        for i, p in pos.items():
            out[k, i] = p
    return Trajectories(out)


def _spawn(
    rng: np.random.Generator,
    oid: int,
    pos: dict[int, list[float]],
    radius: list[float],
    box: tuple[float, float],
    width: float,
) -> list[float]:
    hw, hh = box
    best, best_gap = None, -math.inf
    for _ in range(400):
        p = [float(rng.uniform(hw, width - hw)), float(rng.uniform(hh, 1 - hh))]
        gap = min(
            (math.dist(p, q) - radius[oid] - radius[j] - MARGIN for j, q in pos.items()),
            default=math.inf,
        )
        if gap >= 0:
            return p
        if gap > best_gap:
            best, best_gap = p, gap
    assert best is not None
    return best


def _step(pos: dict[int, list[float]], vel: dict[int, list[float]], radius: list[float], box, width: float) -> None:
    for i, p in pos.items():
        v = vel[i]
        p[0] += v[0] * DT
        p[1] += v[1] * DT
    ids = list(pos)
    for a in range(len(ids)):
        for b in range(a + 1, len(ids)):
            i, j = ids[a], ids[b]
            p, q = pos[i], pos[j]
            dx, dy = q[0] - p[0], q[1] - p[1]
            dist = math.hypot(dx, dy) or 1e-9
            need = radius[i] + radius[j] + MARGIN
            if dist >= need:
                continue
            nx, ny = dx / dist, dy / dist
            vi, vj = vel[i], vel[j]
            rel = (vj[0] - vi[0]) * nx + (vj[1] - vi[1]) * ny
            if rel < 0:  # approaching: exchange the normal components (equal masses)
                vi[0] += rel * nx
                vi[1] += rel * ny
                vj[0] -= rel * nx
                vj[1] -= rel * ny
            push = (need - dist) / 2
            p[0] -= nx * push
            p[1] -= ny * push
            q[0] += nx * push
            q[1] += ny * push
    for i, p in pos.items():
        hw, hh = box[i]
        v = vel[i]
        for axis, lo, hi in ((0, hw, width - hw), (1, hh, 1 - hh)):
            if p[axis] < lo:
                p[axis] = lo
                v[axis] = abs(v[axis])
            elif p[axis] > hi:
                p[axis] = hi
                v[axis] = -abs(v[axis])
