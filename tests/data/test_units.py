"""Pieces of the engine on their own: shards, JSON parsing, keys, prompts, rules, prepare edge cases, CLI."""

from __future__ import annotations

from pathlib import Path

import av
import pytest

from aura.cli.main import main
from aura.data.client import ChatClient, parse_json_reply
from aura.data.config import ApiConfig, PrepareConfig, load_config, resolve_api_key
from aura.data.errors import ApiKeyError, DataError, ItemFailure, ShardSpecError
from aura.data.prompts import available, load_prompt, task_of
from aura.data.schemas import QA, Answer, ScenesOut, SegmentQAs, SegmentRecord, VariantsOut
from aura.data.shard import Shard, parse_shard
from aura.data.stages.prepare import discover, prepare_source
from aura.data.stages.refine import kept_everything
from aura.data.stages.structure import build_timeline
from aura.data.stages.verify import rule_check
from aura.stream import ContextConfig
from tests.data.fake_mllm import FakeMLLM
from tests.data.patterns import Square, make_pattern


# ---- shards ---------------------------------------------------------------------------------------
def test_shard_spec_parses_and_rejects_nonsense() -> None:
    assert parse_shard("2/5") == Shard(2, 5) and parse_shard(None) == Shard(0, 1)
    for bad in ("5/5", "a/b", "0/0", "-1/3", "1"):
        with pytest.raises(ShardSpecError):
            parse_shard(bad)


def test_every_key_has_exactly_one_owner() -> None:
    shards = [Shard(k, 7) for k in range(7)]
    keys = [f"video-{i}" for i in range(700)]
    owners = [[s for s in shards if s.owns(k)] for k in keys]
    assert all(len(o) == 1 for o in owners)
    counts = [sum(1 for o in owners if o[0] == s) for s in shards]
    assert min(counts) > 60  # roughly even


# ---- model output parsing, keys, prompts ------------------------------------------------------------
def test_json_replies_are_found_in_fences_and_prose() -> None:
    assert parse_json_reply('```json\n{"a": 1}\n```') == {"a": 1}
    assert parse_json_reply('Sure! {"a": [1, 2]} Hope it helps.') == {"a": [1, 2]}
    for bad in ("", "   ", "no json here", "{broken"):
        with pytest.raises(ValueError):
            parse_json_reply(bad)


def test_schema_rejects_incomplete_variants() -> None:
    with pytest.raises(ValueError, match="levels 1, 2, 3 and 4"):
        VariantsOut.model_validate({"variants": [{"level": 1, "question": "q"}] * 4})


def test_api_key_comes_from_a_file_or_a_named_variable(tmp_path: Path) -> None:
    key = tmp_path / "key"
    key.write_text("sk-test\n")
    assert resolve_api_key(ApiConfig(api_key_file=str(key))) == "sk-test"
    assert resolve_api_key(ApiConfig(api_key_env="MY_KEY"), env={"MY_KEY": "abc"}) == "abc"
    assert resolve_api_key(ApiConfig()) == "EMPTY"
    with pytest.raises(ApiKeyError, match="MY_KEY"):
        resolve_api_key(ApiConfig(api_key_env="MY_KEY"), env={})
    with pytest.raises(ApiKeyError):
        resolve_api_key(ApiConfig(api_key_file=str(tmp_path / "missing")))


def test_every_shipped_prompt_renders_with_its_task_tag() -> None:
    names = available()
    assert {"scenes", "candidates", "verify_candidate", "judge", "rewrite", "variants"} <= set(names)
    for name in names:
        p = load_prompt(name)
        placeholders = {"segment_id", "duration", "scenes", "max_realtime", "max_proactive", "kind", "question",
                        "answer", "question_time", "answer_time", "max_multi", "max_answers", "time", "entities",
                        "template", "window_start", "window_end", "reply_time", "history", "target"}
        system, user = p.render(**{k: "X" for k in placeholders})
        assert task_of(system) == p.id and "$" not in user and "JSON" in user
    with pytest.raises(DataError):
        load_prompt("judge", 99)


def test_client_retries_malformed_output_with_a_correction(server: str, fake: FakeMLLM) -> None:
    client = ChatClient(ApiConfig(api_base=server, max_tries=2, backoff_s=0), "k")
    n = len(fake.requests)
    out = client.ask(load_prompt("scenes"), ScenesOut, segment_id="junkonce-1_s000", duration="7.0")
    assert out.scenes and client.requests == 2 and client.failures == {"malformed_output": 1}
    assert [r["retry"] for r in fake.requests[n:]] == [False, True]


def test_unreachable_api_is_an_item_failure() -> None:
    client = ChatClient(ApiConfig(api_base="http://127.0.0.1:9/v1", max_tries=2, backoff_s=0, timeout_s=2), "k")
    with pytest.raises(ItemFailure) as exc:
        client.ask(load_prompt("scenes"), ScenesOut, segment_id="x_s000", duration="1.0")
    assert exc.value.kind == "api_unreachable" and "after 2 tries" in exc.value.reason


# ---- refine / structure / verify rules --------------------------------------------------------------
def test_rewrites_must_keep_entities_and_numbers() -> None:
    assert kept_everything("Tell me when a red cube appears.", "Let me know once a red cube appears.",
                           ["red", "cube"]) is None
    assert "red" in kept_everything("Tell me when a red cube appears.", "Tell me when a cube appears.", ["red"])
    assert "10" in kept_everything("Alert me 10 seconds after it stops.", "Alert me after it stops.", [])


def _seg(duration: float = 10.0) -> SegmentRecord:
    return SegmentRecord(id="v-1_s000", source_id="v-1", index=0, path="prepare/videos/v-1_s000.mp4", start=0,
                         end=duration, duration=duration, fps=2, frames=int(2 * duration), width=64, height=64,
                         codec="h264", sha256="0", bytes=1)


def test_timeline_keeps_one_reply_per_chunk_and_trims_multi_answers() -> None:
    qas = [
        QA(id="a", type="proactive", question="Tell me when X.", question_time=1.0, ack="OK.",
           answers=[Answer(text="X now.", time=4.2)]),
        QA(id="b", type="realtime", question="What now?", question_time=4.5, answers=[Answer(text="Y.", time=4.5)]),
        QA(id="c", type="multi", question="Each time Z.", question_time=2.0, ack="Sure.",
           answers=[Answer(text="Z1", time=4.9), Answer(text="Z2", time=6.0), Answer(text="Z3", time=8.0)]),
        QA(id="d", type="realtime", question="Late?", question_time=12.0, answers=[Answer(text="No.", time=12.0)]),
    ]
    timeline, dropped = build_timeline(SegmentQAs(id="v-1_s000", segment=_seg(), qas=qas), ContextConfig())
    reasons = {d["qa"]: d["reason"] for d in dropped}
    assert "chunk 4 already holds a reply to a" in reasons["b"]
    assert "clash" in reasons["c"] and "past the end" in reasons["d"]
    assert [q.id for q in timeline.questions] == ["a", "c"]
    assert [(r.question_id, r.kind, r.time) for r in timeline.responses] == [
        ("a", "ack", 1.0), ("c", "ack", 2.0), ("a", "answer", 4.2), ("c", "answer", 6.0), ("c", "answer", 8.0)]


def _sample(evidence: float | None, kind: str = "answer", target: str = "A red cube.") -> dict:
    return {"id": "s", "video_id": "v", "response_kind": kind, "evidence_time": evidence, "messages": [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": "Q?"}, {"role": "assistant", "content": "A red cube."},
        {"role": "user", "content": [{"type": "video", "chunk": 10, "start": 10.0, "end": 11.0}]},
        {"role": "assistant", "content": "<|silent|>"},
        {"role": "user", "content": [{"type": "video", "chunk": 11, "start": 11.0, "end": 12.0}]},
        {"role": "assistant", "content": target},
    ]}


def test_rule_checks_need_no_model() -> None:
    assert rule_check(_sample(11.5, target="A blue ball.")) == []
    assert any("outside the retained window" in r for r in rule_check(_sample(3.0, target="A blue ball.")))
    assert any("already in the history" in r for r in rule_check(_sample(11.0)))
    assert rule_check(_sample(None, kind="ack")) == []


# ---- prepare: bad and odd input -----------------------------------------------------------------------
def test_prepare_refuses_absurd_and_too_short_videos(tmp_path: Path) -> None:
    clip = make_pattern(tmp_path / "c.mp4", 3.0, [Square("red", 1, 2)])
    with pytest.raises(ItemFailure, match="absurd frame size"):
        prepare_source("c", str(clip), tmp_path / "w", PrepareConfig(min_side=100))
    with pytest.raises(ItemFailure, match="absurd duration"):
        prepare_source("c", str(clip), tmp_path / "w", PrepareConfig(max_duration_s=2.0))
    with pytest.raises(ItemFailure, match="too short"):
        prepare_source("c", str(clip), tmp_path / "w", PrepareConfig(min_segment_seconds=5.0))
    assert not list((tmp_path / "w").rglob("*.mp4*"))  # nothing left behind


def test_prepare_drops_a_short_tail_and_downscales(tmp_path: Path) -> None:
    clip = make_pattern(tmp_path / "c.mp4", 9.0, [Square("red", 1, 2)], size=(90, 130), fps=30)
    rec = prepare_source("c", str(clip), tmp_path, PrepareConfig(segment_seconds=4, out_max_side=64))
    assert [(s.start, s.end, s.frames) for s in rec.segments] == [(0.0, 4.0, 8), (4.0, 8.0, 8)]
    assert rec.dropped_tail == 1.0
    assert not (tmp_path / "prepare" / "videos" / "c_s002.mp4").exists()
    with av.open(str(tmp_path / rec.segments[0].path)) as c:
        s = c.streams.video[0]
        assert (s.codec_context.width, s.codec_context.height) == (64, 44)
        assert rec.segments[0].width == 64


def test_discover_lists_files_folders_and_list_files(tmp_path: Path) -> None:
    (tmp_path / "d" / "sub").mkdir(parents=True)
    for p in ("d/a.mp4", "d/sub/b.mkv", "d/notes.txt", "c.avi"):
        (tmp_path / p).write_bytes(b"x")
    (tmp_path / "list.txt").write_text("c.avi\n# comment\n")
    items = discover([str(tmp_path / "d"), f"@{tmp_path / 'list.txt'}"], PrepareConfig().extensions)
    assert sorted(Path(i.payload[1]).name for i in items) == ["a.mp4", "b.mkv", "c.avi"]
    assert len({i.id for i in items}) == 3 and all(i.id == i.payload[0] for i in items)
    assert [i.id for i in discover([str(tmp_path / "d")], [".mp4", ".mkv"])] == \
        [i.id for i in discover([str(tmp_path / "d")], [".mp4", ".mkv"])]
    with pytest.raises(DataError, match="no such file"):
        discover([str(tmp_path / "missing")], [".mp4"])


# ---- CLI ------------------------------------------------------------------------------------------
def test_cli_errors_are_one_line_with_status_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "prepare", "--work", str(tmp_path)]) == 2
    assert main(["data", "synthesize", "--work", str(tmp_path / "empty")]) == 2
    assert main(["data", "prepare", str(tmp_path), "--work", str(tmp_path), "--shard", "3/2"]) == 2
    bad = tmp_path / "bad.yaml"
    bad.write_text("work: w\napi: {timeout_s: -1}\n")
    assert main(["data", "run", "--config", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 4 and all(line.startswith("aura: error: ") for line in err)
    assert "no output of stage 'prepare'" in err[1] and "api.timeout_s" in err[3]


def test_cli_runs_the_whole_engine_from_a_config(tmp_path: Path, corpus: Path, server: str,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "engine.yaml"
    cfg.write_text(
        f"work: out\ninputs: ['{corpus / 'alpha.mp4'}']\nconcurrency: 2\n"
        f"api: {{api_base: '{server}', model: fake, max_tries: 2, backoff_s: 0, media: video_url}}\n"
        "prepare: {segment_seconds: 8}\nstructure: {context: {window_chunks: 4, float_chunks: 2}}\n"
    )
    assert load_config(cfg).work == str(tmp_path / "out")
    assert main(["data", "run", "--config", str(cfg), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "verify:" in out and "0 failed" in out
    assert main(["data", "stats", "--config", str(cfg), "--json"]) == 0
    import json

    stats = json.loads(capsys.readouterr().out)
    assert stats["stages"]["prepare"]["segments"] == 2 and stats["verified_samples"] > 0
    out_file = tmp_path / "all.jsonl"
    assert main(["data", "export", "--config", str(cfg), "-o", str(out_file), "--absolute-paths"]) == 0
    rows = [json.loads(line) for line in out_file.read_text().splitlines()]
    assert len(rows) == stats["verified_samples"] and [r["id"] for r in rows] == sorted(r["id"] for r in rows)
    assert all(Path(r["video"]).is_absolute() and Path(r["video"]).is_file() for r in rows)
    assert main(["data", "export", "--work", str(tmp_path / "none"), "-o", str(out_file)]) == 2


def test_segment_verification_catches_a_truncated_file(tmp_path: Path) -> None:
    from aura.data.stages.prepare import verify_segment

    clip = make_pattern(tmp_path / "c.mp4", 8.0, [Square("red", 1, 2)])
    rec = prepare_source("c", str(clip), tmp_path, PrepareConfig(verify="full"))
    seg = tmp_path / rec.segments[0].path
    for mode in ("full", "ends", "demux"):
        assert verify_segment(seg, 2.0, 16, mode)[0] == "h264"
    data = seg.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) * 2 // 3])
    for mode in ("full", "ends", "demux"):
        with pytest.raises(ItemFailure, match="frames read back, 16 written"):
            verify_segment(cut, 2.0, 16, mode)
    with pytest.raises(ItemFailure, match="frame rate"):
        verify_segment(seg, 4.0, 16, "ends")


def test_shipped_configs_parse() -> None:
    root = Path(__file__).resolve().parents[2] / "configs" / "data"
    files = sorted(root.glob("*.yaml"))
    assert files
    for f in files:
        cfg = load_config(f)
        assert cfg.structure.context.window_chunks == 30 and cfg.work


def test_a_truncated_source_keeps_what_decodes_and_says_so(tmp_path: Path) -> None:
    clip = make_pattern(tmp_path / "c.mkv", 10.0, [Square("red", 1, 2)])
    data = clip.read_bytes()
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(data[: len(data) // 2])
    rec = prepare_source("cut", str(cut), tmp_path / "w", PrepareConfig())
    assert rec.truncated and rec.declared_duration == pytest.approx(10.0, abs=0.1)
    assert 2.0 <= rec.duration < 8.0 and rec.segments[0].frames == round(rec.segments[0].duration * 2)
    full = prepare_source("c", str(clip), tmp_path / "w", PrepareConfig())
    assert not full.truncated
