"""Silence-bias calibration: replaying a run with a bias silences exactly the replies whose margin
it outweighs, and the chosen bias is the one that trades chatter for nothing owed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aura.cli.main import main
from aura.eval.calibrate import (
    CalibrationError,
    apply_silence_bias,
    best_bias,
    calibration_table,
    margin_separation,
    margin_separation_by_context,
    objective,
)
from aura.eval.runner import RESULTS, RUN_META
from tests.eval_world.test_world_eval import owe, q


def talker_row() -> dict:
    """A proactive question answered on time (margin -6) and a real-time one (margin -9); chatter
    (margin -1.2) in every other chunk after the question."""
    questions = [q("a", 3.2, "realtime"), q("p", 10.2, "proactive")]
    owed = [owe("a", 3.2, {"count": 2}), owe("p", 10.2, kind="ack"),
            owe("p", 25.5, {"colour": "red", "shape": "circle"})]
    steps = []
    for k in range(60):
        if k == 3:
            steps.append({"k": k, "silent": False, "text": "There are 2 objects.", "silence_margin": -9.0})
        elif k == 10:
            steps.append({"k": k, "silent": False, "text": "OK.", "silence_margin": -7.0})
        elif k == 25:
            steps.append({"k": k, "silent": False, "text": "A red circle appeared.", "silence_margin": -6.0})
        elif k > 10:
            steps.append({"k": k, "silent": False, "text": "A blue square.", "silence_margin": -1.2})
        else:
            steps.append({"k": k, "silent": True, "text": "", "silence_margin": 3.0})
    return {"steps": steps, "questions": questions, "owed": owed, "status": "ok"}


def test_replay_silences_replies_whose_margin_the_bias_outweighs() -> None:
    row = talker_row()
    before = json.dumps(row)
    assert apply_silence_bias(row, 0.0)["steps"] == row["steps"]
    replay = apply_silence_bias(row, 1.2)
    spoke = [s["k"] for s in replay["steps"] if not s["silent"]]
    assert spoke == [3, 10, 25]
    assert [s["k"] for s in apply_silence_bias(row, 6.5)["steps"] if not s["silent"]] == [3, 10]
    assert json.dumps(row) == before  # the input row is not changed
    with pytest.raises(CalibrationError):
        apply_silence_bias(row, -1.0)


def test_best_bias_removes_chatter_but_keeps_owed_answers() -> None:
    table = calibration_table([talker_row()], [0.0, 1.0, 2.0, 4.0, 6.5, 10.0])
    by = {r["bias"]: r for r in table}
    assert by[0.0]["metrics"]["proactive_early"] == 100.0 and by[0.0]["metrics"]["silence"] < 20
    assert by[2.0]["metrics"]["silence"] == 100.0 and by[2.0]["metrics"]["proactive_on_time"] == 100.0
    assert by[6.5]["metrics"]["proactive_on_time"] == 0.0
    assert best_bias(table) == 2.0  # ties with 4.0 go to the smaller bias
    assert objective(by[2.0]["metrics"]) > objective(by[0.0]["metrics"])
    with pytest.raises(CalibrationError, match="margins"):
        calibration_table([{**talker_row(), "steps": [{"k": 0, "silent": True, "text": ""}]}])


def test_margin_separation_compares_owed_chunks_with_free_ones() -> None:
    row = talker_row()  # owed at chunk 25 (margin -6); free chunks: 3.0 before the question, -1.2 after
    sep = margin_separation([row])
    assert sep["owed"] == 1 and sep["free"] == 57  # chunks 3 and 10 hold questions, 25 is owed
    assert sep["median_owed"] == -6.0 and sep["median_free"] == -1.2
    assert sep["auc"] == 1.0  # the owed chunk leans further towards speaking than every free one
    flipped = {**row, "steps": [{**s, "silence_margin": 5.0} if s["k"] == 25 else s for s in row["steps"]]}
    assert margin_separation([flipped])["auc"] == 0.0
    tied = {**row, "steps": [{**s, "silence_margin": -1.2} if s["k"] == 25 else s for s in row["steps"]]}
    assert margin_separation([tied])["auc"] == pytest.approx((9 + 0.5 * 48) / 57)
    assert margin_separation([{**row, "owed": []}])["auc"] is None


def test_cli_refuses_test_split_and_writes_the_checkpoint(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from aura.models.nano import save_checkpoint
    from aura.models.nano.checkpoint import load_generation
    from tests.nano.test_streaming import tiny_model

    run = tmp_path / "run"
    run.mkdir()
    (run / RESULTS).write_text(json.dumps({**talker_row(), "item_id": "world-1"}) + "\n")
    (run / RUN_META).write_text(json.dumps({"benchmark": "world", "split": "test"}))
    assert main(["eval", "calibrate", str(run)]) == 2
    assert "val" in capsys.readouterr().err
    (run / RUN_META).write_text(json.dumps({"benchmark": "world", "split": "val"}))
    ckpt = save_checkpoint(tmp_path / "ckpt", *tiny_model())
    assert main(["eval", "calibrate", str(run), "--biases", "0", "2", "7", "--write", str(ckpt)]) == 0
    assert "chosen silence bias: 2" in capsys.readouterr().out
    assert load_generation(ckpt)["silence_bias"] == 2.0


def test_a_run_directory_refuses_another_silence_bias(tmp_path: Path) -> None:
    from aura.eval.world import WorldEvalConfig, WorldEvalError, _check_meta

    config = WorldEvalConfig(streams=1)
    meta = {"benchmark": "world", "model": "nano", "split": config.split, "seconds": list(config.seconds),
            "phrasing": config.phrasing, "height": config.height}
    (tmp_path / RUN_META).write_text(json.dumps(meta))  # a run recorded before settings existed: no bias
    _check_meta(tmp_path, {**meta, "settings": {}})
    with pytest.raises(WorldEvalError, match="settings"):
        _check_meta(tmp_path, {**meta, "settings": {"silence_bias": 3.0}})
    (tmp_path / RUN_META).write_text(json.dumps({**meta, "settings": {"silence_bias": 3.0}}))
    _check_meta(tmp_path, {**meta, "settings": {"silence_bias": 3.0}})
    with pytest.raises(WorldEvalError, match="silence_bias"):
        _check_meta(tmp_path, {**meta, "settings": {"silence_bias": 0.0}})


def test_a_run_at_a_negative_floor_replays_every_bias_from_it_up(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture) -> None:
    row = talker_row()  # as if decoded at -2: margins are recorded before any bias
    replay = apply_silence_bias(row, -1.0, run_bias=-2.0)
    assert [s["k"] for s in replay["steps"] if not s["silent"]] == [s["k"] for s in row["steps"] if not s["silent"]]
    assert [s["k"] for s in apply_silence_bias(row, 1.2, run_bias=-2.0)["steps"] if not s["silent"]] == [3, 10, 25]
    with pytest.raises(CalibrationError, match="below the run's -2"):
        apply_silence_bias(row, -2.5, run_bias=-2.0)
    by = {r["bias"]: r for r in calibration_table([row], [-2.0, -1.0, 2.0], run_bias=-2.0)}
    assert by[-2.0]["metrics"]["silence"] < 20 and by[2.0]["metrics"]["silence"] == 100.0
    run = tmp_path / "run"
    run.mkdir()
    (run / RESULTS).write_text(json.dumps({**row, "item_id": "world-1"}) + "\n")
    (run / RUN_META).write_text(json.dumps({"benchmark": "world", "split": "val", "settings": {"silence_bias": -2.0}}))
    assert main(["eval", "calibrate", str(run), "--biases", "-2", "-1", "2"]) == 0
    assert "chosen silence bias: 2" in capsys.readouterr().out
    assert main(["eval", "calibrate", str(run), "--biases", "-3", "2"]) == 2
    assert "cannot be replayed at -3" in capsys.readouterr().err
    (run / RUN_META).write_text(json.dumps({"benchmark": "world", "split": "val", "settings": {"silence_bias": 1.0}}))
    assert main(["eval", "calibrate", str(run)]) == 2
    assert "--silence-bias 0" in capsys.readouterr().err


def test_margins_are_separated_by_what_was_open_at_each_unasked_event() -> None:
    """Owed chunks against free event chunks, case by case: a case whose margins all lean further
    towards silence scores 1, one that leans further towards speech scores 0, ties count half;
    chunks within the window of an owed reply and question chunks are left out."""
    questions = [{"id": "d", "time": 40.0, "type": "multi", "kind": "multi_disappear", "heldout": False,
                  "target": {"event": "disappear"}}]
    owed = [owe("d", 40.0, kind="ack"), owe("d", 50.0, {"event": "disappear", "colour": "red", "shape": "circle"})]
    events = [{"time": t, "kind": k} for t, k in ((10.0, "appear"), (45.0, "appear"), (51.0, "appear"),
                                                   (55.0, "disappear"), (58.0, "colour"))]
    margins = {10: -5.0, 45: 4.0, 50: -3.0, 51: 9.0, 55: -3.0, 58: 6.0}
    steps = [{"k": k, "silent": True, "text": "", "silence_margin": margins.get(k, 8.0)} for k in range(60)]
    row = {"status": "ok", "questions": questions, "owed": owed, "events": events, "steps": steps}
    out = margin_separation_by_context([row])
    assert out["event_nothing_open"] == {"n": 1, "owed": 1, "auc": 0.0}  # chunk 10 leans further towards speech
    assert out["event_other_kind"] == {"n": 2, "owed": 1, "auc": 1.0}  # chunks 45 and 58; 51 is in 50's window
    assert out["event_asked_kind"] == {"n": 1, "owed": 1, "auc": 0.5}  # chunk 55: a tie
    assert out["event_proactive_only"] == {"n": 0, "owed": 1, "auc": None}
    assert margin_separation_by_context([{k: v for k, v in row.items() if k != "events"}])["event_other_kind"]["n"] == 0
