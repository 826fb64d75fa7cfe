"""End to end on rendered ``aura.world`` streams, with the MLLM played from the world's ground truth."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from aura.data.config import ApiConfig, DataConfig, PrepareConfig, RefineConfig
from aura.data.pipeline import run_all
from aura.data.shard import Shard
from aura.data.stats import collect
from aura.data.store import iter_rows
from aura.stream.messages import video_parts
from aura.world import make_stream, render_video
from tests.data.fake_mllm import ServerThread, build_app
from tests.data.fake_world import WorldMLLM

SEEDS = (7, 32)


@pytest.fixture(scope="module")
def world_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict]]:
    root = tmp_path_factory.mktemp("world")
    streams = {}
    for seed in SEEDS:
        stream = make_stream(seed, duration=40.0)
        render_video(stream.scene, root / "videos" / f"world-{seed}.mp4", fps=10, height=64, style=stream.style)
        streams[f"world-{seed}"] = stream
    fake = WorldMLLM(streams)
    with ServerThread(build_app(fake)) as url:
        api = ApiConfig(api_base=url, model="world", max_tries=2, backoff_s=0, timeout_s=5)
        cfg = DataConfig(work=str(root / "work"), inputs=[str(root / "videos")], api=api, concurrency=2,
                         prepare=PrepareConfig(segment_seconds=300), refine=RefineConfig(seed=1))
        summaries = run_all(cfg, Shard(), progress=False)
    assert all(s.failed == 0 for s in summaries), [s.line() for s in summaries]
    yield root / "work", streams


def test_world_qas_survive_with_their_true_times(world_run) -> None:
    work, streams = world_run
    refined = {r["id"].split("-")[0] + "-" + r["id"].split("-")[1]: r for r in iter_rows(work, "refine")}
    assert len(refined) == len(SEEDS)
    types = set()
    for name, stream in streams.items():
        qas = refined[name]["qas"]
        owed = {(r.time, r.text) for r in stream.responses if r.kind == "answer"}
        for qa in qas:
            types.add(qa["type"])
            if qa["type"] != "realtime" or qa["origin"].get("variant") == 0:
                assert all((a["time"], a["text"]) in owed for a in qa["answers"])
            else:  # a harder variant, re-answered from the state at that moment
                assert qa["answers"][0]["time"] == qa["question_time"]
        multi = [q for q in stream.questions if q.type == "multi"]
        kept_multi = [q for q in qas if q["type"] == "multi"]
        n_owed = [len([r for r in stream.responses if r.question_id == q.id and r.kind == "answer"]) for q in multi]
        assert len(kept_multi) == sum(1 for n in n_owed if n >= 2)
    assert types == {"realtime", "proactive", "multi"}


def test_world_samples_verify_and_feed_the_training_frame_source(world_run) -> None:
    from aura.train.data import iter_samples
    from aura.train.frames import VideoFileFrames

    work, _ = world_run
    stats = collect(work)
    assert stats["verified_samples"] > 0
    assert stats["stages"]["verify"]["failed"] == 0
    kinds = {s["qa_type"] for s in iter_rows(work, "verify")}
    assert {"proactive", "multi"} <= kinds
    frames = VideoFileFrames(root=work, fps=2.0, max_side=None)
    files = sorted((work / "verify").glob("items.*.jsonl"))
    n = 0
    for f in files:
        for _, sample in iter_samples(f, skip_bad=False):
            part = [p for m in sample["messages"] for p in video_parts(m)][-1]
            arr = frames.frames(sample, part)
            assert arr.shape[0] == 2 and arr.shape[1] == 64 and arr.dtype.name == "uint8"
            n += 1
    assert n == stats["verified_samples"]
