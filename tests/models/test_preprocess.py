"""numpy preprocessing == transformers' reference (PIL) Qwen2-VL image processor on the image path."""

from __future__ import annotations

import numpy as np
import pytest
from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

from aura.models.hf.preprocess import FrameError, PatchSpec, preprocess_frames, smart_resize

QWEN25 = PatchSpec()
QWEN3 = PatchSpec(patch_size=16, image_mean=(0.5, 0.5, 0.5), image_std=(0.5, 0.5, 0.5), min_pixels=32 * 32,
                  max_pixels=256 * 256)


def reference(img: np.ndarray, spec: PatchSpec):
    proc = Qwen2VLImageProcessorPil(
        size={"shortest_edge": spec.min_pixels, "longest_edge": spec.max_pixels},
        patch_size=spec.patch_size,
        temporal_patch_size=spec.temporal_patch_size,
        merge_size=spec.merge_size,
        image_mean=list(spec.image_mean),
        image_std=list(spec.image_std),
    )
    out = proc(images=[img], return_tensors="np")
    return out["pixel_values"], tuple(int(v) for v in out["image_grid_thw"][0])


@pytest.mark.parametrize(
    ("spec", "size"),
    [(QWEN25, (56, 56)), (QWEN25, (120, 200)), (QWEN25, (37, 91)), (QWEN25, (300, 180)), (QWEN3, (64, 64)),
     (QWEN3, (120, 200))],
)
def test_matches_reference_image_processor_exactly(spec, size):
    """Random noise (the hardest case for resampling): equal to float rounding."""
    rng = np.random.default_rng(sum(size))
    img = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
    ref_px, ref_grid = reference(img, spec)
    px, grid = preprocess_frames(img[None], spec)
    assert grid == ref_grid
    assert px.shape == ref_px.shape and px.dtype == np.float32
    np.testing.assert_allclose(px, ref_px, atol=1e-5, rtol=0)


@pytest.mark.parametrize("spec", [QWEN25, QWEN3], ids=["qwen2.5", "qwen3"])
@pytest.mark.parametrize("size", [(37, 91), (300, 180), (240, 320), (113, 85)])
def test_matches_reference_on_smooth_images(spec, size):
    """Pillow may run its two resampling passes in the other order (when one axis grows and the
    other shrinks); the 8-bit intermediate then rounds differently: at most 2 grey levels here."""
    yy, xx = np.mgrid[0 : size[0], 0 : size[1]]
    img = np.stack(
        [128 + 100 * np.sin(xx / 7.0) * np.cos(yy / 11.0), xx * 255 / size[1], yy * 255 / size[0]], -1
    ).astype(np.uint8)
    ref_px, ref_grid = reference(img, spec)
    px, grid = preprocess_frames(img[None], spec)
    assert grid == ref_grid
    level = 1 / 255 / min(spec.image_std)
    diff = np.abs(px - ref_px)
    assert diff.max() <= 2 * level + 1e-5
    assert diff.mean() <= 0.05 * level


def test_two_frames_fill_the_temporal_patch_in_order():
    rng = np.random.default_rng(1)
    frames = rng.integers(0, 256, (2, 56, 56, 3), dtype=np.uint8)
    px, grid = preprocess_frames(frames, QWEN25)
    assert grid == (1, 4, 4)
    p = QWEN25.patch_size
    rows = px.reshape(-1, 3, 2, p, p)
    a, _ = preprocess_frames(frames[:1], QWEN25)
    b, _ = preprocess_frames(frames[1:], QWEN25)
    np.testing.assert_array_equal(rows[:, :, 0], a.reshape(-1, 3, 2, p, p)[:, :, 0])
    np.testing.assert_array_equal(rows[:, :, 1], b.reshape(-1, 3, 2, p, p)[:, :, 1])
    # a single frame is duplicated into both temporal slots
    single = a.reshape(-1, 3, 2, p, p)
    np.testing.assert_array_equal(single[:, :, 0], single[:, :, 1])


def test_three_frames_make_two_temporal_patches():
    frames = np.zeros((3, 56, 56, 3), dtype=np.uint8)
    px, grid = preprocess_frames(frames, QWEN25)
    assert grid == (2, 4, 4) and px.shape[0] == 32


def test_smart_resize_bounds():
    h, w = smart_resize(1080, 1920, 28, 56 * 56, 448 * 448)
    assert h % 28 == 0 and w % 28 == 0 and h * w <= 448 * 448
    assert abs(w / h - 16 / 9) < 0.1
    assert smart_resize(10, 10, 28, 56 * 56, 10**6) == (56, 56)


@pytest.mark.parametrize(
    ("frames", "match"),
    [
        (np.zeros((2, 56, 56, 3), dtype=np.float32), "uint8"),
        (np.zeros((2, 56, 56), dtype=np.uint8), "shape"),
        (np.zeros((2, 56, 56, 4), dtype=np.uint8), "shape"),
        (np.zeros((0, 56, 56, 3), dtype=np.uint8), "empty"),
        (None, "no frames"),
        ([[1, 2, 3]], "numpy"),
    ],
)
def test_bad_frames_are_clear_errors(frames, match):
    with pytest.raises(FrameError, match=match):
        preprocess_frames(frames, QWEN25)
