"""Corrupted histories: one earlier silent turn becomes a false report, and the sample still
supervises silence after it and its own target."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from aura.models.nano.exposure import corrupt_history, with_corrupted_histories
from aura.stream import ContextConfig, unroll
from aura.stream.messages import is_silent
from aura.world import make_stream


def _samples() -> list[dict]:
    stream = make_stream(23, duration=120.0, config=ContextConfig(window_chunks=8, float_chunks=4))
    samples = unroll(stream.to_timeline(video="world-23.mp4"), ContextConfig(window_chunks=8, float_chunks=4))
    return [s.model_dump(mode="json", exclude_none=True) for s in samples]


def test_one_silent_turn_becomes_a_report_and_silence_follows() -> None:
    rng = np.random.default_rng(0)
    corrupted = 0
    for sample in _samples():
        before = copy.deepcopy(sample["messages"])
        bad = corrupt_history(sample, rng)
        assert sample["messages"] == before  # the original is untouched
        n_silent = sum(is_silent(m) for m in sample["messages"])
        if bad is None:
            assert n_silent < 2
            continue
        corrupted += 1
        changed = [i for i, (a, b) in enumerate(zip(sample["messages"], bad["messages"], strict=True)) if a != b]
        assert len(changed) == 1
        i = changed[0]
        assert is_silent(sample["messages"][i]) and not is_silent(bad["messages"][i])
        assert bad["messages"][i]["role"] == "assistant" and bad["messages"][i]["content"].strip()
        assert any(is_silent(m) for m in bad["messages"][i + 1 :])  # silence is still taught after it
        assert bad["messages"][-1] == sample["messages"][-1]
        assert sum(is_silent(m) for m in bad["messages"]) == n_silent - 1
    assert corrupted > 10


def test_share_of_corrupted_samples_and_count_kept() -> None:
    rows = [r for r in _samples() if corrupt_history(r, np.random.default_rng(0)) is not None] * 20
    out = with_corrupted_histories(rows, 0.5, np.random.default_rng(1))
    assert len(out) == len(rows)
    share = sum(r["id"].endswith("~corrupt") for r in out) / len(rows)
    assert 0.4 < share < 0.6
    assert with_corrupted_histories(rows, 0.0, np.random.default_rng(1)) == rows
    with pytest.raises(ValueError):
        with_corrupted_histories(rows, 1.5, np.random.default_rng(1))
