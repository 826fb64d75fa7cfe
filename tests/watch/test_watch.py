"""aura watch: scheduling, pacing, events, and one-line errors for bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from aura.models.nano import NanoStreamingModel, save_checkpoint
from aura.stream import VideoChunk
from aura.video import write_mp4
from aura.watch import AskError, ScheduledQuestion, check_schedule, load_questions, parse_ask, watch

from ..nano.test_streaming import tiny_model

SAMPLE = Path(__file__).resolve().parents[2] / "src" / "aura" / "assets" / "sample.mp4"


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    model, tok = tiny_model()
    return save_checkpoint(tmp_path_factory.mktemp("ckpt") / "nano", model, tok)


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "aura.cli.main", "watch", *args], capture_output=True, text=True,
                          timeout=300)


def test_parse_ask() -> None:
    assert parse_ask("12.5: What colour is the circle?") == ScheduledQuestion(12.5, "What colour is the circle?")
    assert parse_ask("1:05: How many?") == ScheduledQuestion(65.0, "How many?")
    for bad in ("no time here", "12.5:", ": question", "-3: q"):
        with pytest.raises(AskError):
            parse_ask(bad)


def test_schedule_rejects_late_and_empty_questions() -> None:
    with pytest.raises(AskError, match="past the end"):
        check_schedule([ScheduledQuestion(90.0, "q?")], 80.0)
    with pytest.raises(AskError, match="empty"):
        check_schedule([ScheduledQuestion(1.0, "  ")], 80.0)
    ordered = check_schedule([ScheduledQuestion(5.0, "b"), ScheduledQuestion(1.0, "a")], None)
    assert [q.text for q in ordered] == ["a", "b"]


def test_questions_file_errors(tmp_path: Path) -> None:
    path = tmp_path / "q.json"
    path.write_text(json.dumps([{"time": "soon", "question": "x"}]))
    with pytest.raises(Exception, match="item 0 has no valid"):
        load_questions(str(path))
    path.write_text("{not json")
    with pytest.raises(Exception, match="malformed JSON"):
        load_questions(str(path))


def chunks(n: int) -> list[VideoChunk]:
    rng = np.random.default_rng(0)
    return [VideoChunk(k, float(k), float(k + 1), rng.integers(0, 255, (2, 16, 16, 3), dtype=np.uint8))
            for k in range(n)]


def test_watch_attaches_questions_to_their_chunk_and_paces_realtime() -> None:
    model, tok = tiny_model()
    nano = NanoStreamingModel(model, tok, max_new_tokens=3)
    now = [0.0]
    sleeps: list[float] = []

    def clock() -> float:
        return now[0]

    def sleep(s: float) -> None:
        sleeps.append(s)
        now[0] += s

    events = []
    qs = [ScheduledQuestion(2.4, "What colour is the circle?"), ScheduledQuestion(2.9, "How many objects?")]
    stats = watch(nano, chunks(6), qs, events.append, realtime=True, clock=clock, sleep=sleep)
    questions = [e for e in events if e.type == "question"]
    assert [(e.chunk, e.text) for e in questions] == [(2, "What colour is the circle?"), (2, "How many objects?")]
    assert [q for _, q in nano.context.window[2].questions] == ["What colour is the circle?\nHow many objects?"]
    assert sleeps == [1.0, 1.0, 1.0, 1.0, 1.0, 1.0]  # each chunk waits until its end in wall time
    assert stats["chunks"] == 6 and stats["unasked"] == []


def test_cli_streams_a_video_as_jsonl(checkpoint: Path, tmp_path: Path) -> None:
    clip = tmp_path / "clip.mp4"
    rng = np.random.default_rng(1)
    write_mp4(clip, [rng.integers(0, 255, (48, 64, 3), dtype=np.uint8) for _ in range(50)], fps=5.0)  # 10 s
    res = run_cli(str(clip), "--model", f"nano:{checkpoint}", "--ask", "3.5: What colour is the circle?",
                  "--jsonl", "--max-new-tokens", "2")
    assert res.returncode == 0, res.stderr
    rows = [json.loads(line) for line in res.stdout.splitlines()]
    assert rows[0] == {"time": 3.5, "type": "question", "text": "What colour is the circle?", "chunk": 3}
    assert rows[-1]["type"] == "summary" and rows[-1]["chunks"] == 10


def test_cli_bad_inputs_one_line_exit_2(tmp_path: Path, checkpoint: Path) -> None:
    not_video = tmp_path / "notes.mp4"
    not_video.write_text("hello")
    short = tmp_path / "short.mp4"
    write_mp4(short, [np.zeros((32, 32, 3), np.uint8)], fps=2.0)
    truncated = tmp_path / "cut.mp4"
    truncated.write_bytes(SAMPLE.read_bytes()[:100_000])
    model = ["--model", f"nano:{checkpoint}", "--max-new-tokens", "1"]
    cases = {
        "missing": [str(tmp_path / "missing.mp4"), *model],
        "not a video": [str(not_video), *model],
        "shorter": [str(short), *model],
        "past the end": [str(SAMPLE), "--ask", "95: hello?", *model],
        "expected 'TIME: QUESTION'": [str(SAMPLE), "--ask", "hello", *model],
        "truncated": [str(truncated), *model],
        "no such checkpoint": [str(SAMPLE), "--model", f"nano:{tmp_path / 'nope'}"],
    }
    for expect, args in cases.items():
        res = run_cli(*args)
        assert res.returncode == 2, (expect, res.stderr)
        assert res.stderr.count("\n") == 1 and res.stderr.startswith("aura: error: "), res.stderr
        assert expect in res.stderr or expect.split()[0] in res.stderr, (expect, res.stderr)
        assert "Traceback" not in res.stderr
    res = run_cli(str(truncated), *model)
    assert "you:" not in res.stdout and "chunks" not in res.stdout  # no summary after a broken stream


def test_bench_rtf_times_every_step(checkpoint: Path, tmp_path: Path) -> None:
    from aura.bench.rtf import run_rtf

    clip = tmp_path / "clip.mp4"
    rng = np.random.default_rng(2)
    write_mp4(clip, [rng.integers(0, 255, (48, 64, 3), dtype=np.uint8) for _ in range(12)], fps=2.0)  # 6 s
    questions = tmp_path / "q.json"
    questions.write_text(json.dumps([{"time": 1.5, "question": "How many objects are there?"}]))
    out = run_rtf(f"nano:{checkpoint}", clip, questions, max_new_tokens=2)
    assert out["chunks"] == 6
    s = out["step_ms"]
    assert 0 < s["p50"] <= s["p90"] <= s["p99"] <= s["max"]
    assert out["rtf"] == pytest.approx(s["mean"] / 1000)
