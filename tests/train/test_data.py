"""Streaming, length-grouped, sharded micro-batch plans and bad-input handling."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest

from aura.errors import InputFileError
from aura.fileio import write_jsonl_atomic
from aura.train.data import (
    BatchBuilder,
    Plan,
    count_micro_batches,
    estimate_length,
    iter_samples,
    plan_micro_batches,
    shard,
)
from aura.train.frames import SyntheticFrames
from aura.train.labels import SampleError, SampleTooLongError

from .conftest import demo_samples


def _rows(n: int) -> list[tuple[int, dict]]:
    base = demo_samples()
    return [(i + 1, dict(base[i % len(base)], id=f"s{i}")) for i in range(n)]


@pytest.mark.parametrize(("n", "mbs", "buf"), [(10, 1, 8), (37, 3, 4), (64, 4, 4), (5, 2, 1), (1, 4, 3)])
def test_plan_covers_every_sample_once_and_counts_match(n: int, mbs: int, buf: int) -> None:
    plan = Plan(mbs, buf, seed=7)
    batches = list(plan_micro_batches(iter(_rows(n)), plan, epoch=0))
    assert len(batches) == count_micro_batches(n, plan)
    ids = sorted(r[1]["id"] for b in batches for r in b)
    assert ids == sorted(f"s{i}" for i in range(n))
    assert all(1 <= len(b) <= mbs for b in batches)


def test_plan_is_deterministic_length_grouped_and_reshuffled_per_epoch() -> None:
    plan = Plan(2, 8, seed=1)
    rows = _rows(32)
    a = [[r[0] for r in b] for b in plan_micro_batches(iter(rows), plan, 0)]
    assert a == [[r[0] for r in b] for b in plan_micro_batches(iter(rows), plan, 0)]
    assert a != [[r[0] for r in b] for b in plan_micro_batches(iter(rows), plan, 1)]
    # within each buffer of 16 samples, micro-batches are consecutive runs of the length-sorted order
    lengths = {i: estimate_length(s, plan.video_tokens_estimate) for i, s in rows}
    for start in range(0, len(a), 8):
        buffer = a[start : start + 8]
        ordered = sorted(buffer, key=lambda b: (lengths[b[0]], b[0]))
        flat = [lengths[i] for b in ordered for i in b]
        assert flat == sorted(flat)


def test_plan_reads_lazily_one_buffer_at_a_time() -> None:
    consumed = 0

    def rows():
        nonlocal consumed
        for r in _rows(1000):
            consumed += 1
            yield r

    it = plan_micro_batches(rows(), Plan(2, 4, seed=0), 0)
    next(it)
    assert consumed == 8


def test_shards_are_disjoint_and_complete() -> None:
    plan = Plan(1, 4, seed=3)
    full = [b[0][0] for b in plan_micro_batches(iter(_rows(11)), plan, 0)]
    parts = [[b[0][0] for b in shard(plan_micro_batches(iter(_rows(11)), plan, 0), r, 3)] for r in range(3)]
    assert all(len(p) == 3 for p in parts)  # 11 micro-batches: the incomplete last round of 2 is dropped
    assert sorted(x for p in parts for x in p) == sorted(full[:9])
    assert parts[1] == full[1:9:3]


def test_malformed_line_stops_with_file_and_line_or_is_skipped_loudly(tmp_path: Path, caplog) -> None:
    path = tmp_path / "s.jsonl"
    good = [json.dumps(s) for s in demo_samples()[:3]]
    path.write_text("\n".join([good[0], good[1], "{not json", good[2]]) + "\n")
    with pytest.raises(InputFileError, match=r"s\.jsonl:3: malformed JSON"):
        list(iter_samples(path, skip_bad=False))
    with caplog.at_level(logging.WARNING):
        got = list(iter_samples(path, skip_bad=True))
    assert [n for n, _ in got] == [1, 2, 4]
    assert "s.jsonl:3" in caplog.text


def test_sample_without_assistant_turn_names_file_and_line(tmp_path: Path, caplog) -> None:
    path = tmp_path / "s.jsonl"
    bad = {"id": "x", "messages": [{"role": "system", "content": "hi"}, {"role": "user", "content": "q"}]}
    write_jsonl_atomic(path, [demo_samples()[0], bad, [1, 2]])
    with pytest.raises(SampleError, match=r"s\.jsonl:2: sample x: no assistant turn"):
        list(iter_samples(path, skip_bad=False))
    stats: dict[str, int] = {}
    with caplog.at_level(logging.WARNING):
        assert [n for n, _ in iter_samples(path, skip_bad=True, stats=stats)] == [1]
    assert stats["skipped"] == 2
    assert "s.jsonl:3" in caplog.text and "not an object" in caplog.text


def test_too_long_target_at_batch_time(qwen3_dir: Path, caplog) -> None:
    from transformers import AutoTokenizer

    from aura.models.hf.chat import ChatFormat
    from aura.models.hf.preprocess import PatchSpec, preprocess_frames

    tok = AutoTokenizer.from_pretrained(str(qwen3_dir))
    fmt = ChatFormat.from_tokenizer(tok, "qwen3_vl", 2)
    spec = PatchSpec.from_checkpoint(qwen3_dir)
    sample = demo_samples()[2]
    long = dict(sample, id="long", messages=[*sample["messages"][:-1], {"role": "assistant", "content": "a b " * 400}])
    rows = [(1, sample), (2, long)]

    def builder(skip: bool) -> BatchBuilder:
        return BatchBuilder(fmt, SyntheticFrames(32, 32), lambda f: preprocess_frames(f, spec), max_length=600,
                            pad_id=tok.pad_token_id, skip_bad=skip, source_name="data.jsonl")

    with pytest.raises(SampleTooLongError, match=r"^data\.jsonl:2: sample long: the target alone is \d+ tokens"):
        builder(False).build(rows)
    b = builder(True)
    with caplog.at_level(logging.WARNING):
        batch = b.build(rows)
    assert batch.ids == [sample["id"]] and b.skipped == 1 and "data.jsonl:2" in caplog.text
    # the batch is well formed: one video grid per video placeholder block, pixels for every patch
    assert batch.video_grid_thw is not None
    assert batch.pixel_values_videos.shape[0] == int(batch.video_grid_thw.prod(dim=1).sum())
    assert int(batch.n_tokens) == int(batch.attention_mask.sum())


def test_pixel_cache_stays_bounded_over_thousands_of_chunks() -> None:
    class Fmt:  # only the frame path is exercised: encode_sample is not reached for these rows
        pass

    calls = 0

    def preprocess(frames):
        nonlocal calls
        calls += 1
        return frames[:1].reshape(1, -1).astype("float32"), (1, 2, 2)

    b = BatchBuilder(Fmt(), SyntheticFrames(8, 8), preprocess, max_length=100, pad_id=0, cache_parts=16)
    sample = {"id": "s", "video_id": "v"}
    for k in range(3000):
        b._pixels(sample, {"type": "video", "chunk": k, "start": float(k), "end": k + 1.0})
        assert len(b._cache) <= 16
    b._pixels(sample, {"type": "video", "chunk": 2999, "start": 2999.0, "end": 3000.0})
    assert calls == 3000  # the most recent chunk was a cache hit


def test_warm_fills_the_cache_in_bulk_with_what_batches_would_compute() -> None:
    class Fmt:
        pass

    single_calls, bulk_sizes = 0, []

    def preprocess(frames):
        nonlocal single_calls
        single_calls += 1
        return frames.reshape(1, -1).astype("float32") * 2.0, (1, 2, 2)

    def preprocess_many(many):
        bulk_sizes.append(len(many))
        return [(f.reshape(1, -1).astype("float32") * 2.0, (1, 2, 2)) for f in many]

    def rows(n_chunks, video="v"):
        return [(i, {"id": f"s{i}", "video_id": video, "messages": [
            {"role": "user", "content": [{"type": "video", "chunk": k, "start": float(k), "end": k + 1.0}
                                         for k in range(i, i + 3)]}]}) for i in range(n_chunks)]

    warm = BatchBuilder(Fmt(), SyntheticFrames(8, 8), preprocess, max_length=100, pad_id=0, cache_parts=100)
    added = warm.warm(rows(10), preprocess_many, batch=4)
    assert added == 12 and bulk_sizes == [4, 4, 4]  # chunks 0..11, each once, in batches of 4
    cold = BatchBuilder(Fmt(), SyntheticFrames(8, 8), preprocess, max_length=100, pad_id=0, cache_parts=100)
    for _, sample in rows(10):
        for part in sample["messages"][0]["content"]:
            assert np.array_equal(warm._pixels(sample, part)[0], cold._pixels(sample, part)[0])
    assert single_calls == 12  # the cold builder computed each chunk once; the warm one never
    # a full cache is not evicted by warming: only the room left is filled
    small = BatchBuilder(Fmt(), SyntheticFrames(8, 8), preprocess, max_length=100, pad_id=0, cache_parts=5)
    assert small.warm(rows(10), preprocess_many, batch=4) == 5 and len(small._cache) == 5
    assert small.warm(rows(3, video="w"), preprocess_many) == 0


def test_adopt_cache_hands_a_stage_its_predecessors_parts_within_its_bound() -> None:
    calls = 0

    def preprocess(frames):
        nonlocal calls
        calls += 1
        return frames.reshape(1, -1).astype("float32") + 1.0, (1, 2, 2)

    def preprocess_many(many):
        return [preprocess(f) for f in many]

    def rows(chunks, video="v"):
        return [(0, {"id": "s", "video_id": video, "messages": [
            {"role": "user", "content": [{"type": "video", "chunk": k, "start": float(k), "end": k + 1.0}
                                         for k in chunks]}]})]

    first = BatchBuilder(object(), SyntheticFrames(8, 8), preprocess, max_length=100, pad_id=0, cache_parts=100)
    first.warm(rows(range(6)), preprocess_many)
    assert calls == 6
    second = BatchBuilder(object(), SyntheticFrames(8, 8), preprocess, max_length=100, pad_id=0, cache_parts=100)
    assert second.adopt_cache(first) == 6
    assert second.warm(rows(range(10)), preprocess_many) == 4  # only chunks 6..9 are new
    assert calls == 10
    sample = rows([3])[0][1]
    part = sample["messages"][0]["content"][0]
    fresh = BatchBuilder(object(), SyntheticFrames(8, 8), preprocess, max_length=100, pad_id=0, cache_parts=0)
    assert np.array_equal(second._pixels(sample, part)[0], fresh._pixels(sample, part)[0])
    # a smaller bound keeps the most recently used parts only; a cacheless builder takes none
    small = BatchBuilder(object(), SyntheticFrames(8, 8), preprocess, max_length=100, pad_id=0, cache_parts=4)
    assert small.adopt_cache(second) == 4 and len(small._cache) == 4
    assert fresh.adopt_cache(second) == 0 and not fresh._cache
