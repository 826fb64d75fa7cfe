"""``aura eval world`` through the command line: the real nano backend end to end, and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from aura.cli.main import main
from aura.fileio import iter_jsonl
from aura.models.nano import NanoConfig, NanoVLM, save_checkpoint
from aura.models.nano.tokenizer import train_tokenizer

CORPUS = [
    "<|im_start|>user\nWhat colour is the circle?<|im_end|>\n<|im_start|>assistant\nThe circle is red.<|im_end|>\n",
    "Tell me when a blue square appears. OK, I will tell you. How many objects are there? There are 3 objects.",
] * 20


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny RANDOM aura-nano (untrained): real backend plumbing, meaningless answers."""
    torch.manual_seed(0)
    tok = train_tokenizer(CORPUS, vocab_size=300)
    cfg = NanoConfig(vocab_size=len(tok), image_size=32, grid=2, d_model=32, n_layers=2, n_heads=2)
    model = NanoVLM(cfg, tok.convert_tokens_to_ids("<|video_pad|>"))
    return save_checkpoint(tmp_path_factory.mktemp("ckpt") / "nano", model, tok)


def test_nano_end_to_end_writes_every_report_file(tiny_checkpoint: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    args = ["eval", "world", "--model", f"nano:{tiny_checkpoint}", "--streams", "2", "--seconds", "20", "24",
            "--height", "48", "--max-new-tokens", "8", "--out", str(out)]
    assert main(args) == 0
    printed = capsys.readouterr()
    assert "world test: 2 run, 0 already done, 0 errors" in printed.out
    assert "[2/2] world-200000" in printed.err
    for name in ("results.jsonl", "summary.json", "report.md", "world_metrics.png", "world_latency.png"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    assert len(list((out / "videos").glob("world-*.mp4"))) == 2
    rows = [r for _, r in iter_jsonl(out / "results.jsonl")]
    assert [r["status"] for r in rows] == ["ok", "ok"] and {r["model"] for r in rows} == {f"nano:{tiny_checkpoint}"}
    for r in rows:
        assert 20 <= len(r["steps"]) == r["duration"] <= 24
        assert all(s["step_s"] > 0 and s["prefill_tokens"] > 0 for s in r["steps"])
        assert any(s["reused_tokens"] > 0 for s in r["steps"])  # the real backend's prefix cache was used
        assert all(s["silent"] == (s["text"] == "") for s in r["steps"])
    summary = json.loads((out / "summary.json").read_text())
    assert summary["scored"] == 2 and summary["latency"]["steps"] == sum(len(r["steps"]) for r in rows)
    assert summary["latency"]["step_p99_s"] >= summary["latency"]["step_p50_s"] > 0
    assert "## Latency" in (out / "report.md").read_text()
    assert main(args) == 0
    assert "0 run, 2 already done" in capsys.readouterr().out


@pytest.mark.parametrize(("extra", "message"), [
    (["--split", "dev"], "unknown split 'dev'"),
    (["--phrasing", "odd"], "unknown phrasing 'odd'"),
    (["--seconds", "5", "10"], "seconds must be MIN MAX"),
    (["--streams", "0"], "bad option streams"),
    (["--model", "bogus"], "model spec 'bogus' must look like SCHEME:TARGET"),
    (["--model", "warp:drive"], "unknown model scheme 'warp'"),
    (["--model", "nano:/no/such/dir"], "/no/such/dir: no such checkpoint directory"),
])
def test_bad_input_is_one_line(extra: list[str], message: str, tmp_path: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "world", "--streams", "1", "--out", str(tmp_path / "o"), *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "o" / "run.json").exists()  # nothing recorded: a corrected re-run may use the directory


def test_missing_bundled_checkpoint_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    import aura.models.nano as nano

    monkeypatch.setattr(nano, "bundled_checkpoint", lambda: tmp_path / "assets" / "nano")
    assert main(["eval", "world", "--streams", "1", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert "bundled aura-nano checkpoint is missing" in err and len(err.splitlines()) == 1


def test_not_a_checkpoint_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "world", "--model", f"nano:{tmp_path}", "--streams", "1", "--out", str(tmp_path / "o")]) == 2
    assert "no config.json" in capsys.readouterr().err


def test_checkpoint_config_that_does_not_fit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "aura_nano", "vision_channels": [1, 2, 3, 4, 5]}))
    assert main(["eval", "world", "--model", f"nano:{tmp_path}", "--streams", "1", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert "config.json: vision_channels" in err and "not a checkpoint of this aura-nano" in err
    assert len(err.splitlines()) == 1
