"""End to end: test patterns -> five stages against a real OpenAI-compatible server on loopback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aura.data.config import DataConfig, PrepareConfig, RefineConfig, StructureConfig
from aura.data.pipeline import run_all
from aura.data.prompts import load_templates
from aura.data.shard import Shard
from aura.data.stats import collect, render
from aura.data.store import iter_rows
from aura.stream import ContextConfig, Sample, Timeline, unroll
from tests.data.conftest import SEGMENT_SECONDS
from tests.data.fake_mllm import ALL_COLOURS, FakeMLLM


def _config(work: Path, corpus: Path, api, **kw) -> DataConfig:
    return DataConfig(
        work=str(work), inputs=[str(corpus)], concurrency=3, api=api,
        prepare=PrepareConfig(segment_seconds=SEGMENT_SECONDS),
        refine=RefineConfig(seed=3),
        structure=StructureConfig(context=ContextConfig(window_chunks=4, float_chunks=2, history_groups=3)),
        **kw,
    )


@pytest.fixture(scope="module")
def engine_run(tmp_path_factory, corpus, server, fake):
    from aura.data.config import ApiConfig

    api = ApiConfig(api_base=server, model="fake-mllm", timeout_s=0.5, max_tries=2, backoff_s=0.0, concurrency=4)
    work = tmp_path_factory.mktemp("work")
    cfg = _config(work, corpus, api)
    summaries = run_all(cfg, Shard(), progress=False)
    return work, cfg, summaries


def test_every_stage_runs_and_bad_items_are_recorded(engine_run) -> None:
    work, _, summaries = engine_run
    by = {s.stage: s for s in summaries}
    assert [s.stage for s in summaries] == ["prepare", "synthesize", "refine", "structure", "verify"]
    stats = collect(work)
    st = stats["stages"]
    # prepare: 4 good + 3 API-fault patterns made it; 3 bad files failed with their reasons.
    assert st["prepare"]["done"] == 7 and st["prepare"]["failed"] == 3
    fails = {r["id"].split("-")[0]: r for r in iter_rows(work, "prepare", "failures")}
    assert set(fails) == {"empty", "notvideo", "voice"}
    assert "empty" in fails["empty"]["reason"]
    assert "no video stream" in fails["voice"]["reason"]
    assert all(r["kind"] == "video" for r in fails.values())
    # synthesize: the three API faults fail per segment with distinct kinds; flaky ones recover.
    sfails = {r["id"].split("-")[0]: r for r in iter_rows(work, "synthesize", "failures")}
    assert {k: v["kind"] for k, v in sfails.items()} == {
        "slowvid": "api_timeout", "badapi": "api_error", "garbage": "malformed_output"}
    assert "HTTP 500" in sfails["badapi"]["reason"] and "after 2 tries" in sfails["badapi"]["reason"]
    assert by["synthesize"].failed == 3
    ok_sources = {r["id"].split("-")[0] for r in iter_rows(work, "synthesize")}
    assert {"alpha", "beta", "flaky", "junkonce"} <= ok_sources
    text = render(stats)
    assert "api_timeout" in text and "malformed_output" in text and "type mix" in text


def test_prepare_segments_are_verified_h264_at_2fps(engine_run) -> None:
    import av

    work, _, _ = engine_run
    rows = {r["id"].split("-")[0]: r for r in iter_rows(work, "prepare")}
    alpha = rows["alpha"]
    assert [(s["start"], s["end"]) for s in alpha["segments"]] == [(0.0, 8.0), (8.0, 14.0)]
    for seg in alpha["segments"] + rows["beta"]["segments"]:
        with av.open(str(work / seg["path"])) as c:
            s = c.streams.video[0]
            assert s.codec_context.name == "h264" and float(s.average_rate) == 2.0
            assert sum(1 for _ in c.decode(s)) == seg["frames"] == round(seg["duration"] * 2)
        import hashlib

        assert hashlib.sha256((work / seg["path"]).read_bytes()).hexdigest() == seg["sha256"]


def test_synthesis_rejects_what_the_video_up_to_the_answer_does_not_show(engine_run, fake: FakeMLLM) -> None:
    work, _, _ = engine_run
    rows = list(iter_rows(work, "synthesize"))
    rejected = [x for r in rows for x in r["rejected"]]
    # "disappears" candidates are answered a second too early: unsupported by frames up to then.
    early = [x for x in rejected if "disappears" in x["question"]]
    assert early and all(x["reason"].startswith("verify: not supported") for x in early)
    assert any(x["reason"].startswith("rule: time") for x in rejected)  # the out-of-segment one
    qas = [q for r in rows for q in r["qas"]]
    assert {q["type"] for q in qas} == {"realtime", "proactive", "multi"}
    for q in qas:
        if q["type"] == "multi":  # the hallucinated yellow answer never survives
            assert len(q["answers"]) >= 2 and all("yellow" not in a["text"] for a in q["answers"])
        if q["type"] == "proactive":
            assert "appears" in q["question"] and q["answers"][0]["time"] > q["question_time"]
    # every verification request showed frames only up to the answer time
    verifs = [r for r in fake.requests if r["task"] in ("verify_candidate", "verify_answer") and r["times"]]
    assert verifs and all(r["images"] == len(r["times"]) for r in verifs)


def test_refine_rewrites_keep_entities_and_acks_are_inserted(engine_run) -> None:
    work, _, _ = engine_run
    syn = {q["id"]: q for r in iter_rows(work, "synthesize") for q in r["qas"]}
    ref = [q for r in iter_rows(work, "refine") for q in r["qas"]]
    assert len(ref) == len(syn)
    refused = 0
    for q in ref:
        orig = syn[q["id"]]
        assert q["question_time"] == orig["question_time"]
        if q["type"] == "realtime":
            v = q["origin"]["variant"]
            assert 0 <= v <= 4 and (v == 0) == (q["question"] == orig["question"])
            continue
        assert q["ack"]
        if q["origin"]["template"] == "proactive-watch":  # the server's sloppy rewrite loses the colour
            assert q["origin"]["rewrite_refused"].startswith("lost entity")
            assert q["question"] == orig["question"]
            refused += 1
        else:
            tpl = next(t["template"] for t in load_templates("rewrite_templates.v1.json")
                       if t["id"] == q["origin"]["template"])
            assert q["question"].startswith(tpl.split("{event}")[0])
            assert all(e in q["question"] for e in orig["entities"] if e in orig["question"])
        assert [a["time"] for a in q["answers"]] == [a["time"] for a in orig["answers"]]
    variants = [q["origin"]["variant"] for q in ref if q["type"] == "realtime"]
    assert len(set(variants)) >= 3  # the balanced draw spreads over the five choices


def test_structure_is_the_stream_unrolling_of_the_merged_timeline(engine_run) -> None:
    work, cfg, _ = engine_run
    rows = list(iter_rows(work, "structure"))
    assert rows
    mixed_types = False
    for r in rows:
        timeline = Timeline.model_validate(r["timeline"])
        again = [s.model_dump(mode="json") for s in unroll(timeline, cfg.structure.context)]
        assert again == r["samples"]
        kinds = {q.type for q in timeline.questions}
        mixed_types |= len(kinds) >= 2
        times = [x.time for x in timeline.responses]
        assert times == sorted(times)
    assert mixed_types
    assert sum(len(r["samples"]) for r in rows) >= 15


def test_verified_samples_are_grounded_and_load_everywhere(engine_run, tmp_path: Path, monkeypatch) -> None:
    work, _, _ = engine_run
    stats = collect(work)
    kept = list(iter_rows(work, "verify"))
    rejected = list(iter_rows(work, "verify", "rejected"))
    assert kept and rejected
    assert stats["verified_samples"] == len(kept)
    # the invented purple object of the "why" variant is caught by the judge
    assert all("purple" not in s["messages"][-1]["content"] for s in kept)
    purple = [r for r in rejected if any("judge" in x for x in r["reasons"])]
    assert purple
    for s in kept:
        Sample.model_validate(s)
        target = s["messages"][-1]["content"]
        assert not any(c in target for c in ALL_COLOURS if c not in {"red", "blue", "green"})
    mix = {row["type"]: row["count"] for row in stats["mix"]}
    assert sum(mix.values()) == len(kept) and mix["mixed"] > 0
    # the training code's reader takes every verified file
    from aura.train.data import iter_samples

    files = sorted((work / "verify").glob("items.*.jsonl"))
    assert sum(1 for f in files for _ in iter_samples(f, skip_bad=False)) == len(kept)
    # and so does datasets.load_dataset("json")
    import datasets  # the dev extra installs it

    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    ds = datasets.load_dataset("json", data_files=[str(f) for f in files], split="train",
                               cache_dir=str(tmp_path / "hf"))
    assert len(ds) == len(kept)
    assert ds[0]["messages"][-1]["role"] == "assistant"
    assert {row["id"] for row in ds} == {s["id"] for s in kept}
    # video parts point at real segment files at the stream rate
    first = kept[0]
    assert (work / first["video"]).is_file()
    json.dumps(first)
