"""Idempotence, resuming after a crash, retrying failures, sharding, and the in-flight bound."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from aura.data.config import ApiConfig, DataConfig, PrepareConfig
from aura.data.pipeline import STAGES, run_all
from aura.data.runner import Item, Outcome, run_items
from aura.data.shard import Shard
from aura.data.stats import collect
from aura.data.store import StageStore, iter_rows
from tests.data.conftest import SEGMENT_SECONDS
from tests.data.fake_mllm import FakeMLLM


def _snapshot(work: Path) -> dict[str, bytes]:
    return {str(p.relative_to(work)): p.read_bytes() for p in sorted(work.rglob("*")) if p.is_file()}


def _cfg(work: Path, inputs: list[str], api: ApiConfig, **kw) -> DataConfig:
    return DataConfig(work=str(work), inputs=inputs, api=api, concurrency=2,
                      prepare=PrepareConfig(segment_seconds=SEGMENT_SECONDS), **kw)


def test_rerun_is_a_no_op_and_retry_failed_recovers(tmp_path: Path, corpus: Path, api: ApiConfig,
                                                    fake: FakeMLLM) -> None:
    inputs = [str(corpus / "flaky.mp4"), str(corpus / "badapi.mp4"), str(corpus / "empty.mp4")]
    work = tmp_path / "w"
    first = run_all(_cfg(work, inputs, api), Shard(), progress=False)
    assert [s.stage for s in first] == list(STAGES)
    assert collect(work)["stages"]["synthesize"]["failed"] == 1
    before = _snapshot(work)
    again = run_all(_cfg(work, inputs, api), Shard(), progress=False)
    assert all(s.done == 0 and s.failed == 0 and s.skipped == s.total for s in again)
    assert _snapshot(work) == before  # nothing rewritten, nothing re-encoded
    # the API is healthy again: --retry-failed redoes only the failed items
    old = fake.truths["badapi"].fault
    fake.truths["badapi"].fault = None
    try:
        retried = run_all(_cfg(work, inputs, api, retry_failed=True), Shard(), progress=False)
    finally:
        fake.truths["badapi"].fault = old
    by = {s.stage: s for s in retried}
    assert by["prepare"].done == 0 and by["prepare"].failed == 1  # the empty file is still empty
    assert by["synthesize"].done == 1 and by["refine"].done == 1 and by["structure"].done == 1
    stats = collect(work)
    assert stats["stages"]["synthesize"]["failed"] == 0  # a success supersedes the old failure record
    assert any(r["id"].startswith("badapi") for r in iter_rows(work, "verify"))


def test_a_torn_last_line_is_cut_and_that_item_redone(tmp_path: Path, corpus: Path, api: ApiConfig) -> None:
    work = tmp_path / "w"
    cfg = _cfg(work, [str(corpus / "alpha.mp4")], api)
    run_all(cfg, Shard(), progress=False)
    items = work / "verify" / "items.0-of-1.jsonl"
    lines = items.read_bytes().splitlines(keepends=True)
    assert len(lines) >= 3
    lost = lines[-1]
    items.write_bytes(b"".join(lines[:-1]) + lost[: len(lost) // 2])  # a crash mid-write
    summary = run_all(cfg, Shard(), progress=False, stages=("verify",))[0]
    assert summary.done + summary.rejected == 1
    assert items.read_bytes() == b"".join(lines)  # the same line, whole, written again


def test_interrupted_run_keeps_finished_items_and_resumes(tmp_path: Path) -> None:
    calls: list[str] = []

    def process(x: str) -> Outcome:
        if x == "i3" and not calls.count("boom"):
            calls.append("boom")
            raise KeyboardInterrupt
        calls.append(x)
        return Outcome(items=[{"id": x, "v": x.upper()}])

    items = [Item(f"i{k}", f"i{k}") for k in range(6)]
    store = StageStore(tmp_path, "toy", Shard())
    with pytest.raises(KeyboardInterrupt):
        run_items(store, items, process, concurrency=1, progress=False)
    done_before = {r["id"] for r in iter_rows(tmp_path, "toy")}
    # everything before the crash is kept; the item in flight (and at most one queued behind it) is not
    assert {"i0", "i1", "i2"} <= done_before and "i3" not in done_before and len(done_before) <= 4
    summary = run_items(StageStore(tmp_path, "toy", Shard()), items, process, concurrency=1, progress=False)
    assert summary.skipped == len(done_before) and summary.done == 6 - len(done_before)
    ids = [line.split('"id":"')[1].split('"')[0] for line in (tmp_path / "toy" / "items.0-of-1.jsonl").open()]
    assert sorted(ids) == [f"i{k}" for k in range(6)]  # each exactly once


def test_an_interrupt_settled_first_does_not_lose_results_that_were_ready(tmp_path: Path, monkeypatch) -> None:
    """When several items finish together and one was interrupted, the others are still stored."""
    import concurrent.futures

    import aura.data.runner as runner

    def wait_for_all_newest_first(fs, return_when=None):  # every future done, the interrupted one listed first
        concurrent.futures.wait(fs, return_when=concurrent.futures.ALL_COMPLETED)
        return list(reversed(list(fs))), set()

    monkeypatch.setattr(runner, "wait", wait_for_all_newest_first)

    def process(x: str) -> Outcome:
        if x == "i1":
            raise KeyboardInterrupt
        return Outcome(items=[{"id": x}])

    store = StageStore(tmp_path, "toy", Shard())
    with pytest.raises(KeyboardInterrupt):
        run_items(store, [Item(f"i{k}", f"i{k}") for k in range(4)], process, concurrency=1, progress=False)
    assert {r["id"] for r in iter_rows(tmp_path, "toy")} == {"i0"}


def test_failures_are_recorded_and_the_run_goes_on(tmp_path: Path) -> None:
    def process(x: int) -> Outcome:
        if x % 3 == 0:
            raise ValueError(f"bad {x}")
        return Outcome(items=[{"id": str(x)}])

    summary = run_items(StageStore(tmp_path, "toy", Shard()), [Item(str(k), k) for k in range(9)], process,
                        concurrency=3, progress=False)
    assert summary.done == 6 and summary.failed == 3
    fails = {r["id"]: r for r in iter_rows(tmp_path, "toy", "failures")}
    assert set(fails) == {"0", "3", "6"}
    assert fails["3"]["kind"] == "internal" and fails["3"]["reason"] == "ValueError: bad 3"


def test_in_flight_items_never_exceed_the_concurrency(tmp_path: Path) -> None:
    live = 0
    peak = 0
    lock = threading.Lock()

    def process(x: int) -> Outcome:
        nonlocal live, peak
        with lock:
            live += 1
            peak = max(peak, live)
        time.sleep(0.002)
        with lock:
            live -= 1
        return Outcome(items=[{"id": str(x)}])

    summary = run_items(StageStore(tmp_path, "toy", Shard()), [Item(str(k), k) for k in range(1000)], process,
                        concurrency=3, progress=False)
    assert summary.done == 1000 and 1 <= peak <= 3


def test_shards_split_the_work_with_no_overlap(tmp_path: Path, corpus: Path, api: ApiConfig) -> None:
    inputs = [str(corpus)]
    work = tmp_path / "w"
    cfg = _cfg(work, inputs, api)
    run_all(cfg, Shard(0, 3), progress=False, stages=("prepare",))
    run_all(cfg, Shard(1, 3), progress=False, stages=("prepare",))
    run_all(cfg, Shard(2, 3), progress=False, stages=("prepare",))
    per: list[set[str]] = []
    for k in range(3):
        path = work / "prepare" / f"items.{k}-of-3.jsonl"
        fails = work / "prepare" / f"failures.{k}-of-3.jsonl"
        ids = {line.split('"id":"')[1].split('"')[0] for f in (path, fails) if f.exists()
               for line in f.read_text().splitlines()}
        per.append(ids)
    assert sum(len(p) for p in per) == len(set().union(*per)) == 10
    assert all(per)  # 10 videos over 3 shards: each got some
    # a later stage owns a segment on the shard that owns its source video
    run_all(cfg, Shard(1, 3), progress=False, stages=("synthesize",))
    synth = {r["id"].rsplit("_s", 1)[0] for r in iter_rows(work, "synthesize")}
    synth |= {r["id"].rsplit("_s", 1)[0] for r in iter_rows(work, "synthesize", "failures")}
    assert synth and synth <= per[1]


def test_items_from_a_factory_are_read_lazily_and_once_each(tmp_path: Path) -> None:
    made = 0
    live = 0
    peak = 0
    lock = threading.Lock()

    class Payload:
        def __init__(self, k: int) -> None:
            nonlocal made, live, peak
            with lock:
                made += 1
                live += 1
                peak = max(peak, live)
            self.k = k

        def __del__(self) -> None:
            nonlocal live
            with lock:
                live -= 1

    def factory():
        for k in [*range(300), 5, 7]:  # two duplicates
            yield Item(f"i{k}", Payload(k))

    summary = run_items(StageStore(tmp_path, "toy", Shard()), factory, lambda p: Outcome(items=[{"id": f"i{p.k}"}]),
                        concurrency=2, progress=False)
    assert summary.done == 300 and summary.total == 300
    assert made == 2 * 302  # counted once, then streamed
    assert peak <= 8  # never all 300 payloads at once
