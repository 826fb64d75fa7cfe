"""The recipe's loss-curve plot: what it reads from a run and what it writes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from aura.models.nano.curves import moving_average, plot_loss_curves, stage_losses


def test_moving_average_is_the_trailing_mean() -> None:
    got = moving_average(np.array([1.0, 3.0, 5.0, 7.0]), 2)
    assert got.tolist() == [1.0, 2.0, 4.0, 6.0]
    assert moving_average(np.zeros(0), 5).shape == (0,)


def test_stage_losses_keep_the_last_row_of_a_resumed_step(tmp_path: Path) -> None:
    (tmp_path / "train").mkdir()
    rows = [{"step": 1, "loss": 2.0}, {"step": 2, "loss": 1.5}, {"step": 2, "loss": 1.0}, {"step": 3, "loss": 0.5},
            {"note": "no loss here"}]
    (tmp_path / "train" / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    steps, losses = stage_losses(tmp_path, "train")
    assert steps.tolist() == [1.0, 2.0, 3.0] and losses.tolist() == [2.0, 1.0, 0.5]
    assert stage_losses(tmp_path, "look")[0].shape == (0,)  # stage 1 skipped: nothing logged


def test_plot_writes_a_png_with_a_stage_missing(tmp_path: Path) -> None:
    (tmp_path / "look").mkdir()
    (tmp_path / "look" / "metrics.jsonl").write_text(
        "".join(json.dumps({"step": i, "loss": 1.0 / i}) + "\n" for i in range(1, 30)))
    out = plot_loss_curves(tmp_path, tmp_path / "plots" / "loss.png", window=5)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list((tmp_path / "plots").glob(".*"))  # no temporary file left behind
