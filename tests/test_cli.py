"""The command line: groups, the demo replay, unrolling, and one-line errors for bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from aura.cli.main import main
from aura.stream import Sample


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "aura.cli.main", *args], capture_output=True, text=True, timeout=120)


def test_help_lists_groups() -> None:
    out = run_cli("--help")
    assert out.returncode == 0
    assert "stream" in out.stdout


def test_replay_bundled_demo_prints_turns_and_evictions(capsys) -> None:
    assert main(["stream", "replay"]) == 0
    out = capsys.readouterr().out
    assert "user: Tell me when a blue square appears." in out
    assert "assistant (answer): A blue square just appeared." in out
    assert "eviction: window now chunks 15-44" in out
    assert "120 chunks, 6 evictions" in out


PROACTIVE_TIMELINE = {
    "video_id": "v",
    "duration": 20,
    "questions": [{"id": "a", "time": 1.5, "text": "Tell me when it turns red.", "type": "proactive"}],
    "responses": [
        {"time": 1.5, "text": "OK.", "question_id": "a", "kind": "ack"},
        {"time": 9.2, "text": "It is red now.", "question_id": "a"},
    ],
}


def test_unroll_writes_one_sample_per_response(tmp_path: Path) -> None:
    timeline = PROACTIVE_TIMELINE
    src = tmp_path / "t.json"
    src.write_text(json.dumps([timeline, timeline | {"video_id": "w"}]))
    out = tmp_path / "samples.jsonl"
    assert main(["stream", "unroll", str(src), "-o", str(out), "--window", "4", "--float", "2"]) == 0
    rows = [Sample.model_validate_json(line) for line in out.read_text().splitlines()]
    assert [(r.video_id, r.anchor_chunk, r.response_kind) for r in rows] == [
        ("v", 1, "ack"), ("v", 9, "answer"), ("w", 1, "ack"), ("w", 9, "answer"),
    ]
    assert rows[1].messages[-1] == {"role": "assistant", "content": "It is red now."}


def test_unroll_exact_supervises_every_chunk_once(tmp_path: Path) -> None:
    timeline = PROACTIVE_TIMELINE
    src = tmp_path / "t.json"
    src.write_text(json.dumps(timeline))
    out = tmp_path / "samples.jsonl"
    assert main(["stream", "unroll", "--exact", str(src), "-o", str(out), "--window", "4", "--float", "2"]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    # stretches between evictions of a 4+2 window: chunks 0-4, then two at a time
    assert [(r["first_chunk"], r["anchor_chunk"]) for r in rows] == [(0, 4), (5, 6), (7, 8), (9, 10), (11, 12),
                                                                      (13, 14), (15, 16), (17, 18), (19, 19)]
    supervised = [m["content"] for r in rows for m in r["messages"] if m.get("supervise") is True]
    assert len(supervised) == 20
    assert [i for i, c in enumerate(supervised) if c != "<|silent|>"] == [1, 9]
    assert supervised[9] == "It is red now."


def test_bad_inputs_give_one_line_errors_and_no_output(tmp_path: Path) -> None:
    bad_json = tmp_path / "bad.json"
    bad_json.write_text('{"video_id": ')
    bad_schema = tmp_path / "schema.json"
    bad_schema.write_text(json.dumps({"video_id": "x", "duration": -1}))
    orphan = tmp_path / "orphan.json"
    orphan.write_text(json.dumps({"video_id": "x", "duration": 5,
                                  "responses": [{"time": 1, "text": "hi", "question_id": "nope"}]}))
    out = tmp_path / "o.jsonl"
    for args in (
        ["stream", "replay", str(tmp_path / "missing.json")],
        ["stream", "replay", str(bad_json)],
        ["stream", "replay", str(bad_schema)],
        ["stream", "unroll", str(orphan), "-o", str(out)],
        ["stream", "replay", "--window", "0"],
        ["train", "nano", "--streams", "0", "--output-dir", str(tmp_path / "nano")],
        ["train", "nano", "--corrupt-share", "1.5", "--output-dir", str(tmp_path / "nano")],
    ):
        res = run_cli(*args)
        assert res.returncode == 2, args
        assert res.stderr.startswith("aura: error: ") and res.stderr.count("\n") == 1, res.stderr
        assert "Traceback" not in res.stderr
    assert not out.exists() and not (tmp_path / "nano").exists()
    assert list(tmp_path.glob(".*.tmp")) == []
