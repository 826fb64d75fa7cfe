"""Frames from real video files (PyAV) feed training; synthetic frames are deterministic."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from aura.errors import InputFileError
from aura.fileio import write_jsonl_atomic
from aura.stream import ContextConfig, Timeline, unroll
from aura.train.frames import SyntheticFrames, VideoFileFrames
from aura.train.trainer import Trainer

from .conftest import tiny_config

FPS = 4.0


def _frame(t: float) -> np.ndarray:
    """A 48x64 frame whose grey level encodes its time (10 levels a second)."""
    img = np.zeros((48, 64, 3), dtype=np.uint8)
    img[:] = round(t * 10) % 250
    return img


@pytest.fixture(scope="module")
def video_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from aura.video import write_mp4

    root = tmp_path_factory.mktemp("videos")
    write_mp4(root / "clip.mp4", (_frame(i / FPS) for i in range(int(12 * FPS))), FPS, crf=0)
    return root


def test_video_file_frames_decode_the_chunk_by_time(video_dir: Path) -> None:
    src = VideoFileFrames(video_dir, fps=2.0, max_side=None, cache_parts=3)
    sample = {"id": "s", "video": "clip.mp4"}
    for k in (0, 3, 7):
        frames = src.frames(sample, {"type": "video", "chunk": k, "start": float(k), "end": float(k + 1)})
        assert frames.shape == (2, 48, 64, 3) and frames.dtype == np.uint8
        levels = [float(f.mean()) for f in frames]
        assert levels == pytest.approx([k * 10, k * 10 + 5], abs=2.0)
    assert len(src._cache) <= 3
    for k in range(10):
        src.frames(sample, {"type": "video", "chunk": k, "start": float(k), "end": float(k + 1)})
        assert len(src._cache) <= 3
    with pytest.raises(InputFileError, match="no 'video' path"):
        src.frames({"id": "x", "video": None}, {"type": "video", "chunk": 0, "start": 0.0, "end": 1.0})


def test_synthetic_frames_are_deterministic_and_differ_by_chunk() -> None:
    src = SyntheticFrames(32, 32)
    a = src.frames({"video_id": "v"}, {"chunk": 3, "start": 3.0, "end": 4.0})
    assert a.shape == (2, 32, 32, 3)
    assert np.array_equal(a, SyntheticFrames(32, 32).frames({"video_id": "v"}, {"chunk": 3, "start": 3.0, "end": 4.0}))
    assert not np.array_equal(a, src.frames({"video_id": "v"}, {"chunk": 4, "start": 4.0, "end": 5.0}))


def test_training_on_a_real_video(tmp_path: Path, video_dir: Path, qwen3_dir: Path) -> None:
    timeline = Timeline.model_validate({
        "video_id": "clip", "video": "clip.mp4", "duration": 12.0,
        "questions": [{"id": "q1", "time": 1.2, "text": "What colour is the circle?", "type": "realtime"},
                      {"id": "q2", "time": 3.5, "text": "Tell me when a blue square appears.", "type": "proactive"}],
        "responses": [{"time": 1.2, "text": "The circle is red.", "question_id": "q1"},
                      {"time": 3.5, "text": "OK, I will let you know when it happens.", "question_id": "q2",
                       "kind": "ack"},
                      {"time": 9.0, "text": "A blue square just appeared.", "question_id": "q2"}],
    })
    samples = [s.model_dump(mode="json") for s in unroll(timeline, ContextConfig(window_chunks=4, float_chunks=2))]
    path = tmp_path / "samples.jsonl"
    write_jsonl_atomic(path, samples)
    torch.set_num_threads(1)
    cfg = tiny_config(tmp_path / "run", qwen3_dir, path, "data.frames=video", f"data.video_root={video_dir}",
                      "data.max_side=64", "train.max_steps=1", "train.global_batch_size=1")
    trainer = Trainer(cfg)
    assert isinstance(trainer.frame_source, VideoFileFrames)
    result = trainer.train()
    assert result.step == 1 and np.isfinite(result.losses[0])
    assert trainer.frame_source._cache  # chunks were decoded from clip.mp4
