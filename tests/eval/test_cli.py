"""``aura eval run | score | compare`` through the real command line (in process), and its one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aura.cli.main import main
from tests.eval.fixtures import ovo_fixture

DOUBLE = "py:tests.eval.doubles:ScriptedModel"  # the TEST DOUBLE model, by import path


def test_run_score_compare(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    anno, videos = ovo_fixture(tmp_path)
    base = ["eval", "run", "ovo", "-a", str(anno), "--videos", str(videos), "-m", DOUBLE, "--no-progress"]
    assert main([*base, "-o", str(tmp_path / "p")]) == 0
    out = capsys.readouterr().out
    assert "ovo protocol: 7 run, 0 already done, 1 errors, 4 bad annotation rows" in out
    assert "overall 79.6" in out
    for name in ("results.jsonl", "summary.json", "report.md", "run.json", "accuracy_per_task.png"):
        assert (tmp_path / "p" / name).is_file()
    assert main([*base, "-o", str(tmp_path / "p")]) == 0
    assert "0 run, 7 already done, 1 errors" in capsys.readouterr().out  # resumed: only the failing item re-ran
    (tmp_path / "garbage.json").write_text("{not json")
    stream = ["eval", "run", "ovo", "-a", str(anno), str(tmp_path / "garbage.json"), "--videos", str(videos),
              "-m", DOUBLE, "--mode", "stream", "--workers", "2", "-o", str(tmp_path / "s")]
    assert main(stream) == 0
    captured = capsys.readouterr()
    assert "5 bad annotation rows" in captured.out
    assert "ovo stream" in captured.err and "item" in captured.err  # the progress bar (with its ETA) on stderr
    assert "garbage.json file: " in (tmp_path / "s" / "report.md").read_text()

    assert main(["eval", "score", "ovo", "--results", str(tmp_path / "s" / "results.jsonl")]) == 0
    out = capsys.readouterr().out
    assert "# ovo — stream mode" in out and "**Overall: 79.6**" in out and "| REC | 100.0 |" in out

    assert main(["eval", "compare", str(tmp_path / "p"), str(tmp_path / "s" / "summary.json")]) == 0
    out = capsys.readouterr().out
    assert "| benchmark / mode | ovo protocol | ovo stream | |" in out
    assert "| **overall** | 79.6 | 79.6 | +0.0 |" in out


def test_score_official_file_and_write_reports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    results = {"backward": [{"id": 1, "task": "EPM", "video": "v", "question": "q", "response": "A",
                             "ground_truth": "A"}], "realtime": [], "forward": []}
    (tmp_path / "official.json").write_text(json.dumps(results))
    assert main(["eval", "score", "ovo", "-r", str(tmp_path / "official.json"), "-o", str(tmp_path / "rep")]) == 0
    assert "**Overall: 100.0**" in capsys.readouterr().out
    summary = json.loads((tmp_path / "rep" / "summary.json").read_text())
    assert summary["format"] == "official" and summary["overall"] == 100.0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["eval", "score", "nope", "-r", "x"], "unknown benchmark 'nope'"),
        (["eval", "score", "ovo", "-r", "/nonexistent/r.jsonl"], "no such results file"),
        (["eval", "run", "ovo", "-a", "/nonexistent/a.json", "--videos", ".", "-m", DOUBLE, "-o", "o"],
         "no usable items in /nonexistent/a.json (1 bad rows): /nonexistent/a.json: no such file"),
        (["eval", "run", "ovo", "-a", "x.json", "--videos", "/nonexistent", "-m", DOUBLE, "-o", "o"],
         "no such video directory"),
        (["eval", "compare", "/nonexistent/a", "/nonexistent/b"], "cannot compare"),
        (["eval", "score", "omnimmi", "-r", "r.json", "--judge", "openai"], "needs --judge-url"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv: list[str], message: str, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "r.json").write_text(json.dumps([{"video": "v", "question": "q", "answer": [1, 2], "pred": [1]}]))
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.startswith("aura: error:") and len(err.strip().splitlines()) == 1


def test_bad_model_spec_and_window(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    anno, videos = ovo_fixture(tmp_path)
    base = ["eval", "run", "ovo", "-a", str(anno), "--videos", str(videos), "-o", str(tmp_path / "o")]
    assert main([*base, "-m", "gpt:whatever"]) == 2
    assert "unknown model spec" in capsys.readouterr().err
    assert main([*base, "-m", "py:no.such.module:f"]) == 2
    assert "No module named" in capsys.readouterr().err
    assert main([*base, "-m", DOUBLE, "--window", "0"]) == 2
    assert "bad option window_chunks" in capsys.readouterr().err
