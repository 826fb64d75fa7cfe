"""Training configuration errors and the ``aura train`` command."""

from __future__ import annotations

from pathlib import Path

import pytest

from aura.cli.main import main
from aura.errors import ConfigError
from aura.train.config import apply_overrides, load_config

from .conftest import TINY_CONFIG, tiny_overrides


def test_shipped_configs_validate() -> None:
    tiny = load_config(TINY_CONFIG)
    assert tiny.train.max_steps == 30 and tiny.data.frames == "synthetic"
    paper = load_config(TINY_CONFIG.parent / "qwen3vl_8b_aura.yaml")
    assert paper.optim.lr == 1e-5 and paper.train.global_batch_size == 128 and paper.train.epochs == 1
    assert paper.model.freeze_vision and paper.model.freeze_projector and paper.model.lora is None
    assert paper.train.loss == "balanced"
    assert paper.grad_accum(32) == 4 and paper.grad_accum(128) == 1


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["train.bogus=1"], "unknown key 'train.bogus'"),
        (["extra.x=1"], "unknown key 'extra'"),
        (["optim.lr=-1"], "optim.lr: Input should be greater than 0"),
        (["train.loss=fancy"], "train.loss: Input should be"),
        (["train.global_batch_size=3", "train.micro_batch_size=2"], "not a multiple of micro_batch_size"),
        (["nokey"], "not of the form section.key=value"),
    ],
)
def test_config_errors_are_one_line(overrides: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        load_config(TINY_CONFIG, overrides)
    assert "\n" not in str(info.value)


def test_missing_and_malformed_config_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("model:\n  path: [unclosed\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml:\d+: malformed YAML"):
        load_config(bad)
    missing = tmp_path / "m.yaml"
    missing.write_text("data:\n  train: x.jsonl\n")
    with pytest.raises(ConfigError, match="missing key 'model'"):
        load_config(missing)


def test_overrides_parse_yaml_values() -> None:
    data = apply_overrides({"optim": {"lr": 1}}, ["optim.lr=2e-5", "model.lora={r: 4}", "train.tensorboard=true"])
    assert data == {"optim": {"lr": 2e-5}, "model": {"lora": {"r": 4}}, "train": {"tensorboard": True}}


def test_cli_train_and_errors(tmp_path: Path, qwen3_dir: Path, samples_path: Path, capsys) -> None:
    sets = [x for o in tiny_overrides(tmp_path / "run", qwen3_dir, samples_path) for x in ("--set", o)]
    rc = main(["train", "--config", str(TINY_CONFIG), *sets, "--max-steps", "2", "--no-progress"])
    out = capsys.readouterr().out
    assert rc == 0 and "trained steps 0->2 of 2" in out and "step-00000002" in out
    # the same output dir again, without --resume: refused, one line, exit 2
    rc = main(["train", "--config", str(TINY_CONFIG), *sets, "--max-steps", "2"])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "already holds checkpoints" in err
    rc = main(["train", "--config", str(TINY_CONFIG), "--set", "train.nope=1"])
    err = capsys.readouterr().err
    assert rc == 2 and err.strip() == f"aura: error: {TINY_CONFIG}: unknown key 'train.nope'"
    other = ["--model", str(tmp_path), "--output-dir", str(tmp_path / "b")]
    rc = main(["train", "--config", str(TINY_CONFIG), *sets, *other])
    err = capsys.readouterr().err
    assert rc == 2 and "not a checkpoint directory" in err


def test_bench_loss_command_reports_every_variant(capsys) -> None:
    import json

    rc = main(["bench", "loss", "--repeats", "1", "--json"])
    res = json.loads(capsys.readouterr().out)
    assert rc == 0
    assert set(res["step_ms_cpu"]) == {"balanced", "plain", "reference_ce"}
    assert all(v > 0 for v in res["step_ms_wall"].values()) and res["micro_batches"] > 0
    assert res["command"] == "aura bench loss" and res["date"] and res["machine"]
    assert main(["bench", "loss", "--repeats", "0"]) == 2
