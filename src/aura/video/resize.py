"""Frame-size arithmetic and a small numpy RGB resize (no OpenCV, no torchvision)."""

from __future__ import annotations

import numpy as np


def fit_size(height: int, width: int, max_side: int | None) -> tuple[int, int]:
    """``(h, w)`` scaled down (never up) so neither side exceeds ``max_side``, aspect kept."""
    if max_side is None or max(height, width) <= max_side:
        return height, width
    scale = max_side / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def resize_rgb(frame: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize a uint8 ``(H, W, 3)`` frame to ``(height, width, 3)``.

    Shrinking averages each output pixel's source box (area filter, like OpenCV's INTER_AREA
    for integer factors); enlarging uses nearest-neighbour sampling.
    """
    h, w = frame.shape[:2]
    if (h, w) == (height, width):
        return frame
    if height <= h and width <= w:
        rows = _box_sum(frame.astype(np.float32), h, height, axis=0)
        out = _box_sum(rows, w, width, axis=1)
        return np.clip(np.rint(out), 0, 255).astype(np.uint8)
    yi = np.minimum((np.arange(height) + 0.5) * h / height, h - 1).astype(np.intp)
    xi = np.minimum((np.arange(width) + 0.5) * w / width, w - 1).astype(np.intp)
    return frame[yi][:, xi]


def _box_sum(a: np.ndarray, n_in: int, n_out: int, axis: int) -> np.ndarray:
    """Average along ``axis`` over ``n_out`` equal boxes of the ``n_in`` samples."""
    edges = np.linspace(0, n_in, n_out + 1)
    starts = np.floor(edges[:-1]).astype(np.intp)
    stops = np.maximum(np.ceil(edges[1:]).astype(np.intp), starts + 1)
    csum = np.cumsum(a, axis=axis, dtype=np.float32)
    zero = np.zeros_like(np.take(csum, [0], axis=axis))
    csum = np.concatenate([zero, csum], axis=axis)
    total = np.take(csum, stops, axis=axis) - np.take(csum, starts, axis=axis)
    counts = (stops - starts).astype(np.float32)
    shape = [1] * a.ndim
    shape[axis] = n_out
    return total / counts.reshape(shape)
