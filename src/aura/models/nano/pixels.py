"""Frames to nano's pixel tensor: antialiased bilinear resize in numpy, frames stacked on channels."""

from __future__ import annotations

import numpy as np
import torch

from aura.errors import AuraError
from aura.models.nano.config import NanoConfig


class FrameError(AuraError):
    """Frames of the wrong shape or dtype."""


def _weights(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) triangle-filter weights, widened when downscaling (antialiasing, like PIL)."""
    scale = n_in / n_out
    support = max(scale, 1.0)
    centers = (np.arange(n_out) + 0.5) * scale
    x = np.arange(n_in) + 0.5
    w = np.maximum(0.0, 1.0 - np.abs(x[None, :] - centers[:, None]) / support)
    w /= w.sum(axis=1, keepdims=True)
    return w.astype(np.float32)


def resize_frames(frames: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize uint8 (F, H, W, 3) frames to float32 (F, height, width, 3) in [0, 1]."""
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise FrameError(f"frames must be uint8 (F, H, W, 3), got {frames.dtype} {tuple(frames.shape)}")
    if frames.shape[0] == 0 or frames.shape[1] == 0 or frames.shape[2] == 0:
        raise FrameError(f"empty frames {tuple(frames.shape)}")
    x = frames.astype(np.float32) / 255.0
    f, h, w, c = x.shape
    if (h, w) != (height, width):
        x = np.matmul(_weights(h, height), x.reshape(f, h, w * c)).reshape(f, height, w, c)  # rows
        x = np.matmul(_weights(w, width), x.reshape(f * height, w, c)).reshape(
            f, height, width, c
        )  # columns
    return x


def encoder_pixels(frames: np.ndarray, cfg: NanoConfig, previous: torch.Tensor | None = None) -> torch.Tensor:
    """The encoder's input ((context_frames + frames_per_chunk)*3, S, S) for one chunk.

    ``frames`` are the chunk's uint8 frames, optionally preceded by context frames (any count
    beyond ``frames_per_chunk`` is taken as context); ``previous`` is the previous chunk's
    ``chunk_pixels``. Missing context (the first chunk) repeats the chunk's first frame.
    """
    ctx, fpc = cfg.context_frames, cfg.frames_per_chunk
    if frames.ndim == 4 and frames.shape[0] > fpc:
        previous = chunk_pixels(frames[: frames.shape[0] - fpc], cfg.image_size, frames.shape[0] - fpc)
        frames = frames[frames.shape[0] - fpc :]
    current = chunk_pixels(frames, cfg.image_size, fpc)
    if ctx == 0:
        return current
    if previous is None or previous.shape[0] < 3 * ctx:
        before = current[:3].repeat(ctx, 1, 1)
    else:
        before = previous[previous.shape[0] - 3 * ctx :]
    return torch.cat([before, current])


def chunk_pixels(frames: np.ndarray, size: int, frames_per_chunk: int) -> torch.Tensor:
    """One chunk's frames as a (frames_per_chunk*3, size, size) tensor (missing frames repeat the last)."""
    if frames.ndim == 4 and 0 < frames.shape[0] < frames_per_chunk:
        frames = np.concatenate([frames, np.repeat(frames[-1:], frames_per_chunk - frames.shape[0], 0)])
    x = resize_frames(frames, size, size)[:frames_per_chunk]
    return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2).reshape(-1, size, size)))
