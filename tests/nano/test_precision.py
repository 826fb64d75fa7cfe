"""bfloat16 training of nano (``aura train nano --precision bf16``): the same model under CPU
autocast, attention kept in float32, and the recipe's trainer config asking for it."""

from __future__ import annotations

import argparse

import pytest
import torch
import torch.nn.functional as F

from aura.models.nano import NanoConfig, NanoVLM
from aura.models.nano import model as nano_model

CFG = NanoConfig(vocab_size=64, image_size=32, vision_channels=(8, 16, 16), grid=2, d_model=64, n_layers=2,
                 n_heads=4, context_frames=1, visual_readout="slots")


def _spy_attention(monkeypatch: pytest.MonkeyPatch) -> list[tuple[torch.dtype, bool]]:
    seen: list[tuple[torch.dtype, bool]] = []
    real = F.scaled_dot_product_attention

    def spy(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, **kw: object) -> torch.Tensor:
        seen.append((q.dtype, torch.is_autocast_enabled("cpu")))
        assert q.dtype == k.dtype == v.dtype
        return real(q, k, v, **kw)

    monkeypatch.setattr(nano_model.F, "scaled_dot_product_attention", spy)
    return seen


def test_bf16_autocast_keeps_attention_float32_and_the_logits_close(monkeypatch: pytest.MonkeyPatch) -> None:
    torch.manual_seed(0)
    model = NanoVLM(CFG, video_pad_id=3)
    ids = torch.randint(4, 64, (2, 40))
    seen = _spy_attention(monkeypatch)
    with torch.no_grad():
        ref, _ = model(ids)
    assert seen and all(dtype == torch.float32 and not autocast for dtype, autocast in seen)
    seen.clear()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out, _ = model(ids)
    # attention ran in float32 with autocast switched off for it, once per block
    assert seen == [(torch.float32, False)] * CFG.n_layers
    assert out.dtype == torch.bfloat16  # the projections did run in bfloat16
    assert (out.float() - ref).abs().max() < 0.05 * ref.abs().max()
    assert (out.float().argmax(-1) == ref.argmax(-1)).float().mean() > 0.9
    # and it trains: every decoder weight gets a finite gradient
    loss = F.cross_entropy(out.float().flatten(0, 1), ids.roll(-1, 1).flatten())
    loss.backward()
    grads = [p.grad for n, p in model.named_parameters() if n.startswith("blocks.")]
    assert grads and all(g is not None and torch.isfinite(g).all() and g.abs().sum() > 0 for g in grads)


def test_accelerate_bf16_on_cpu_runs_the_forward_under_autocast(monkeypatch: pytest.MonkeyPatch) -> None:
    """What the trainer builds for ``mixed_precision: bf16`` on a CPU: the prepared model's forward runs
    under bfloat16 autocast and hands back float32 outputs for the loss."""
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState

    from aura.models.nano.training import NanoForTraining

    model = NanoForTraining(NanoVLM(CFG, video_pad_id=3))
    AcceleratorState._reset_state(True)  # a trainer run earlier in this process leaves its precision pinned
    try:
        prepared = Accelerator(mixed_precision="bf16", cpu=True).prepare(model)
        seen = _spy_attention(monkeypatch)
        ids = torch.randint(4, 64, (2, 24))
        logits = prepared(input_ids=ids).logits
    finally:  # the accelerator's process-wide state would pin bf16 for every later trainer in this process
        AcceleratorState._reset_state(True)
    assert seen == [(torch.float32, False)] * CFG.n_layers
    assert logits.dtype == torch.float32
    # the autocast reached the projections: the logits are bfloat16 values
    assert torch.equal(logits, logits.to(torch.bfloat16).float())


def test_precision_flag_reaches_the_trainer_config(tmp_path) -> None:
    from aura.cli.main import build_parser
    from aura.cli.train_cmd import nano_recipe_config
    from aura.models.nano.recipe import _trainer_config

    parser: argparse.ArgumentParser = build_parser()
    default = nano_recipe_config(parser.parse_args(["train", "nano", "--output-dir", "x"]))
    bf16 = nano_recipe_config(parser.parse_args(["train", "nano", "--precision", "bf16", "--output-dir", "x"]))
    fp32 = nano_recipe_config(parser.parse_args(["train", "nano", "--precision", "fp32", "--output-dir", "x"]))
    assert default.precision == "auto" and bf16.precision == "bf16" and fp32.precision == "fp32"
    assert bf16.model_copy(update={"precision": "auto"}) == default  # nothing else changes
    for stage in ("look", "stream"):
        train = tmp_path / "samples.jsonl"
        for cfg, want in ((bf16, "bf16"), (fp32, "no"), (default, "measure")):
            assert _trainer_config(cfg, tmp_path, cfg.model, stage=stage, train=train).train.mixed_precision == want
    with pytest.raises(SystemExit) as exc:
        parser.parse_args(["train", "nano", "--precision", "fp8"])
    assert exc.value.code == 2


def test_precision_bench_steps_both_precisions_on_the_same_model(capsys: pytest.CaptureFixture[str]) -> None:
    """``aura bench precision`` trains two copies of one random decoder on one batch: both learn (the
    loss falls), bf16 really ran in lower precision (its losses differ from fp32's, slightly), and
    the report and the CLI's bad-input errors hold."""
    from aura.bench.precision import format_report, run_precision_bench
    from aura.cli.main import main

    res = run_precision_bench(layers=1, width=32, heads=2, batch=4, tokens=24, repeats=6, warmup=1, threads=1)
    fp32, bf16 = res["losses"]["fp32"], res["losses"]["bf16"]
    assert len(fp32) == len(bf16) == 7
    assert fp32[0] == pytest.approx(bf16[0], rel=0.02) and fp32[0] != bf16[0]
    assert fp32[-1] < fp32[0] and bf16[-1] < bf16[0]
    assert res["step_ms"]["fp32"] > 0 and res["step_ms"]["bf16"] > 0 and res["speedup_bf16"] > 0
    assert res["tokens_per_step"] == 96 and res["command"].startswith("aura bench precision --decoder 1,32,2")
    report = format_report(res)
    assert report.count("\n| ") == 3 and "speed-up" in report
    for bad, message in ((["--decoder", "4,190,4"], "--decoder 4,190,4: "), (["--decoder", "4x192"], "three integers"),
                         (["--tokens", "99999"], "--tokens must be within"), (["--repeats", "0"], "--repeats")):
        assert main(["bench", "precision", *bad]) == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_precision_bench_can_time_a_compiled_copy() -> None:
    """``aura bench precision --compiled``: a third copy, float32 under ``torch.compile``, computes the
    same losses as the eager float32 copy (same weights, same batch) and learns; its compilation is
    reported apart from the timed steps."""
    from aura.bench.precision import format_report, run_precision_bench

    res = run_precision_bench(layers=1, width=32, heads=2, batch=4, tokens=24, repeats=2, warmup=1, threads=1,
                              compiled=True)
    eager, compiled = res["losses"]["fp32"], res["losses"]["compiled"]
    assert len(compiled) == len(eager) + 1  # the compiling step first
    assert compiled[:3] == pytest.approx(eager[:3], rel=1e-4) and compiled[-1] < compiled[0]
    assert res["step_ms"]["compiled"] > 0 and res["speedup_compiled"] > 0 and res["compile_s"] > 0
    assert res["command"].endswith("--compiled") and "torch.compile speed-up" in format_report(res)
    assert "compiled" not in run_precision_bench(layers=1, width=32, heads=2, batch=4, tokens=24, repeats=1,
                                                 warmup=0, threads=1)["step_ms"]
