"""``aura train nano`` end to end at toy size: every stage runs, resumes, and yields a loadable model."""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from pydantic import ValidationError

from aura.errors import ConfigError
from aura.models.nano import NanoConfig
from aura.models.nano.pixels import resize_frames
from aura.models.nano.recipe import (
    RecipeConfig,
    build_world_samples,
    density_tag,
    frames_to_pixels,
    look_files,
    look_path,
    store_small_frames,
    train_nano,
    vision_data,
)
from aura.models.nano.vision_pretrain import (
    N_CELL_CLASSES,
    N_PAIRS,
    cell_class,
    chunk_events,
    chunk_labels,
    chunk_presence,
)
from aura.models.registry import load_model
from aura.stream import VideoChunk
from aura.video import iter_frames
from aura.world import make_stream, render_video, split_seeds


def toy_recipe(out: Path) -> RecipeConfig:
    return RecipeConfig(
        out_dir=str(out), train_streams=2, stream_streams=2, seconds=(20, 24), render_heights=(48,), vocab_size=300,
        model=NanoConfig(vocab_size=300, image_size=32, vision_channels=(8, 16, 16), grid=2, d_model=32,
                         n_layers=2, n_heads=2, context_frames=1, visual_readout="slots"),
        vision_epochs=1, vision_event_weight=1.0, vision_streams=2, vision_seconds=(12, 12), look_epochs=1,
        look_batch_size=16, epochs=1, global_batch_size=4,
        micro_batch_size=2, corrupt_share=0.3, hard_silent_weight=1.0,
        warmup_steps=2, save_every=1000, workers=1, calibration_streams=1, calibration_seconds=(12, 12),
    )


def test_chunk_labels_match_the_scene() -> None:
    stream = make_stream(31, duration=40.0)
    cells, counts = chunk_labels(stream.scene, grid=4)
    assert cells.shape == (40, 2, 16) and counts.shape == (40,)
    assert cells.min() >= 0 and cells.max() < N_CELL_CLASSES
    for k in range(40):
        assert counts[k] == len(stream.scene.state(k + 0.5))
        # every occupied cell names an object that is visible then (colour and shape)
        visible = {1 + ["red", "green", "blue", "yellow"].index(o.colour) * 3
                   + ["circle", "square", "triangle"].index(o.shape) for o in stream.scene.state(k + 0.5)}
        assert set(cells[k, 1][cells[k, 1] > 0].tolist()) <= visible
        assert 0 < (cells[k, 1] > 0).sum() <= counts[k] or counts[k] == 0


def test_chunk_presence_is_every_visible_pair_of_every_input_frame() -> None:
    stream = make_stream(37, duration=30.0)
    presence = chunk_presence(stream.scene, frames_per_chunk=2, context_frames=1)
    assert presence.shape == (30, 3, 12)
    for k in range(30):
        for f, t in enumerate((max(0.0, k - 0.5), k, k + 0.5)):
            want = {cell_class(o.colour, o.shape) - 1 for o in stream.scene.state(t)}
            assert set(np.flatnonzero(presence[k, f]).tolist()) == want


@pytest.mark.parametrize("context_frames", [0, 1])
def test_chunk_events_are_the_changes_between_the_input_frames(context_frames: int) -> None:
    stream = make_stream(41, duration=90.0)
    scene = stream.scene
    events = chunk_events(scene, frames_per_chunk=2, context_frames=context_frames)
    assert events.shape == (90, 2 * N_PAIRS + 3)
    assert events[:, 2 * N_PAIRS :].sum() > 5  # the scene has events to find
    for k in range(90):
        times = [max(0.0, k - 0.5 * context_frames + 0.5 * f) for f in range(context_frames + 2)]
        new: set[int] = set()
        gone: set[int] = set()
        kinds: set[str] = set()
        for a, b in itertools.pairwise(times):
            before = {o.id: o for o in scene.state(a)}
            after = {o.id: o for o in scene.state(b)}
            for i, o in after.items():
                if i not in before:
                    new.add(cell_class(o.colour, o.shape) - 1)
                    kinds.add("appear")
                elif before[i].colour != o.colour:
                    new.add(cell_class(o.colour, o.shape) - 1)
                    gone.add(cell_class(before[i].colour, o.shape) - 1)
                    kinds.add("colour")
            for i, o in before.items():
                if i not in after:
                    gone.add(cell_class(o.colour, o.shape) - 1)
                    kinds.add("disappear")
        assert set(np.flatnonzero(events[k, :N_PAIRS]).tolist()) == new
        assert set(np.flatnonzero(events[k, N_PAIRS : 2 * N_PAIRS]).tolist()) == gone
        got = {("appear", "disappear", "colour")[i] for i in np.flatnonzero(events[k, 2 * N_PAIRS :])}
        assert got == kinds


def test_recipe_runs_every_stage_and_resumes(tmp_path: Path) -> None:
    cfg = toy_recipe(tmp_path / "run")
    final = train_nano(cfg, progress=False)
    out = Path(cfg.out_dir)
    report = json.loads((out / "vision" / "report.json").read_text())
    assert report["steps"] >= 1 and 0.0 <= report["cell_accuracy"] <= 1.0
    # stage 0 also trained on its two extra 12-second scenes (rendered beside the streams, 12 chunks each)
    assert len(list((out / "data").glob("vision-*.frames32.npy"))) == 2
    streams = sum(np.load(p).shape[0] // 2 for p in (out / "data").glob("world-*.frames32.npy"))
    assert report["train_chunks"] == streams - report["val_chunks"] + 2 * 12
    assert (out / "loss.png").read_bytes()[:4] == b"\x89PNG"
    assert 0.0 <= report["event_kind_recall"] <= 1.0 and 0.0 <= report["event_kind_precision"] <= 1.0
    assert (out / "look" / "final" / "model.safetensors").is_file()
    assert (out / "data" / "look.jsonl").is_file() and (out / "data" / "samples.n8f4m10.c30.x.w30.l15.jsonl").is_file()
    metrics = [json.loads(line) for line in (out / "train" / "metrics.jsonl").read_text().splitlines()]
    assert metrics and all(np.isfinite(m["loss"]) for m in metrics)
    # stage 2 weighs up the silent turns at event chunks (test_stream_samples_mark_hard_negatives); stage 1 has none
    assert "hard_silent_weight: 1.0" in (out / "train" / "config.yaml").read_text()
    assert "hard_silent_weight: null" in (out / "look" / "config.yaml").read_text()
    # precision auto (the default): stages 1 and 2 each timed both precisions and kept one
    for stage in ("look", "train"):
        assert "mixed_precision: measure" in (out / stage / "config.yaml").read_text()
        assert json.loads((out / stage / "precision.json").read_text())["precision"] in ("bf16", "no")

    # the stages' outputs are the stage inputs: the encoder in the final model is the stage-0 one (frozen)
    from safetensors.torch import load_file

    encoder = load_file(str(out / "vision" / "encoder.safetensors"))
    weights = load_file(str(final / "model.safetensors"))
    for name, value in encoder.items():
        assert torch.equal(weights[f"vision.{name}"], value), name

    model = load_model(f"nano:{final}")
    frames = np.zeros((2, 24, 32, 3), dtype=np.uint8)
    step = model.step(VideoChunk(0, 0.0, 1.0, frames), "How many objects are there?")
    assert step.chunk_index == 0

    # a second run finds every stage done: nothing is re-rendered or re-trained
    stamp = (out / "vision" / "encoder.safetensors").stat().st_mtime_ns
    start = time.monotonic()
    train_nano(cfg, resume=True, progress=False)
    assert (out / "vision" / "encoder.safetensors").stat().st_mtime_ns == stamp
    assert time.monotonic() - start < 60

    # the checkpoint is served with the windows it was trained with, and the bias stage 3 chose
    assert (model.context_config.window_chunks, model.context_config.float_chunks) == (8, 4)
    calibration = json.loads((out / "calibration-floor-2" / "calibration.json").read_text())
    chosen = calibration["chosen"]
    assert set(calibration["separation"]) == {"owed", "free", "median_owed", "median_free", "auc"}
    assert model.silence_bias == chosen and chosen >= -2
    # stage 3 streams at the floor (-2 by default) and may choose any bias from it up
    assert [r["bias"] for r in calibration["table"]][:5] == [-2.0, -1.5, -1.0, -0.5, 0.0]
    assert json.loads((out / "calibration-floor-2" / "run.json").read_text())["settings"] == {"silence_bias": -2.0}
    from aura.models.nano.recipe import calibrate_silence

    zero = calibrate_silence(cfg.model_copy(update={"calibration_floor": 0.0}), final, out / "zero", progress=False)
    table = json.loads((out / "zero" / "calibration.json").read_text())["table"]
    assert table[0]["bias"] == 0.0 and zero >= 0
    # an N'=1 run sharing the data directory unrolls its own samples and renders nothing again
    data = out / "data"
    videos = {p: p.stat().st_mtime_ns for p in data.glob("*.mp4")}
    default = (data / "samples.n8f4m10.c30.x.w30.l15.jsonl").read_bytes()
    n1 = cfg.model_copy(update={"float_chunks": 1})
    samples, _ = build_world_samples(n1, split_seeds("train", 2), data, progress=False)
    assert samples.name == "samples.n8f1m10.c30.x.w30.l15.jsonl"
    assert len(list(data.glob("world-*.samples.n8f1m10.jsonl"))) == 2
    assert (data / "samples.n8f4m10.c30.x.w30.l15.jsonl").read_bytes() == default
    assert {p: p.stat().st_mtime_ns for p in data.glob("*.mp4")} == videos


def test_a_moving_average_is_final_and_the_last_step_final_raw(tmp_path: Path) -> None:
    from safetensors.torch import load_file

    cfg = toy_recipe(tmp_path / "run").model_copy(update={"ema_decay": 0.5, "calibration_streams": 0})
    final = train_nano(cfg, progress=False)
    raw = Path(cfg.out_dir) / "final-raw"
    averaged, last = load_file(str(final / "model.safetensors")), load_file(str(raw / "model.safetensors"))
    assert averaged.keys() == last.keys()
    assert not torch.allclose(averaged["embed.weight"], last["embed.weight"])
    # the frozen encoder is the same in both; both load and are served with the trained windows
    assert all(torch.equal(averaged[k], last[k]) for k in averaged if k.startswith("vision."))
    for directory in (final, raw):
        assert (load_model(f"nano:{directory}").context_config.window_chunks) == 8
    # the stage's export is the average too
    ckpt = sorted((Path(cfg.out_dir) / "train" / "checkpoints").iterdir())[-1]
    assert torch.equal(load_file(str(ckpt / "model" / "model.safetensors"))["embed.weight"], averaged["embed.weight"])


def test_decision_layers_train_from_a_stage1_checkpoint_made_without_them(tmp_path: Path) -> None:
    """A stage-1 checkpoint without decision layers starts a run with them (the layers start as the
    identity and stage 2 trains them); a stage-1 checkpoint of another network is refused."""
    import shutil

    from safetensors.torch import load_file

    from aura.errors import ConfigError

    plain = toy_recipe(tmp_path / "plain").model_copy(update={"calibration_streams": 0})
    train_nano(plain, progress=False)
    deep_dir = tmp_path / "deep"
    for part in ("vision", "tokenizer", "look"):
        shutil.copytree(tmp_path / "plain" / part, deep_dir / part)
    deep = plain.model_copy(update={"out_dir": str(deep_dir), "data_dir": str(tmp_path / "plain" / "data"),
                                    "model": plain.model.model_copy(update={"decision_layers": 1})})
    final = train_nano(deep, progress=False)
    weights = load_file(str(final / "model.safetensors"))
    assert weights["decision.0.proj.weight"].abs().sum() > 0  # trained away from its zero start
    model = load_model(f"nano:{final}")
    assert model.model.cfg.decision_prompt == tuple(model.format.generation_prompt())
    frames = np.zeros((2, 24, 32, 3), dtype=np.uint8)
    assert model.step(VideoChunk(0, 0.0, 1.0, frames), "How many objects are there?").chunk_index == 0
    back = plain.model_copy(update={"out_dir": str(tmp_path / "back"), "data_dir": str(tmp_path / "plain" / "data")})
    for part in ("vision", "tokenizer", "look"):
        shutil.copytree(deep_dir / part, tmp_path / "back" / part)
    shutil.copytree(final, tmp_path / "back" / "look" / "final", dirs_exist_ok=True)
    with pytest.raises(ConfigError, match="another network"):
        train_nano(back, progress=False)


def test_stream_samples_mark_hard_negatives(tmp_path: Path) -> None:
    """The merged stage-2 samples flag exactly the silent turns at chunks that show an event."""
    from aura.models.nano.hard_negatives import event_chunks, mark_hard_silences
    from aura.models.nano.recipe import _recipe_stream

    cfg = toy_recipe(tmp_path / "run").model_copy(update={"seconds": (90, 90), "corrupt_share": 0.0})
    seeds = split_seeds("train", 1)
    merged, _ = build_world_samples(cfg, seeds, tmp_path / "data", progress=False)
    rows = [json.loads(line) for line in merged.read_text().splitlines()]
    events = event_chunks(_recipe_stream(seeds[0], cfg)[0].scene)
    assert sum(1 for row in rows for m in row["messages"] if m.get("hard")) > 0
    assert all(row == mark_hard_silences({**row, "messages": [{k: v for k, v in m.items() if k != "hard"}
                                                            for m in row["messages"]]}, events) for row in rows)


def test_stage1_marks_hard_negatives_only_when_it_weighs_them(tmp_path: Path) -> None:
    """With ``look_hard_silent_weight`` the stage-1 samples flag exactly the silent turns at event
    chunks (the watch samples' silent decisions among them) and stage 1 weighs them; without, none."""
    from aura.models.nano.hard_negatives import event_chunks, mark_hard_silences
    from aura.models.nano.recipe import _recipe_stream, _trainer_config

    base = toy_recipe(tmp_path / "run").model_copy(update={"seconds": (90, 90), "corrupt_share": 0.0,
                                                           "look_unasked": 1})
    seeds = split_seeds("train", 1)
    _, looks = build_world_samples(base, seeds, tmp_path / "data", progress=False)
    plain = [json.loads(line) for line in looks.read_text().splitlines()]
    assert not any(m.get("hard") for row in plain for m in row["messages"])
    cfg = base.model_copy(update={"look_hard_silent_weight": 1.0})
    _, looks = build_world_samples(cfg, seeds, tmp_path / "data", progress=False)
    rows = [json.loads(line) for line in looks.read_text().splitlines()]
    events = event_chunks(_recipe_stream(seeds[0], cfg)[0].scene)
    assert [mark_hard_silences(row, events) for row in plain] == rows
    unasked = [row for row in rows if row.get("watch") == "unasked"]
    assert unasked and all(row["messages"][-3].get("hard") for row in unasked)  # each silent decision
    assert sum(1 for row in rows if any(m.get("hard") for m in row["messages"])) > len(unasked)
    only = cfg.model_copy(update={"look_hard_only": ("multi-other", "unasked")})
    _, looks_only = build_world_samples(only, seeds, tmp_path / "data", progress=False)
    picked = [json.loads(line) for line in looks_only.read_text().splitlines()]
    assert len(picked) == len(plain)
    for before, after in zip(plain, picked, strict=True):
        hard = [i for i, m in enumerate(after["messages"]) if m.get("hard")]
        if before.get("watch") in ("multi-other", "unasked"):  # the decision alone: the last silent turn
            assert hard == [len(after["messages"]) - 3] and after["messages"][-3]["content"] == "<|silent|>"
        else:
            assert hard == [] and after == before
    assert any(row.get("watch") == "multi-other" for row in picked)
    model_cfg = cfg.model
    look = _trainer_config(cfg, tmp_path, model_cfg, stage="look", train=looks)
    stream = _trainer_config(cfg, tmp_path, model_cfg, stage="stream", train=looks)
    assert look.train.hard_silent_weight == 1.0 and stream.train.hard_silent_weight == cfg.hard_silent_weight
    assert _trainer_config(base, tmp_path, model_cfg, stage="look", train=looks).train.hard_silent_weight is None


def test_fresh_stage1_draws_train_each_epoch_on_other_questions_of_the_same_chunks(tmp_path: Path) -> None:
    """With ``look_fresh`` stage 1's file holds one draw per epoch, the first the usual samples and
    the others the same chunks asked other questions, and stage 1 trains it once; stage 2 is unchanged."""
    from aura.models.nano.recipe import _trainer_config

    base = toy_recipe(tmp_path / "run").model_copy(update={"seconds": (90, 90), "corrupt_share": 0.0,
                                                           "look_epochs": 3})
    seeds = split_seeds("train", 1)
    samples, looks = build_world_samples(base, seeds, tmp_path / "data", progress=False)
    plain = [json.loads(line) for line in looks.read_text().splitlines()]
    stage2 = samples.read_text()
    cfg = base.model_copy(update={"look_fresh": True})
    samples, fresh_file = build_world_samples(cfg, seeds, tmp_path / "data", progress=False)
    assert fresh_file != looks and samples.read_text() == stage2
    fresh = [json.loads(line) for line in fresh_file.read_text().splitlines()]
    by_draw: dict[str, list[dict]] = {"0": [], "1": [], "2": []}
    for row in fresh:
        by_draw[row["id"].split("@draw")[1] if "@draw" in row["id"] else "0"].append(row)
    key = lambda row: row["id"]  # noqa: E731
    assert sorted(by_draw["0"], key=key) == sorted(plain, key=key)  # the first draw is the usual samples
    for d in ("1", "2"):
        assert by_draw[d] and [m["content"] for r in by_draw[d] for m in r["messages"]] != [
            m["content"] for r in by_draw["0"] for m in r["messages"]]
        look_chunks = lambda rows: sorted(r["id"].split("@")[0] for r in rows if r["kind"] == "look")  # noqa: E731
        assert look_chunks(by_draw[d]) == look_chunks(by_draw["0"])  # every chunk asked, each draw
    assert _trainer_config(cfg, tmp_path, cfg.model, stage="look", train=fresh_file).train.epochs == 1
    assert _trainer_config(base, tmp_path, base.model, stage="look", train=looks).train.epochs == 3
    assert _trainer_config(cfg, tmp_path, cfg.model, stage="stream", train=samples).train.epochs == cfg.epochs


def test_acknowledgement_targets_add_cut_copies_of_watch_samples_in_both_stages(tmp_path: Path) -> None:
    """With ``ack_targets`` 1 every watch sample that acknowledges a question in one of its chunks
    also comes cut after that acknowledgement, in stage 1 and (behind the system prompt) in stage
    2's watch share; everything else, and the files without the option, stay as they were."""
    base = toy_recipe(tmp_path / "run").model_copy(update={"seconds": (90, 90), "corrupt_share": 0.0,
                                                           "stream_watch_share": 1.0})
    seeds = split_seeds("train", 1)
    samples, looks = build_world_samples(base, seeds, tmp_path / "data", progress=False)
    plain1 = [json.loads(line) for line in looks.read_text().splitlines()]
    plain2 = [json.loads(line) for line in samples.read_text().splitlines()]
    cfg = base.model_copy(update={"ack_targets": 1.0})
    samples_a, looks_a = build_world_samples(cfg, seeds, tmp_path / "data", progress=False)
    assert samples_a != samples and looks_a != looks and looks.read_text().splitlines()  # both kept
    key = lambda row: row["id"]  # noqa: E731
    for plain, path in ((plain1, looks_a), (plain2, samples_a)):
        rows = [json.loads(line) for line in path.read_text().splitlines()]
        cut = {row["id"]: row for row in rows if row["id"].endswith("@ack")}
        kept = sorted((row for row in rows if not row["id"].endswith("@ack")), key=key)
        assert [r["id"] for r in kept] == [r["id"] for r in sorted(plain, key=key)]
        watch = {row["id"]: row for row in kept if row.get("kind") == "watch"}
        assert cut and len(cut) <= len(watch)
        for ident, row in cut.items():
            whole = watch[ident.removesuffix("@ack")]["messages"]
            assert row["messages"] == whole[: len(row["messages"])] and len(row["messages"]) < len(whole)
            assert row["messages"][-1]["role"] == "assistant" and row["messages"][-1]["content"] != "<|silent|>"


def test_stage1_adds_the_stream_decisions_of_other_question_plans(tmp_path: Path) -> None:
    """With ``look_stream_plans`` stage 1 also holds the decision at every event chunk of plans 1..P
    (their exact stream contexts, the decision alone supervised), stage 2 is unchanged, and the
    decisions are stored beside the video under a name that says the plans."""
    from aura.models.nano.hard_negatives import event_chunks
    from aura.models.nano.recipe import _recipe_stream, decisions_path
    from aura.models.nano.stream_decisions import stream_decisions

    base = toy_recipe(tmp_path / "run").model_copy(update={"seconds": (90, 90), "corrupt_share": 0.0})
    seeds = split_seeds("train", 1)
    samples, looks = build_world_samples(base, seeds, tmp_path / "data", progress=False)
    plain_looks, plain_samples = looks.read_text().splitlines(), samples.read_bytes()
    cfg = base.model_copy(update={"look_stream_plans": 2})
    samples, looks = build_world_samples(cfg, seeds, tmp_path / "data", progress=False)
    assert samples.read_bytes() == plain_samples
    rows = [json.loads(line) for line in looks.read_text().splitlines()]
    decisions = [r for r in rows if r.get("kind") == "decision"]
    assert len(rows) == len(plain_looks) + len(decisions)
    assert sorted(json.dumps(r, sort_keys=True) for r in rows if r.get("kind") != "decision") == sorted(
        json.dumps(json.loads(line), sort_keys=True) for line in plain_looks)
    events = event_chunks(_recipe_stream(seeds[0], cfg)[0].scene)
    want = [d for plan in (1, 2) for d in stream_decisions(
        _recipe_stream(seeds[0], cfg, plan)[0].to_timeline(video=f"world-{seeds[0]}.mp4"), cfg.context(), events,
        plan=plan)]
    assert want and sorted(d["id"] for d in decisions) == sorted(d["id"] for d in want)
    assert {d["plan"] for d in decisions} == {1, 2}
    path = decisions_path(tmp_path / "data" / f"world-{seeds[0]}.mp4", cfg)
    assert path.is_file() and path.name == f"world-{seeds[0]}.decisions.n8f4m10.p2.jsonl"


def test_stage1_adds_minimal_pairs_after_the_stream_decision_plans(tmp_path: Path) -> None:
    """With ``look_pair_plans`` stage 1 also holds the minimal pairs of the plans after the
    stream-decision ones, stored beside the video under a name that says the plans."""
    from aura.models.nano.hard_negatives import event_chunks
    from aura.models.nano.recipe import _recipe_stream, pairs_path
    from aura.models.nano.stream_decisions import decision_pairs

    base = toy_recipe(tmp_path / "run").model_copy(update={"seconds": (150, 150), "corrupt_share": 0.0,
                                                           "look_stream_plans": 1})
    seeds = split_seeds("train", 2)
    _, looks = build_world_samples(base, seeds, tmp_path / "data", progress=False)
    plain = sorted(looks.read_text().splitlines())
    cfg = base.model_copy(update={"look_pair_plans": 2, "look_pairs_per_twin": 3})
    _, looks = build_world_samples(cfg, seeds, tmp_path / "data", progress=False)
    rows = [json.loads(line) for line in looks.read_text().splitlines()]
    pairs = [r for r in rows if r["id"] not in {json.loads(line)["id"] for line in plain}]
    assert len(rows) == len(plain) + len(pairs)
    want = [row for seed in seeds for plan in (2, 3)
            for row in decision_pairs(_recipe_stream(seed, cfg, plan)[0], cfg.context(),
                                      event_chunks(_recipe_stream(seed, cfg)[0].scene), video=f"world-{seed}.mp4",
                                      plan=plan, seed=cfg.seed, per_twin=3)]
    assert any("twin" in r for r in want)
    assert sorted(r["id"] for r in pairs) == sorted(r["id"] for r in want)
    assert {r["plan"] for r in pairs} <= {2, 3}
    path = pairs_path(tmp_path / "data" / f"world-{seeds[0]}.mp4", cfg)
    assert path.is_file() and path.name == f"world-{seeds[0]}.pairs.n8f4m10.p2-3.k3.jsonl"


def test_stage2_adds_silent_anchors_and_watch_samples_with_the_system_prompt(tmp_path: Path) -> None:
    """With silent anchors and watch and look shares, stage 2 holds the plain samples plus one anchor
    per silent event chunk and the stage-1 watch and look samples (all of them at share 1) behind the
    system prompt."""
    from aura.models.nano.hard_negatives import event_chunks, silent_anchors
    from aura.models.nano.recipe import _recipe_stream

    base = toy_recipe(tmp_path / "run").model_copy(update={"seconds": (90, 90), "corrupt_share": 0.0,
                                                           "stream_samples": "replies", "stream_look_share": 0.0,
                                                           "stream_watch_share": 0.0})
    seeds = split_seeds("train", 1)
    plain, looks = build_world_samples(base, seeds, tmp_path / "data", progress=False)
    cfg = base.model_copy(update={"silent_anchors": True, "stream_watch_share": 1.0, "stream_look_share": 1.0})
    mixed, _ = build_world_samples(cfg, seeds, tmp_path / "data", progress=False)
    assert mixed != plain
    rows = [json.loads(line) for line in mixed.read_text().splitlines()]
    n_plain = len(plain.read_text().splitlines())
    stream = _recipe_stream(seeds[0], cfg)[0]
    anchors = list(silent_anchors(stream.to_timeline(video=f"world-{seeds[0]}.mp4"), cfg.context(),
                                  event_chunks(stream.scene)))
    watch = [json.loads(line) for line in looks.read_text().splitlines()
             if json.loads(line)["kind"] in ("watch", "look")]
    assert anchors and {w["kind"] for w in watch} == {"watch", "look"}
    assert len(rows) == n_plain + len(anchors) + len(watch)
    ids = {row["id"] for row in rows}
    assert {a["id"] for a in anchors} <= ids and {w["id"] for w in watch} <= ids
    system = cfg.context().system_prompt
    assert all(row["messages"][0] == {"role": "system", "content": system} for row in rows)
    assert sum(1 for row in rows if row["messages"][-1].get("hard")) == len(anchors)


def test_exact_stream_samples_replace_the_reply_samples(tmp_path: Path) -> None:
    """With exact stream samples, stage 2 holds one sample per stretch between evictions (hard
    negatives marked), every chunk of every stream supervised once, in a file of its own."""
    from aura.models.nano.hard_negatives import event_chunks, mark_hard_silences
    from aura.models.nano.recipe import _recipe_stream
    from aura.stream import unroll_exact

    base = toy_recipe(tmp_path / "run").model_copy(update={"seconds": (90, 90), "corrupt_share": 0.0,
                                                           "stream_samples": "replies", "stream_look_share": 0.0,
                                                           "stream_watch_share": 0.0})
    seeds = split_seeds("train", 2)
    plain, _ = build_world_samples(base, seeds, tmp_path / "data", progress=False)
    cfg = base.model_copy(update={"stream_samples": "exact"})
    exact, _ = build_world_samples(cfg, seeds, tmp_path / "data", progress=False)
    assert exact.name != plain.name and ".x" in exact.name
    rows = [json.loads(line) for line in exact.read_text().splitlines()]
    want = []
    for seed in seeds:
        stream = _recipe_stream(seed, cfg)[0]
        want += [mark_hard_silences(s, event_chunks(stream.scene))
                 for s in unroll_exact(stream.to_timeline(video=f"world-{seed}.mp4"), cfg.context())]
    assert sorted(rows, key=lambda r: r["id"]) == sorted(want, key=lambda r: r["id"])
    supervised = sum(1 for r in rows for m in r["messages"] if m.get("supervise") is True)
    assert supervised == 2 * 90  # each chunk of each 90-s stream once
    assert any(r["messages"][-1].get("hard") for r in rows)  # a silent stretch end at an event is a hard negative
    # a second question plan plays the same videos again with other questions
    two = cfg.model_copy(update={"question_plans": 2})
    replayed, _ = build_world_samples(two, seeds, tmp_path / "data", progress=False)
    assert ".q2" in replayed.name
    both = [json.loads(line) for line in replayed.read_text().splitlines()]
    again = [r for r in both if r["id"].endswith("@plan1")]
    assert sorted((r for r in both if r not in again), key=lambda r: r["id"]) == sorted(rows, key=lambda r: r["id"])
    assert sum(1 for r in again for m in r["messages"] if m.get("supervise") is True) == 2 * 90
    assert {r["video"] for r in again} == {r["video"] for r in rows}
    texts = {m["content"] for r in again for m in r["messages"] if m["role"] == "assistant"}
    assert texts != {m["content"] for r in rows for m in r["messages"] if m["role"] == "assistant"}
    # denser questions: the same videos, every chunk still supervised once, more questions asked
    dense = cfg.model_copy(update={"question_density": 3.0})
    denser, _ = build_world_samples(dense, seeds, tmp_path / "data", progress=False)
    assert ".d3" in denser.name
    dense_rows = [json.loads(line) for line in denser.read_text().splitlines()]
    assert sum(1 for r in dense_rows for m in r["messages"] if m.get("supervise") is True) == 2 * 90

    def asked(samples: list[dict]) -> int:
        return sum(1 for r in samples for m in r["messages"] if m["role"] == "user" and isinstance(m["content"], list)
                   and any(p["type"] == "text" for p in m["content"]))

    assert asked(dense_rows) > asked(rows)


def test_small_frames_are_each_decoded_frame_resized(tmp_path: Path) -> None:
    stream = make_stream(3, duration=12.0)
    video = tmp_path / "world-3.mp4"
    render_video(stream.scene, video, height=60, style=stream.style)
    path = store_small_frames(video, 32, batch=5)  # 24 frames: batches of 5 and a tail of 4
    stored = np.load(path)
    one_by_one = [np.clip(np.rint(resize_frames(f[None], 32, 32)[0] * 255.0), 0, 255).astype(np.uint8)
                  for _, f in iter_frames(video, fps=2.0)]
    assert stored.dtype == np.uint8 and stored.shape == (24, 32, 32, 3)
    assert np.array_equal(stored, np.stack(one_by_one))
    assert not list(tmp_path.glob("*.tmp.npy"))


def test_frames_to_pixels_matches_the_streaming_layout() -> None:
    from aura.models.nano.pixels import chunk_pixels

    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, size=(3, 2, 16, 16, 3), dtype=np.uint8)
    batch = frames_to_pixels(frames)
    for i in range(3):
        assert torch.allclose(batch[i], chunk_pixels(frames[i], 16, 2))


def test_vision_data_reads_every_rendered_chunk(tmp_path: Path) -> None:
    cfg = toy_recipe(tmp_path / "run")
    train_nano(cfg.model_copy(update={"look_epochs": 0, "vision_epochs": 1}), progress=False)
    seeds = split_seeds("train", 2)
    data = vision_data(cfg, seeds, Path(cfg.out_dir) / "data")
    assert data.frames.shape[1:] == (3, 32, 32, 3)  # the previous chunk's last frame, then the chunk
    assert len(data.frames) == len(data.cells) == len(data.counts) >= 40


def test_train_nano_set_overrides_recipe_fields() -> None:
    from aura.cli.main import build_parser
    from aura.cli.train_cmd import nano_recipe_config
    from aura.models.nano.recipe import pairs_path

    parser = build_parser()

    def cfg(*argv: str) -> RecipeConfig:
        return nano_recipe_config(parser.parse_args(["train", "nano", "--output-dir", "x", *argv]))

    default = cfg()
    seeded = cfg("--set", "seed=3", "--set", "model.n_layers=6", "--set", "look_lr=0.001")
    assert (seeded.seed, seeded.model.n_layers, seeded.look_lr) == (3, 6, 0.001)
    assert seeded.model_copy(update={"seed": 0, "look_lr": default.look_lr, "model": default.model}) == default
    assert seeded.model.model_copy(update={"n_layers": default.model.n_layers}) == default.model
    # a named flag wins over --set, for the network's fields too
    both = cfg("--set", "lr=0.5", "--stream-lr", "0.001", "--set", "model.d_model=256", "--decoder", "4,128,4")
    assert both.lr == 0.001 and both.model.d_model == 128
    assert cfg("--set", "out_dir=elsewhere").out_dir == "x"
    for bad, named in (("sed=3", "sed"), ("model.n_layer=6", "n_layer"), ("seed", "seed"), ("seed=-x", "seed")):
        with pytest.raises(ConfigError, match=named):
            cfg("--set", bad)
    # another seed draws other stage-1 samples: they are stored apart from seed 0's
    assert look_path("d/w.mp4", 4, 8, 0.5, 0, 3).name == "w.look-v2.p4.g8.h50.s3.jsonl"
    assert look_path("d/w.mp4", 4, 8, 0.5, 0, 0) == look_path("d/w.mp4", 4, 8, 0.5)
    pairs = cfg("--decision-pairs", "2")
    assert pairs_path("d/w.mp4", pairs.model_copy(update={"seed": 3})).name == \
        pairs_path("d/w.mp4", pairs).name.replace(".jsonl", ".s3.jsonl")


def test_train_nano_flags_name_the_experiments() -> None:
    from aura.cli.main import build_parser
    from aura.cli.train_cmd import nano_recipe_config
    from aura.models.nano.recipe import pairs_path

    parser = build_parser()
    default = nano_recipe_config(parser.parse_args(["train", "nano", "--output-dir", "x"]))
    assert default == RecipeConfig(out_dir="x")
    assert default.model.visual_readout == "slots" and default.model.context_frames == 1
    assert default.vision_event_weight == 1.0 and default.corrupt_share == 0
    cfg = nano_recipe_config(parser.parse_args(["train", "nano", "--see-events", "--corrupt-share", "0.3",
                                                "--loss", "plain", "--output-dir", "x"]))
    assert cfg.model.visual_readout == "grid" and cfg.model.context_frames == 1 and cfg.vision_event_weight == 1.0
    assert cfg.corrupt_share == 0.3 and cfg.loss == "plain"
    assert default.hard_silent_weight is None
    hard = nano_recipe_config(parser.parse_args(["train", "nano", "--hard-silent-weight", "1", "--output-dir", "x"]))
    assert hard.hard_silent_weight == 1.0 and hard.model_copy(update={"hard_silent_weight": None}) == default
    slots = {"visual_readout": "slots", "slot_embed": True, "image_size": 128, "stem_channels": 16}
    assert cfg.model.model_copy(update=slots) == default.model  # nothing else
    assert default.model.slot_embed and default.model.question_first and not cfg.model.slot_embed
    grid = nano_recipe_config(parser.parse_args(["train", "nano", "--grid-tokens", "--output-dir", "x"]))
    assert (grid.model.visual_readout, grid.model.context_frames, grid.vision_event_weight) == ("grid", 0, 0.0)
    assert grid.model.model_copy(update={**slots, "context_frames": 1}) == default.model
    assert grid.slot_words is False  # grid tokens have no slots to name
    # the earlier encoders: 64x64 input, stage 0 on the training streams alone, no spliced frames
    small = nano_recipe_config(parser.parse_args(["train", "nano", "--small-encoder", "--output-dir", "x"]))
    assert (small.model.image_size, small.model.stem_channels) == (64, 0) == (grid.model.image_size,
                                                                            grid.model.stem_channels)
    earlier = {"vision_streams": 0, "vision_swap_share": 0.0, "vision_epochs": 10}
    assert small.model_copy(update={"vision_streams": 300, "vision_swap_share": 0.3, "vision_epochs": 7,
                                    "model": default.model}) == default
    assert all(getattr(c, k) == v for c in (small, grid, cfg) for k, v in earlier.items())
    assert (default.model.image_size, default.model.stem_channels, default.vision_streams) == (128, 16, 300)
    tuned = nano_recipe_config(parser.parse_args(["train", "nano", "--vision-streams", "50", "--vision-swap-share",
                                                  "0", "--output-dir", "x"]))
    assert tuned.model_copy(update={"vision_streams": 300, "vision_swap_share": 0.3}) == default
    with pytest.raises(SystemExit):
        parser.parse_args(["train", "nano", "--grid-tokens", "--small-encoder"])
    with pytest.raises(SystemExit):
        parser.parse_args(["train", "nano", "--grid-tokens", "--see-events"])
    new = nano_recipe_config(parser.parse_args(["train", "nano", "--no-silent-anchors", "--slot-words",
                                                "--stream-watch-share", "0.2", "--paraphrase-share", "0.1",
                                                "--stream-look-share", "0.3", "--output-dir", "x"]))
    assert new.stream_look_share == 0.3 and default.stream_samples == "exact" and default.stream_look_share == 0.15
    replies = nano_recipe_config(parser.parse_args(["train", "nano", "--stream-samples", "replies",
                                                    "--question-plans", "3", "--output-dir", "x"]))
    assert replies.model_copy(update={"stream_samples": "exact", "question_plans": 1}) == default
    dense = nano_recipe_config(parser.parse_args(["train", "nano", "--question-density", "3", "--question-weights",
                                                  "0.1,0.6,0.2,0.1", "--output-dir", "x"]))
    assert dense.question_density == 3.0
    assert dense.question_weights == {"realtime": 0.1, "proactive": 0.6, "multi": 0.2, "backward": 0.1}
    assert dense.model_copy(update={"question_density": 1.0, "question_weights": None}) == default
    assert density_tag(dense) == ".d3.t0.1-0.6-0.2-0.1" and density_tag(default) == ""
    assert (default.look_proactive_targets, default.look_watch_gap, default.look_watch_history,
            default.stream_watch_share) == (4, 8, 0.5, 0.3)
    watch = nano_recipe_config(parser.parse_args(["train", "nano", "--proactive-targets", "1", "--watch-gap", "3",
                                                  "--watch-history", "0", "--stream-watch-share", "0",
                                                  "--output-dir", "x"]))
    assert (watch.look_proactive_targets, watch.look_watch_gap, watch.look_watch_history) == (1, 3, 0.0)
    assert watch.model_copy(update={"look_proactive_targets": 4, "look_watch_gap": 8, "look_watch_history": 0.5,
                                    "stream_watch_share": 0.3}) == default
    assert look_path("d/world-3.mp4", 4, 8, 0.5).name == "world-3.look-v2.p4.g8.h50.jsonl"
    assert look_path("d/world-3.mp4").name == "world-3.look-v2.jsonl"  # the curriculum's first form
    assert look_path("d/world-3.mp4", 4, 8, 0.5, 2).name == "world-3.look-v2.p4.g8.h50.u2.jsonl"
    others = nano_recipe_config(parser.parse_args(["train", "nano", "--set", "look_multi_other=1",
                                                   "--output-dir", "x"]))
    assert others.look_multi_other == 1.0 and others.model_copy(update={"look_multi_other": 0.5}) == default
    assert look_files("d/world-3.mp4", others)[0].name == "world-3.look-v2.p4.g8.h50.o100.jsonl"
    assert look_files("d/world-3.mp4", default)[0] == look_path("d/world-3.mp4", 4, 8, 0.5)
    unasked = nano_recipe_config(parser.parse_args(["train", "nano", "--unasked", "2", "--output-dir", "x"]))
    assert unasked.look_unasked == 2 and unasked.model_copy(update={"look_unasked": 0}) == default
    weighed = nano_recipe_config(parser.parse_args(["train", "nano", "--look-hard-weight", "1", "--output-dir", "x"]))
    assert weighed.look_hard_silent_weight == 1.0 and default.look_hard_silent_weight is None
    assert weighed.model_copy(update={"look_hard_silent_weight": None}) == default
    kinds = nano_recipe_config(parser.parse_args(["train", "nano", "--look-hard-weight", "1", "--look-hard-only",
                                                  "multi-other, unasked", "--output-dir", "x"]))
    assert kinds.look_hard_only == ("multi-other", "unasked") and default.look_hard_only is None
    assert kinds.model_copy(update={"look_hard_only": None}) == weighed
    plans = nano_recipe_config(parser.parse_args(["train", "nano", "--stream-decisions", "3", "--output-dir", "x"]))
    assert plans.look_stream_plans == 3 and default.look_stream_plans == 0
    assert plans.model_copy(update={"look_stream_plans": 0}) == default
    pairs = nano_recipe_config(parser.parse_args(["train", "nano", "--decision-pairs", "2", "--output-dir", "x"]))
    assert (pairs.look_pair_plans, default.look_pair_plans, default.look_pairs_per_twin) == (2, 0, 4)
    assert pairs.model_copy(update={"look_pair_plans": 0}) == default
    one = nano_recipe_config(parser.parse_args(["train", "nano", "--decision-pairs", "2", "--decision-pair-types",
                                                "proactive", "--output-dir", "x"]))
    assert one.look_pair_types == ("proactive",) and default.look_pair_types == ("proactive", "multi")
    assert one.model_copy(update={"look_pair_types": ("proactive", "multi")}) == pairs
    assert pairs_path("d/world-3.mp4", one).name == "world-3.pairs.n8f4m10.p1-2.k4.proactive.jsonl"
    with pytest.raises(ValidationError):
        RecipeConfig(out_dir="x", look_pair_types=("realtime",))
    state = nano_recipe_config(parser.parse_args(["train", "nano", "--question-state", "0.3",
                                                  "--question-state-layer", "3", "--output-dir", "x"]))
    assert (state.question_state_weight, state.question_state_layer) == (0.3, 3)
    assert (default.question_state_weight, default.question_state_layer) == (0.0, 2)
    assert state.model_copy(update={"question_state_weight": 0.0, "question_state_layer": 2}) == default
    low = nano_recipe_config(parser.parse_args(["train", "nano", "--calibration-floor", "-4", "--output-dir", "x"]))
    assert low.calibration_floor == -4.0 and default.calibration_floor == -2.0
    assert low.model_copy(update={"calibration_floor": -2.0}) == default
    deep = nano_recipe_config(parser.parse_args(["train", "nano", "--decoder", "8,128,4", "--output-dir", "x"]))
    assert (deep.model.n_layers, deep.model.d_model, deep.model.n_heads) == (8, 128, 4)
    assert (default.model.n_layers, default.model.d_model, default.model.n_heads) == (4, 192, 4)
    assert deep.model.model_copy(update={"n_layers": 4, "d_model": 192}) == default.model  # nothing else
    rates = nano_recipe_config(parser.parse_args(["train", "nano", "--look-lr", "1.2e-3", "--stream-lr", "1e-3",
                                                  "--output-dir", "x"]))
    assert (rates.look_lr, rates.lr) == (1.2e-3, 1e-3)
    assert rates.model_copy(update={"look_lr": default.look_lr, "lr": default.lr}) == default  # nothing else
    averaged = nano_recipe_config(parser.parse_args(["train", "nano", "--ema", "0.998", "--look-ema", "0.999",
                                                     "--output-dir", "x"]))
    assert (averaged.ema_decay, averaged.look_ema_decay) == (0.998, 0.999)
    assert default.ema_decay is None and default.look_ema_decay is None
    assert averaged.model_copy(update={"ema_decay": None, "look_ema_decay": None}) == default  # nothing else
    framed = nano_recipe_config(parser.parse_args(["train", "nano", "--per-frame", "--output-dir", "x"]))
    assert framed.model.per_frame and not default.model.per_frame
    assert framed.model.model_copy(update={"per_frame": False}) == default.model  # nothing else
    dropped = nano_recipe_config(parser.parse_args(["train", "nano", "--dropout", "0.1", "--output-dir", "x"]))
    assert dropped.model.dropout == 0.1 and default.model.dropout == 0.0
    assert dropped.model.model_copy(update={"dropout": 0.0}) == default.model  # nothing else
    blocks = nano_recipe_config(parser.parse_args(["train", "nano", "--dropout", "0.1", "--no-dropout-inputs",
                                                   "--output-dir", "x"]))
    assert default.model.dropout_inputs and blocks.model.model_copy(update={"dropout_inputs": True}) == dropped.model
    for bad in (["--question-weights", "1,2"], ["--question-weights", "1,0,1,1"], ["--question-density", "9"],
                ["--proactive-targets", "0"], ["--watch-gap", "0"], ["--watch-history", "1.5"],
                ["--unasked", "-1"], ["--look-hard-only", "multi-other"],
                ["--look-hard-weight", "1", "--look-hard-only", "loud"],
                ["--look-hard-weight", "1", "--look-hard-only", ","], ["--calibration-floor", "1"],
                ["--decoder", "8,128"], ["--decoder", "8,130,4"], ["--decoder", "0,128,4"],
                ["--question-state", "-1"], ["--question-state-layer", "5"], ["--question-state-layer", "0"],
                ["--look-lr", "0"], ["--stream-lr=-1e-3"], ["--dropout", "1"], ["--dropout=-0.1"],
                ["--ema", "1"], ["--look-ema", "0"]):
        with pytest.raises(ConfigError):
            nano_recipe_config(parser.parse_args(["train", "nano", *bad, "--output-dir", "x"]))
    assert (new.silent_anchors, new.slot_words, new.stream_watch_share, new.paraphrase_share) == (False, True, 0.2, 0.1)
    off = nano_recipe_config(parser.parse_args(["train", "nano", "--silent-anchors", "--no-slot-words",
                                                "--output-dir", "x"]))
    assert (off.silent_anchors, off.slot_words, off.event_words) == (True, False, False)
    assert nano_recipe_config(parser.parse_args(["train", "nano", "--event-words", "--output-dir", "x"])).event_words
    with pytest.raises(ValidationError, match="event_words needs"):
        RecipeConfig(event_words=True, model=grid.model)
    with pytest.raises(ConfigError, match="paraphrase_share"):
        nano_recipe_config(parser.parse_args(["train", "nano", "--paraphrase-share", "2", "--output-dir", "x"]))
    with pytest.raises(ValidationError, match="slot_words needs"):
        RecipeConfig(slot_words=True, model=grid.model)
    read = nano_recipe_config(parser.parse_args(["train", "nano", "--question-first", "--slot-embed",
                                                 "--output-dir", "x"]))
    assert read.model.question_first and read.model.slot_embed
    assert read.model == default.model  # the recipe's defaults
    unread = nano_recipe_config(parser.parse_args(["train", "nano", "--no-question-first", "--no-slot-embed",
                                                   "--output-dir", "x"]))
    assert not unread.model.question_first and not unread.model.slot_embed
    with pytest.raises(ConfigError, match="slot_embed"):
        nano_recipe_config(parser.parse_args(["train", "nano", "--grid-tokens", "--slot-embed", "--output-dir", "x"]))


def test_the_focal_exponent_reaches_stage_2_only(tmp_path: Path) -> None:
    from aura.models.nano.recipe import _trainer_config

    cfg = toy_recipe(tmp_path).model_copy(update={"focal_gamma": 2.0})
    train = tmp_path / "samples.jsonl"
    assert _trainer_config(cfg, tmp_path, cfg.model, stage="stream", train=train).train.focal_gamma == 2.0
    assert _trainer_config(cfg, tmp_path, cfg.model, stage="look", train=train).train.focal_gamma == 0.0
    assert RecipeConfig().focal_gamma == 0.0  # the committed weights' recipe has none
    with pytest.raises(ValidationError):
        RecipeConfig(focal_gamma=-1.0)


def test_the_compact_layout_trains_its_own_tokenizer_and_serves_from_the_checkpoint(tmp_path: Path) -> None:
    """``--compact-format``: the tokenizer is trained with the role tokens, every stage trains in the
    compact layout, and the checkpoint streams in it; the flag sets the model field only, and a
    tokenizer without role tokens (SmolLM2's) is refused up front."""
    from aura.cli.main import build_parser
    from aura.cli.train_cmd import nano_recipe_config

    parser = build_parser()
    flagged = nano_recipe_config(parser.parse_args(["train", "nano", "--compact-format", "--output-dir", "x"]))
    default = RecipeConfig(out_dir="x")
    assert flagged.model.compact_format and not default.model.compact_format
    assert flagged.model_copy(update={"model": default.model}) == default
    paused = nano_recipe_config(parser.parse_args(["train", "nano", "--decision-pauses", "2", "--output-dir", "x"]))
    assert paused.model.decision_pauses == 2 and default.model.decision_pauses == 0
    assert paused.model_copy(update={"model": default.model}) == default
    with pytest.raises(ValidationError, match="role tokens"):
        RecipeConfig(out_dir="x", word_vectors=True, model=flagged.model)
    with pytest.raises(ConfigError) as refused:  # a rule across fields: its message, not the whole recipe
        nano_recipe_config(parser.parse_args(["train", "nano", "--compact-format", "--word-vectors", "--output-dir",
                                              "x"]))
    assert str(refused.value).startswith("aura train nano: compact_format") and "got" not in str(refused.value)

    base = toy_recipe(tmp_path / "run")
    cfg = base.model_copy(update={"model": base.model.model_copy(update={"compact_format": True}),
                                  "calibration_streams": 0, "vision_streams": 0})
    final = train_nano(cfg, progress=False)
    model = load_model(f"nano:{final}")
    assert model.model.cfg.compact_format and model.format.compact
    assert model.tokenizer.convert_tokens_to_ids("<|assistant|>") == model.format.generation_prompt()[0]
    step = model.step(VideoChunk(0, 0.0, 1.0, np.zeros((2, 24, 32, 3), dtype=np.uint8)), "How many objects are there?")
    assert step.chunk_index == 0
    # its tokenizer knows the layout: a silent chunk's five tokens around the pads
    from aura.models.nano.checkpoint import load_tokenizer

    tok = load_tokenizer(Path(cfg.out_dir) / "tokenizer")
    assert tok.encode("<|user|><|video_pad|><|im_end|><|assistant|><|silent|><|im_end|>",
                      add_special_tokens=False) == tok.convert_tokens_to_ids(
        ["<|user|>", "<|video_pad|>", "<|im_end|>", "<|assistant|>", "<|silent|>", "<|im_end|>"])
    # one epoch over the same stage-2 samples in ChatML (same data directory) takes more tokens
    chatml = base.model_copy(update={"out_dir": str(tmp_path / "chatml"), "data_dir": str(Path(cfg.out_dir) / "data"),
                                     "calibration_streams": 0, "vision_streams": 0})
    train_nano(chatml, progress=False)

    def stage2(run: RecipeConfig) -> list[dict]:
        return [json.loads(line) for line in (Path(run.out_dir) / "train" / "metrics.jsonl").read_text().splitlines()]

    compact_tokens, chatml_tokens = sum(m["tokens"] for m in stage2(cfg)), sum(m["tokens"] for m in stage2(chatml))
    assert stage2(cfg)[-1]["samples_seen"] == stage2(chatml)[-1]["samples_seen"]
    assert compact_tokens < 0.9 * chatml_tokens  # 0.75 at the recipe's size (docs/nano.md)
    assert all(np.isfinite(m["loss"]) for m in stage2(cfg))
    # pause tokens: the run's tokenizer has the token, every stage trains with it, the checkpoint serves with it
    paused = cfg.model_copy(update={"out_dir": str(tmp_path / "paused"), "data_dir": chatml.data_dir,
                                    "model": cfg.model.model_copy(update={"decision_pauses": 2})})
    served = load_model(f"nano:{train_nano(paused, progress=False)}")
    assert served.tokenizer.convert_ids_to_tokens(served.format.generation_prompt()) == ["<|assistant|>", "<|pause|>",
                                                                                        "<|pause|>"]
    assert sum(m["tokens"] for m in stage2(paused)) > compact_tokens


def test_stage2_can_train_on_more_streams_than_stages_0_and_1(tmp_path: Path) -> None:
    """With stream_streams, stage 2's samples come from every stream and stage 1's from the first
    train_streams only; fewer stage-2 streams than stage-1 ones is refused."""
    cfg = toy_recipe(tmp_path / "run").model_copy(update={"stream_look_share": 0.0, "stream_watch_share": 0.0})
    seeds = split_seeds("train", 2)
    samples, looks = build_world_samples(cfg, seeds, tmp_path / "data", look_seeds=seeds[:1], progress=False)
    assert ".s2" in samples.name
    stream_videos = {json.loads(line)["video"] for line in samples.read_text().splitlines()}
    look_videos = {json.loads(line)["video"] for line in looks.read_text().splitlines()}
    assert stream_videos == {f"world-{s}.mp4" for s in seeds}
    assert look_videos == {f"world-{seeds[0]}.mp4"}
    assert split_seeds("train", 2)[:1] == split_seeds("train", 1)  # stage 2's streams begin with stage 1's
    with pytest.raises(ValidationError, match="stream_streams"):
        RecipeConfig.model_validate({**cfg.model_dump(), "stream_streams": 1})


def test_stage2_streams_default_to_five_thirds_of_the_training_streams() -> None:
    """Unset, stage 2's streams scale with train_streams (250 for the recipe's 150); set, they are taken as given."""
    assert RecipeConfig().stage2_streams() == 250
    assert RecipeConfig(train_streams=20).stage2_streams() == 33
    assert RecipeConfig(train_streams=20, stream_streams=20).stage2_streams() == 20


def test_bulk_encoder_features_match_one_chunk_at_a_time() -> None:
    from aura.models.nano import NanoVLM
    from aura.models.nano.training import nano_features_many, nano_preprocess

    cfg = NanoConfig(vocab_size=300, image_size=32, vision_channels=(8, 16, 16), grid=2, d_model=32, n_layers=2,
                     n_heads=2, context_frames=1, visual_readout="slots")
    torch.manual_seed(0)
    nano = NanoVLM(cfg, video_pad_id=299)
    nano.vision.requires_grad_(False)
    rng = np.random.default_rng(0)
    chunks = [rng.integers(0, 255, (3, 40, 52, 3), dtype=np.uint8) for _ in range(5)]
    one = nano_preprocess(nano, features=True)
    many = nano_features_many(nano)(chunks)
    assert len(many) == 5
    for frames, (feats, grid) in zip(chunks, many, strict=True):
        want, want_grid = one(frames)
        assert feats.shape == want.shape and grid == want_grid
        np.testing.assert_allclose(feats, want, atol=1e-5)
    nano.vision.requires_grad_(True)
    with pytest.raises(ValueError, match="frozen"):
        nano_features_many(nano)(chunks)
