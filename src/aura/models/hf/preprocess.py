"""Frame preprocessing for Qwen-VL vision towers in plain numpy (no torchvision).

A chunk's frames (uint8 ``(F, H, W, 3)`` RGB) are resized to the model's patch grid with the
"smart resize" rules of Qwen's processors (each side a multiple of patch x merge, the pixel
count kept within [min_pixels, max_pixels], the aspect ratio kept), resampled with the same
bicubic filter Pillow uses (8-bit fixed point, horizontal pass then vertical pass; results equal the
reference PIL image processor, except that recent Pillow sometimes runs the vertical pass first
when one axis grows and the other shrinks, which moves a few pixels by 1-2 grey levels), rescaled to
[0, 1], normalised, and flattened into the patch layout the vision tower expects: one row per
patch, ``C x temporal_patch x patch x patch`` values, patches ordered by merge window. Frames
are grouped in temporal patches (2 at a time); a missing frame repeats the last one, so a
single frame is duplicated.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from aura.errors import AuraError

_PRECISION_BITS = 22  # Pillow's fixed-point precision for 8-bit resampling


class FrameError(AuraError):
    """Frames of a chunk have the wrong type, shape or dtype, or the chunk is empty."""


@dataclass(frozen=True)
class PatchSpec:
    """The vision tower's input geometry and normalisation."""

    patch_size: int = 14
    temporal_patch_size: int = 2
    merge_size: int = 2
    image_mean: tuple[float, float, float] = (0.48145466, 0.4578275, 0.40821073)
    image_std: tuple[float, float, float] = (0.26862954, 0.26130258, 0.27577711)
    min_pixels: int = 56 * 56
    max_pixels: int = 28 * 28 * 1280

    @property
    def factor(self) -> int:
        """Side lengths must be multiples of this (patch x merge)."""
        return self.patch_size * self.merge_size

    @classmethod
    def from_dict(cls, cfg: dict) -> PatchSpec:
        """Read the fields of a ``preprocessor_config.json`` (either ``min/max_pixels`` or ``size``)."""
        size = cfg.get("size") or {}
        min_px = cfg.get("min_pixels") or size.get("shortest_edge") or cls.min_pixels
        max_px = cfg.get("max_pixels") or size.get("longest_edge") or cls.max_pixels
        return cls(
            patch_size=int(cfg.get("patch_size", cls.patch_size)),
            temporal_patch_size=int(cfg.get("temporal_patch_size", cls.temporal_patch_size)),
            merge_size=int(cfg.get("merge_size", cls.merge_size)),
            image_mean=tuple(float(v) for v in cfg.get("image_mean", cls.image_mean)),  # type: ignore[arg-type]
            image_std=tuple(float(v) for v in cfg.get("image_std", cls.image_std)),  # type: ignore[arg-type]
            min_pixels=int(min_px),
            max_pixels=int(max_px),
        )

    @classmethod
    def from_checkpoint(cls, path: str | Path, *, max_pixels: int | None = None) -> PatchSpec:
        """Read ``preprocessor_config.json`` of a checkpoint directory (video settings win if present)."""
        root = Path(path)
        cfg: dict = {}
        for name in ("preprocessor_config.json", "video_preprocessor_config.json"):
            file = root / name
            if file.is_file():
                try:
                    cfg.update(json.loads(file.read_text()))
                except (OSError, ValueError) as exc:
                    raise AuraError(f"{file}: cannot read preprocessor settings ({exc})") from None
        spec = cls.from_dict(cfg)
        if max_pixels is not None:
            spec = PatchSpec(**{**spec.__dict__, "max_pixels": max_pixels})
        return spec


def smart_resize(height: int, width: int, factor: int, min_pixels: int, max_pixels: int) -> tuple[int, int]:
    """The target (height, width): multiples of ``factor``, pixel count within bounds, aspect kept.

    Rounds each side to the nearest multiple; if that is too large, scales both sides down
    (flooring to multiples); if too small, scales up (ceiling). Never below one ``factor``.
    """
    if height < 1 or width < 1:
        raise FrameError(f"frame size {height}x{width} is empty")
    if max(height, width) / min(height, width) > 200:
        raise FrameError(f"frame aspect ratio {width}x{height} is more extreme than 200:1")
    h = max(factor, round(height / factor) * factor)
    w = max(factor, round(width / factor) * factor)
    if h * w > max_pixels:
        beta = math.sqrt(height * width / max_pixels)
        h = max(factor, math.floor(height / beta / factor) * factor)
        w = max(factor, math.floor(width / beta / factor) * factor)
    elif h * w < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h = math.ceil(height * beta / factor) * factor
        w = math.ceil(width * beta / factor) * factor
    return h, w


def _bicubic(x: float) -> float:
    a = -0.5
    x = abs(x)
    if x < 1.0:
        return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0
    if x < 2.0:
        return (((x - 5.0) * x + 8.0) * x - 4.0) * a
    return 0.0


@lru_cache(maxsize=64)
def _taps(in_size: int, out_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Source indexes and fixed-point weights (out_size, k) of a bicubic resampling along one axis."""
    scale = in_size / out_size
    filterscale = max(scale, 1.0)
    support = 2.0 * filterscale
    ksize = math.ceil(support) * 2 + 1
    index = np.zeros((out_size, ksize), dtype=np.int64)
    weight = np.zeros((out_size, ksize), dtype=np.int64)
    for xx in range(out_size):
        center = (xx + 0.5) * scale
        xmin = max(int(center - support + 0.5), 0)
        xmax = min(int(center + support + 0.5), in_size) - xmin
        ks = [_bicubic((x + xmin - center + 0.5) / filterscale) for x in range(xmax)]
        total = sum(ks)
        for x, k in enumerate(ks):
            k = k / total if total != 0.0 else k
            fixed = int(0.5 + k * (1 << _PRECISION_BITS)) if k >= 0 else int(-0.5 + k * (1 << _PRECISION_BITS))
            index[xx, x] = xmin + x
            weight[xx, x] = fixed
    return index, weight


def _resample_axis(img: np.ndarray, axis: int, out_size: int) -> np.ndarray:
    index, weight = _taps(img.shape[axis], out_size)
    src = img.astype(np.int64)
    acc = np.full(
        (*img.shape[:axis], out_size, *img.shape[axis + 1:]), 1 << (_PRECISION_BITS - 1), dtype=np.int64
    )
    shape = [1] * img.ndim
    shape[axis] = out_size
    for k in range(index.shape[1]):
        acc += np.take(src, index[:, k], axis=axis) * weight[:, k].reshape(shape)
    return np.clip(acc >> _PRECISION_BITS, 0, 255).astype(np.uint8)


def resize_uint8(frame: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bicubic resize of a uint8 (H, W, C) image, matching Pillow's 8-bit BICUBIC resampling."""
    out = frame
    if out.shape[1] != width:
        out = _resample_axis(out, 1, width)
    if out.shape[0] != height:
        out = _resample_axis(out, 0, height)
    return np.ascontiguousarray(out)


def check_frames(frames: object) -> np.ndarray:
    """Validate a chunk's frames: a uint8 array (F, H, W, 3) with F >= 1; a single (H, W, 3) frame is allowed."""
    if frames is None:
        raise FrameError("the chunk has no frames")
    if not isinstance(frames, np.ndarray):
        raise FrameError(f"frames must be a numpy array, got {type(frames).__name__}")
    if frames.ndim == 3:
        frames = frames[None]
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise FrameError(f"frames must have shape (F, H, W, 3), got {tuple(frames.shape)}")
    if frames.dtype != np.uint8:
        raise FrameError(f"frames must be uint8 RGB, got dtype {frames.dtype}")
    if frames.shape[0] == 0:
        raise FrameError("the chunk is empty (0 frames)")
    if frames.shape[1] == 0 or frames.shape[2] == 0:
        raise FrameError(f"frames have an empty size {frames.shape[2]}x{frames.shape[1]}")
    return frames


def grid_for_size(height: int, width: int, n_frames: int, spec: PatchSpec) -> tuple[int, int, int]:
    """The (t, h, w) patch grid a chunk of ``n_frames`` frames of this size becomes."""
    h, w = smart_resize(height, width, spec.factor, spec.min_pixels, spec.max_pixels)
    t = -(-n_frames // spec.temporal_patch_size)
    return t, h // spec.patch_size, w // spec.patch_size


def preprocess_frames(frames: np.ndarray, spec: PatchSpec) -> tuple[np.ndarray, tuple[int, int, int]]:
    """Pixel patches (t*h*w, 3*tp*p*p) float32 and the (t, h, w) grid of one chunk's frames."""
    frames = check_frames(frames)
    n, height, width, _ = frames.shape
    rh, rw = smart_resize(height, width, spec.factor, spec.min_pixels, spec.max_pixels)
    tp, p, m = spec.temporal_patch_size, spec.patch_size, spec.merge_size
    pad = (-n) % tp
    if pad:
        frames = np.concatenate([frames, np.repeat(frames[-1:], pad, axis=0)], axis=0)
    resized = np.stack([resize_uint8(f, rh, rw) for f in frames])  # (T, H, W, C)
    mean = np.asarray(spec.image_mean, dtype=np.float32)
    std = np.asarray(spec.image_std, dtype=np.float32)
    x = (resized.astype(np.float32) * np.float32(1 / 255) - mean) / std
    x = x.transpose(0, 3, 1, 2)  # (T, C, H, W)
    t, gh, gw = x.shape[0] // tp, rh // p, rw // p
    x = x.reshape(t, tp, 3, gh // m, m, p, gw // m, m, p)
    x = x.transpose(0, 3, 6, 4, 7, 2, 1, 5, 8)  # t, gh/m, gw/m, m, m, C, tp, p, p
    return np.ascontiguousarray(x.reshape(t * gh * gw, 3 * tp * p * p)), (t, gh, gw)
