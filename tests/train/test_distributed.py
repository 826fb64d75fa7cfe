"""``accelerate launch --num_processes 2`` (gloo on CPU) trains like one process with accumulation."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from aura.train.trainer import Trainer, list_checkpoints, read_metrics

from .conftest import TINY_CONFIG, tiny_config, tiny_overrides


def test_two_processes_match_one_process_with_accumulation(tmp_path: Path, qwen3_dir: Path,
                                                           samples_path: Path) -> None:
    accelerate = Path(sys.executable).parent / "accelerate"
    sets = [x for o in tiny_overrides(tmp_path / "ddp", qwen3_dir, samples_path, "train.max_steps=3")
            for x in ("--set", o)]
    cmd = [str(accelerate), "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
           "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", "29517",
           "-m", "aura.cli.main", "train", "--config", str(TINY_CONFIG), *sets]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("trained steps 0->3 of 3") == 1  # printed by the main process only
    ddp = read_metrics(tmp_path / "ddp")
    assert [r["step"] for r in ddp] == [1, 2, 3]
    state = list_checkpoints(tmp_path / "ddp")[-1] / "state"
    assert (state / "random_states_0.pkl").is_file() and (state / "random_states_1.pkl").is_file()
    # global batch 2 = 2 processes x 1 micro-batch, or 1 process x 2 accumulated micro-batches:
    # the same plan, the same samples per step, the same averaged gradient.
    single = Trainer(tiny_config(tmp_path / "one", qwen3_dir, samples_path, "train.max_steps=3")).train()
    assert [r["loss"] for r in ddp] == pytest.approx(single.losses, rel=1e-4)
    assert sum(r["tokens"] for r in ddp) == sum(r["tokens"] for r in read_metrics(tmp_path / "one"))
