"""The trainer on a tiny random Qwen3-VL (built in code, saved, loaded with from_pretrained)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from aura.errors import ConfigError
from aura.train.model import part_of
from aura.train.trainer import Trainer, list_checkpoints, read_metrics

from .conftest import tiny_config


@pytest.fixture(autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def test_thirty_steps_loss_falls_and_checkpoints(tmp_path: Path, qwen3_dir: Path, samples_path: Path) -> None:
    cfg = tiny_config(tmp_path / "run", qwen3_dir, samples_path)
    trainer = Trainer(cfg)
    assert trainer.total_steps == 30
    before = {n: p.detach().clone() for n, p in trainer.model.named_parameters()}
    result = trainer.train()
    assert result.step == 30 and len(result.losses) == 30
    first, last = sum(result.losses[:5]) / 5, sum(result.losses[-5:]) / 5
    assert last < first - 0.5, (first, last)
    # frozen vision encoder and projector did not move; the LLM did
    moved = {n: not torch.equal(before[n], p.detach()) for n, p in trainer.model.named_parameters()}
    vision = [n for n in moved if part_of(n, cfg.model) != "llm"]
    assert vision and not any(moved[n] for n in vision)
    assert any(moved[n] for n in moved if part_of(n, cfg.model) == "llm")
    # checkpoints every 10 steps, the last 2 kept, each complete and loadable
    ckpts = list_checkpoints(tmp_path / "run")
    assert [c.name for c in ckpts] == ["step-00000020", "step-00000030"]
    final = ckpts[-1]
    assert json.loads((final / "trainer_state.json").read_text())["step"] == 30
    assert (final / "config.yaml").is_file() and (final / "model" / "preprocessor_config.json").is_file()
    saved = load_file(str(final / "model" / "model.safetensors"))
    live = dict(trainer.model.named_parameters())
    name = next(n for n in live if "language_model" in n and n.endswith("q_proj.weight"))
    assert torch.equal(saved[name], live[name].detach())
    from transformers import AutoModelForImageTextToText

    reloaded = AutoModelForImageTextToText.from_pretrained(str(final / "model"))
    assert torch.equal(dict(reloaded.named_parameters())[name], live[name].detach())
    # metrics JSONL: one row per step, with loss, lr and throughput
    rows = read_metrics(tmp_path / "run")
    assert [r["step"] for r in rows] == list(range(1, 31))
    assert all(r["tokens_per_s"] > 0 and r["lr"] > 0 for r in rows)
    assert [r["loss"] for r in rows] == pytest.approx(result.losses)


def test_resume_gives_the_same_next_steps(tmp_path: Path, qwen3_dir: Path, samples_path: Path) -> None:
    extra = ("train.max_steps=7", "train.save_every=100")
    full = Trainer(tiny_config(tmp_path / "full", qwen3_dir, samples_path, *extra)).train()
    part = Trainer(tiny_config(tmp_path / "cut", qwen3_dir, samples_path, *extra)).train(stop_after=4)
    assert part.step == 4 and [c.name for c in list_checkpoints(tmp_path / "cut")] == ["step-00000004"]
    assert part.losses == pytest.approx(full.losses[:4], rel=1e-6)
    resumed = Trainer(tiny_config(tmp_path / "cut", qwen3_dir, samples_path, *extra)).train(resume=True)
    assert resumed.start_step == 4 and resumed.step == 7
    assert resumed.losses == pytest.approx(full.losses[4:], rel=1e-5, abs=1e-6)
    assert [r["step"] for r in read_metrics(tmp_path / "cut")] == list(range(1, 8))


def test_refuses_to_overwrite_and_to_resume_from_nothing(tmp_path: Path, qwen3_dir: Path, samples_path: Path) -> None:
    cfg = tiny_config(tmp_path / "run", qwen3_dir, samples_path, "train.max_steps=1")
    with pytest.raises(ConfigError, match="no checkpoint"):
        Trainer(cfg).train(resume=True)
    Trainer(cfg).train()
    with pytest.raises(ConfigError, match="already holds checkpoints"):
        Trainer(cfg).train()
    other = tiny_config(tmp_path / "run", qwen3_dir, samples_path, "train.max_steps=1", "train.global_batch_size=4")
    with pytest.raises(ConfigError, match="grad_accum=2, now 4"):
        Trainer(other).train(resume=True)


def test_unfrozen_vision_and_lora(tmp_path: Path, qwen3_dir: Path, samples_path: Path) -> None:
    cfg = tiny_config(tmp_path / "v", qwen3_dir, samples_path, "train.max_steps=2", "model.freeze_vision=false",
                      "model.freeze_projector=false")
    trainer = Trainer(cfg)
    assert trainer.trainable["vision"] > 0 and trainer.trainable["projector"] > 0
    before = {n: p.detach().clone() for n, p in trainer.model.named_parameters() if part_of(n, cfg.model) == "vision"}
    trainer.train()
    assert any(not torch.equal(before[n], p.detach()) for n, p in trainer.model.named_parameters() if n in before)

    lcfg = tiny_config(tmp_path / "l", qwen3_dir, samples_path, "train.max_steps=2", "model.lora={r: 4, alpha: 8}")
    lt = Trainer(lcfg)
    trainable = [n for n, p in lt.model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n and "language_model" in n for n in trainable)
    frozen_before = {n: p.detach().clone() for n, p in lt.model.named_parameters() if not p.requires_grad}
    res = lt.train()
    assert res.step == 2
    assert all(torch.equal(frozen_before[n], p.detach()) for n, p in lt.model.named_parameters() if n in frozen_before)
    assert (res.checkpoint / "model" / "adapter_model.safetensors").is_file()


def test_loss_variants_train(tmp_path: Path, qwen3_dir: Path, samples_path: Path) -> None:
    losses = {}
    for variant in ("masked", "plain"):
        cfg = tiny_config(tmp_path / variant, qwen3_dir, samples_path, "train.max_steps=1", f"train.loss={variant}")
        losses[variant] = Trainer(cfg).train().losses[0]
    assert losses["masked"] != pytest.approx(losses["plain"])


def test_qwen2_5_vl_trains(tmp_path: Path, samples_path: Path) -> None:
    from aura.models.hf.tiny import build_tiny_checkpoint

    ckpt = build_tiny_checkpoint(tmp_path / "q25", "qwen2_5_vl", hidden_size=32, vision_hidden=32, vision_depth=1)
    cfg = tiny_config(tmp_path / "run", ckpt, samples_path, "train.max_steps=3", "data.synthetic_size=28")
    trainer = Trainer(cfg)
    assert trainer.loaded.chat_format.style == "qwen2_5_vl"
    result = trainer.train()
    assert result.step == 3 and all(x == x for x in result.losses)


def test_skip_bad_samples_keeps_training(tmp_path: Path, qwen3_dir: Path, caplog) -> None:
    import logging

    from aura.fileio import write_jsonl_atomic

    from .conftest import demo_samples

    good = demo_samples()[:4]
    too_long = dict(good[1], id="long", messages=[*good[1]["messages"][:-1],
                                                   {"role": "assistant", "content": "word " * 3000}])
    path = tmp_path / "s.jsonl"
    write_jsonl_atomic(path, [good[0], too_long, good[2], good[3]])
    with path.open("a") as f:
        f.write("{broken\n")
    cfg = tiny_config(tmp_path / "stop", qwen3_dir, path, "train.max_steps=2")
    with pytest.raises(Exception, match=r"s\.jsonl:5: malformed JSON"):
        Trainer(cfg)
    cfg = tiny_config(tmp_path / "skip", qwen3_dir, path, "train.max_steps=2", "data.on_bad_sample=skip")
    with caplog.at_level(logging.WARNING):
        result = Trainer(cfg).train()
    assert result.step == 2 and result.skipped_samples == 1
    assert "s.jsonl:2" in caplog.text and "s.jsonl:5" in caplog.text
    assert read_metrics(tmp_path / "skip")[-1]["skipped_samples"] == 1


def test_sparse_logits_match_full_logits_in_the_model(tmp_path: Path, qwen3_dir: Path, samples_path: Path) -> None:
    from aura.train.data import iter_samples

    rows = list(iter_samples(samples_path, skip_bad=False))[:3]
    losses = {}
    for sparse in (True, False):
        trainer = Trainer(tiny_config(tmp_path / str(sparse), qwen3_dir, samples_path, f"train.sparse_logits={sparse}"))
        batch = trainer.builder.build(rows)
        with torch.no_grad():
            losses[sparse] = trainer.loss(batch)
    assert torch.allclose(losses[True].per_sample, losses[False].per_sample, rtol=1e-5, atol=1e-6)
    assert losses[True].n_tokens.tolist() == losses[False].n_tokens.tolist()


def test_a_models_own_auxiliary_loss_is_added(tmp_path: Path, qwen3_dir: Path, samples_path: Path) -> None:
    from aura.train.data import iter_samples

    rows = list(iter_samples(samples_path, skip_bad=False))[:2]
    trainer = Trainer(tiny_config(tmp_path / "aux", qwen3_dir, samples_path))
    batch = trainer.builder.build(rows)
    with torch.no_grad():
        base = trainer.loss(batch)
        seen = []
        model = trainer.accelerator.unwrap_model(trainer.model)
        model.auxiliary_loss = lambda ids: seen.append(ids.shape) or torch.tensor(0.25)
        added = trainer.loss(batch)
    assert seen == [batch.input_ids.shape]
    assert added.loss.item() == pytest.approx(base.loss.item() + 0.25, rel=1e-5)
    assert torch.equal(added.per_sample, base.per_sample)  # the per-sample stream losses stay the stream's


def test_aura_nano_trains_checkpoints_and_resumes(tmp_path: Path, nano_dir: Path, samples_path: Path, caplog) -> None:
    import logging

    from aura.models.nano import load_checkpoint

    caplog.set_level(logging.INFO)

    extra = ("train.max_steps=20", "train.save_every=100")
    cfg = tiny_config(tmp_path / "full", nano_dir, samples_path, *extra)
    trainer = Trainer(cfg)
    assert trainer.loaded.model_type == "aura_nano" and trainer.loaded.chat_format.style == "plain"
    assert trainer.trainable["vision"] == 0 and trainer.trainable["projector"] == 0 and trainer.trainable["llm"] > 0
    full = trainer.train()
    assert sum(full.losses[-4:]) / 4 < sum(full.losses[:4]) / 4 - 0.3
    model, _ = load_checkpoint(full.checkpoint / "model")
    live = trainer.accelerator.unwrap_model(trainer.model)
    assert torch.equal(model.embed.weight, live.embed.weight.detach())
    saved_vision, live_vision = model.vision.state_dict(), live.vision.state_dict()
    assert saved_vision.keys() == live_vision.keys()
    assert all(torch.equal(saved_vision[k], live_vision[k]) for k in saved_vision)
    Trainer(tiny_config(tmp_path / "cut", nano_dir, samples_path, *extra)).train(stop_after=10)
    cut = Trainer(tiny_config(tmp_path / "cut", nano_dir, samples_path, *extra))
    resumed = cut.train(resume=True)
    assert resumed.losses == pytest.approx(full.losses[10:], rel=1e-5, abs=1e-6)
    # the output head is tied to the embedding: saved once, still tied after resuming, without a warning
    back = cut.accelerator.unwrap_model(cut.model)
    assert back.head.weight is back.embed.weight
    assert not [r for r in caplog.records if "shared tensor" in r.getMessage()]


def test_tensorboard_is_optional(tmp_path: Path, qwen3_dir: Path, samples_path: Path, caplog) -> None:
    import importlib.util
    import logging

    cfg = tiny_config(tmp_path / "tb", qwen3_dir, samples_path, "train.max_steps=1", "train.tensorboard=true")
    with caplog.at_level(logging.WARNING):
        result = Trainer(cfg).train()
    assert result.step == 1
    if importlib.util.find_spec("tensorboard") is None:
        assert "tensorboard is not installed" in caplog.text
        assert not (tmp_path / "tb" / "tensorboard").exists()
    else:
        assert any((tmp_path / "tb" / "tensorboard").iterdir())


def test_moving_average_of_the_weights_is_exported_and_resumed(tmp_path: Path, nano_dir: Path,
                                                                samples_path: Path) -> None:
    from aura.models.nano import load_checkpoint

    extra = ("train.max_steps=12", "train.save_every=100")
    plain = Trainer(tiny_config(tmp_path / "plain", nano_dir, samples_path, *extra)).train()
    trainer = Trainer(tiny_config(tmp_path / "ema", nano_dir, samples_path, *extra, "optim.ema_decay=0.8"))
    live = trainer.accelerator.unwrap_model(trainer.model)
    expected: list[torch.Tensor] = []

    def follow(step: int, loss: float) -> None:  # the average by its definition, step by step
        w = live.embed.weight.detach().clone()
        expected.append(w if not expected else 0.8 * expected[-1] + 0.2 * w)

    full = trainer.train(on_step=follow)
    # keeping the average does not change training
    assert full.losses == pytest.approx(plain.losses, rel=1e-6, abs=1e-7)
    saved, _ = load_checkpoint(full.checkpoint / "model")
    assert torch.allclose(saved.embed.weight, expected[-1], atol=1e-6)
    assert not torch.allclose(saved.embed.weight, live.embed.weight.detach(), atol=1e-4)
    assert trainer.inference_model().embed.weight is not live.embed.weight
    # a resumed run carries the average on: the same export as the uninterrupted run
    cut = tiny_config(tmp_path / "cut", nano_dir, samples_path, *extra, "optim.ema_decay=0.8")
    Trainer(cut).train(stop_after=5)
    resumed = Trainer(cut).train(resume=True)
    again, _ = load_checkpoint(resumed.checkpoint / "model")
    assert torch.allclose(again.embed.weight, saved.embed.weight, atol=1e-5)


def _forced(precision: str):
    """A stand-in for the trainer's decision that keeps the timings it was given but picks ``precision``."""
    from aura.train.precision_choice import PrecisionChoice, choose_precision

    def choose(fp32_s: list[float], bf16_s: list[float]) -> PrecisionChoice:
        real = choose_precision(fp32_s, bf16_s)
        return PrecisionChoice(precision, real.speedup, real.fp32_ms, real.bf16_ms, real.repeats)

    return choose


def test_measured_precision_is_recorded_and_leaves_no_trace(tmp_path: Path, nano_dir: Path, samples_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """``mixed_precision: measure`` times both precisions on the first batch, writes its choice, and the
    timing steps change nothing: choosing float32, the run is step for step the float32 run."""
    extra = ("train.max_steps=8", "train.save_every=100")
    plain = Trainer(tiny_config(tmp_path / "plain", nano_dir, samples_path, *extra, "train.mixed_precision=no"))
    fp32 = plain.train()
    assert not plain.measure_precision and not (tmp_path / "plain" / "precision.json").exists()
    monkeypatch.setattr("aura.train.trainer.choose_precision", _forced("no"))
    measured = Trainer(tiny_config(tmp_path / "m", nano_dir, samples_path, *extra, "train.mixed_precision=measure"))
    assert measured.accelerator.mixed_precision == "no" and measured.measure_precision
    result = measured.train()
    assert result.losses == fp32.losses  # exactly: no weight, buffer, gradient or RNG draw was left behind
    record = json.loads((tmp_path / "m" / "precision.json").read_text())
    assert record["precision"] == "no" and record["repeats"] >= 1
    assert record["fp32_ms"] > 0 and record["bf16_ms"] > 0 and record["speedup"] > 0
    assert measured.precision_choice is not None and measured.precision_choice.precision == "no"


def test_measured_bf16_trains_in_bf16_and_a_resume_keeps_it(tmp_path: Path, nano_dir: Path, samples_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    extra = ("train.max_steps=8", "train.save_every=100", "train.mixed_precision=measure")
    monkeypatch.setattr("aura.train.trainer.choose_precision", _forced("bf16"))
    full = Trainer(tiny_config(tmp_path / "full", nano_dir, samples_path, *extra)).train()
    fp32 = Trainer(tiny_config(tmp_path / "fp32", nano_dir, samples_path, *extra[:2],
                               "train.mixed_precision=no")).train()
    assert full.losses != fp32.losses  # the autocast ran: bfloat16 rounding shows in the losses,
    assert full.losses == pytest.approx(fp32.losses, rel=0.05)  # and it is the same training
    Trainer(tiny_config(tmp_path / "cut", nano_dir, samples_path, *extra)).train(stop_after=4)

    def no_new_choice(*_: object) -> None:
        raise AssertionError("a resumed run must keep the precision it chose")

    monkeypatch.setattr("aura.train.trainer.choose_precision", no_new_choice)
    resumed = Trainer(tiny_config(tmp_path / "cut", nano_dir, samples_path, *extra))
    out = resumed.train(resume=True)
    assert resumed.precision_choice is not None and resumed.precision_choice.precision == "bf16"
    assert out.losses == pytest.approx(full.losses[4:], rel=1e-5, abs=1e-6)
    (tmp_path / "cut" / "precision.json").write_text("{not json")
    with pytest.raises(ConfigError, match=r"precision\.json"):
        Trainer(tiny_config(tmp_path / "cut", nano_dir, samples_path, *extra)).train(resume=True)


def test_measured_precision_on_this_machine(tmp_path: Path, nano_dir: Path, samples_path: Path) -> None:
    """Unforced, the measurement picks one of the two from real timings and the run trains in it."""
    cfg = tiny_config(tmp_path / "run", nano_dir, samples_path, "train.max_steps=2", "train.mixed_precision=measure")
    trainer = Trainer(cfg)
    trainer.train()
    record = json.loads((tmp_path / "run" / "precision.json").read_text())
    assert record["precision"] == ("bf16" if record["speedup"] >= record["min_speedup"] else "no")
    assert trainer._bf16 == (record["precision"] == "bf16")
