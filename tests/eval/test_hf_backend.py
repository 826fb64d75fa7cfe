"""The harness against a real backend: the tiny random Qwen3-VL checkpoint of ``aura.models.hf`` (built in code).

Its answers are noise; what is checked is that every query runs through the real model (teacher-
forced silent turns recorded as silence, greedy decoding reproducible), in both modes, via the CLI.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from aura.cli.main import main
from aura.eval.runner import force_silence
from aura.stream import SILENT_TOKEN, VideoChunk
from tests.eval.fixtures import ovo_fixture


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from aura.models.hf.tiny import build_tiny_checkpoint

    torch.set_num_threads(1)
    return build_tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny", "qwen3_vl")


def test_teacher_forced_turns_are_silent_in_the_hf_backend(tiny_checkpoint: Path) -> None:
    import numpy as np

    from aura.models.hf.backend import HFStreamingModel

    model = HFStreamingModel.from_pretrained(tiny_checkpoint, max_new_tokens=4)
    frames = np.zeros((2, 32, 32, 3), dtype=np.uint8)
    for k in range(3):
        assert force_silence(model, VideoChunk(k, k, k + 1, frames)).silent
    replies = [m["content"] for m in model.context.messages() if m["role"] == "assistant"]
    assert replies == [SILENT_TOKEN] * 3


@pytest.mark.parametrize("mode", ["protocol", "stream"])
def test_ovo_fixture_runs_through_the_tiny_hf_model(tiny_checkpoint: Path, tmp_path: Path, mode: str,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    anno, videos = ovo_fixture(tmp_path)
    # a short window and short replies (a random model rarely chooses silence) keep the CPU test quick
    argv = ["eval", "run", "ovo", "-a", str(anno), "--videos", str(videos), "-m", f"hf:{tiny_checkpoint}",
            "--mode", mode, "--no-progress", "--window", "6", "--max-new-tokens", "4"]
    assert main([*argv, "-o", str(tmp_path / "a")]) == 0
    assert "7 run, 0 already done, 1 errors" in capsys.readouterr().out
    rows = [json.loads(line) for line in (tmp_path / "a" / "results.jsonl").read_text().splitlines()]
    ok = [r for r in rows if r["status"] == "ok"]
    assert len(ok) == 7
    if mode == "protocol":
        assert sum(len(r["probes"]) for r in ok) == 4 + 3 + 3 + 3  # four choice items, REC, SSR, CRR probes
        assert all(p["step_s"] > 0 for r in ok for p in r["probes"])
    else:
        session = [json.loads(line) for line in (tmp_path / "a" / "sessions.jsonl").read_text().splitlines()]
        assert {s["model"] for s in session} == {f"hf:{tiny_checkpoint}"}
    summary = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert 0.0 <= summary["overall"] <= 100.0 and summary["scored"] == 7
    if mode == "stream":
        return
    # greedy decoding: a second run gives the very same answers
    assert main([*argv, "-o", str(tmp_path / "b")]) == 0
    again = [json.loads(line) for line in (tmp_path / "b" / "results.jsonl").read_text().splitlines()]

    def said(rs: list[dict]) -> dict:
        return {r["item_id"]: [p["response"] for p in r["probes"]] for r in rs if r["status"] == "ok"}

    assert said(again) == said(rows)
