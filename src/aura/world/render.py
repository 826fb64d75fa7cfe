"""Rendering scenes to RGB frames with numpy, with the variation a different renderer would bring.

A ``RenderStyle`` (drawn from a seed) picks the background (solid / gradient / noisy, dark or
light), per-object colour jitter, anti-aliasing on or off, sensor noise and the H.264 CRF.
Colours stay classifiable: jitter is small, backgrounds are near-grey.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from aura.video import write_mp4
from aura.world.physics import Trajectories, simulate
from aura.world.scene import Scene
from aura.world.vocab import RGB, half_extents

Background = Literal["solid", "gradient", "noisy"]


class RenderStyle(BaseModel):
    """How a scene looks: everything here varies between renders, never the ground truth."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    background: Background = "solid"
    dark: bool = True
    base: tuple[int, int, int] = (30, 30, 34)
    second: tuple[int, int, int] = (60, 60, 66)
    antialias: bool = True
    noise: float = Field(0.0, ge=0, le=20)
    jitter: int = Field(0, ge=0, le=25)
    crf: int = Field(23, ge=0, le=51)
    seed: int = 0


def sample_style(seed: int) -> RenderStyle:
    """A random style for ``seed``: background kind and brightness, AA, noise, jitter, CRF."""
    rng = np.random.default_rng([seed, 3])
    dark = bool(rng.random() < 0.5)
    level = int(rng.integers(10, 70)) if dark else int(rng.integers(175, 245))
    tint = rng.integers(-8, 9, 3)
    base = tuple(int(np.clip(level + d, 0, 255)) for d in tint)
    other = level + int(rng.integers(20, 50)) * (1 if dark else -1)
    second = tuple(int(np.clip(other + d, 0, 255)) for d in rng.integers(-8, 9, 3))
    return RenderStyle(
        background=str(rng.choice(["solid", "gradient", "noisy"])),  # type: ignore[arg-type]
        dark=dark,
        base=base,  # type: ignore[arg-type]
        second=second,  # type: ignore[arg-type]
        antialias=bool(rng.random() < 0.6),
        noise=round(float(rng.choice([0.0, rng.uniform(1, 8)])), 2),
        jitter=int(rng.integers(0, 21)),
        crf=int(rng.integers(18, 33)),
        seed=seed,
    )


def frame_size(scene: Scene, height: int) -> tuple[int, int]:
    """``(height, width)`` of frames of ``scene`` at ``height`` pixels (width rounded to even)."""
    width = max(2, round(height * scene.width / 2) * 2)
    return height, width


class Renderer:
    """Renders one scene at one size and style; reuses its background and trajectories."""

    def __init__(self, scene: Scene, height: int, style: RenderStyle | None = None) -> None:
        if height < 16 or height > 4096:
            raise ValueError(f"height must be in 16..4096, got {height}")
        self.scene = scene
        self.style = style or RenderStyle()
        self.height, self.width = frame_size(scene, height)
        self.trajectories: Trajectories = simulate(scene)
        self._background = _background(self.style, self.height, self.width)
        jit = np.random.default_rng([self.style.seed, 4]).integers(
            -self.style.jitter, self.style.jitter + 1, (len(scene.objects), 3)
        )
        self._jitter = jit
        self._noise_rng_seed = self.style.seed
        ys = (np.arange(self.height) + 0.5) / self.height
        xs = (np.arange(self.width) + 0.5) / self.height
        self._ys, self._xs = ys, xs

    def object_rgb(self, oid: int, colour: str) -> np.ndarray:
        """The RGB this renderer paints object ``oid`` with when it is ``colour``."""
        return np.clip(np.array(RGB[colour]) + self._jitter[oid], 0, 255).astype(np.float32)

    def frame(self, t: float, *, noise: bool = True) -> np.ndarray:
        """The uint8 ``(H, W, 3)`` frame at time ``t`` (sensor noise seeded by ``t``)."""
        img = self._background.copy()
        centres = self.trajectories.at(t)
        for o in self.scene.objects:
            if not o.alive(t) or not np.isfinite(centres[o.id, 0]):
                continue
            self._draw(img, o.shape, o.size, centres[o.id], self.object_rgb(o.id, o.colour_at(t)))
        if noise and self.style.noise > 0:
            rng = np.random.default_rng([self._noise_rng_seed, 5, round(t * 1000)])
            img += rng.standard_normal(img.shape, dtype=np.float32) * np.float32(self.style.noise)
        return np.clip(img + 0.5, 0, 255).astype(np.uint8)

    def frames(self, fps: float, *, start: float = 0.0, end: float | None = None) -> Iterator[np.ndarray]:
        """Frames at ``start + i/fps`` up to the scene's end (or ``end``)."""
        end = self.scene.duration if end is None else min(end, self.scene.duration)
        n = math.ceil((end - start) * fps - 1e-9)
        for i in range(n):
            yield self.frame(start + i / fps)

    def _draw(self, img: np.ndarray, shape: str, size: float, centre: np.ndarray, rgb: np.ndarray) -> None:
        h = self.height
        cx, cy = float(centre[0]), float(centre[1])
        hw, hh = half_extents(shape, size)
        x0, x1 = max(int((cx - hw) * h) - 2, 0), min(int((cx + hw) * h) + 3, self.width)
        y0, y1 = max(int((cy - hh) * h) - 2, 0), min(int((cy + hh) * h) + 3, self.height)
        if x0 >= x1 or y0 >= y1:
            return
        dx = (self._xs[x0:x1] - cx)[None, :]
        dy = (self._ys[y0:y1] - cy)[:, None]
        if shape == "circle":
            d = size / 2 - np.sqrt(dx * dx + dy * dy)
        elif shape == "square":
            d = size / 2 - np.maximum(np.abs(dx), np.abs(dy))
        else:
            # Equilateral triangle pointing up, bounding box centred on the centre.
            side = 2 * hw
            bottom = hh - dy
            # The slanted edges join the apex (0, -hh) to (+-side/2, hh): inward distance to them.
            norm = math.hypot(2 * hh, side / 2)
            slant = ((side / 2) * (dy + hh) - 2 * hh * np.abs(dx)) / norm
            d = np.minimum(bottom, slant)
        d = d * h  # in pixels
        alpha = np.clip(d + 0.5, 0.0, 1.0) if self.style.antialias else (d >= 0).astype(np.float32)
        region = img[y0:y1, x0:x1]
        a = alpha[..., None].astype(np.float32)
        region *= 1 - a
        region += a * rgb


def _background(style: RenderStyle, height: int, width: int) -> np.ndarray:
    base = np.array(style.base, np.float32)
    second = np.array(style.second, np.float32)
    img = np.empty((height, width, 3), np.float32)
    img[:] = base
    rng = np.random.default_rng([style.seed, 6])
    if style.background == "gradient":
        angle = float(rng.uniform(0, 2 * math.pi))
        ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
        ramp = (xs / max(width - 1, 1)) * math.cos(angle) + (ys / max(height - 1, 1)) * math.sin(angle)
        ramp = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1e-6)
        img = base + ramp[..., None] * (second - base)
    elif style.background == "noisy":
        coarse = rng.normal(0, 1, (max(2, height // 16), max(2, width // 16)))
        # Bilinear upsampling of the coarse noise: soft blotches, not blocks.
        yq = np.linspace(0, coarse.shape[0] - 1, height)
        xq = np.linspace(0, coarse.shape[1] - 1, width)
        rows = np.stack([np.interp(yq, np.arange(coarse.shape[0]), coarse[:, j]) for j in range(coarse.shape[1])], 1)
        blobs = np.stack([np.interp(xq, np.arange(coarse.shape[1]), rows[i]) for i in range(height)], 0)
        mix = np.clip(0.5 + 0.35 * blobs, 0, 1)[..., None]
        img = base + mix * (second - base) + rng.normal(0, 6, (height, width, 1))
    return np.clip(img, 0, 255).astype(np.float32)


def render_video(
    scene: Scene,
    path: str | Path,
    *,
    fps: float = 2.0,
    height: int = 128,
    style: RenderStyle | None = None,
) -> Path:
    """Render ``scene`` at ``fps`` and ``height`` pixels and write it as H.264 mp4 (atomically)."""
    renderer = Renderer(scene, height, style)
    write_mp4(path, renderer.frames(fps), fps, crf=renderer.style.crf)
    return Path(path)
