"""``aura eval watch``: teacher-forced watch decisions of a nano checkpoint (the bundled one here)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from aura.cli.main import main
from aura.eval.watch_probe import SILENT_TAGS, WatchProbeError, _stream_samples, decision_margins, summarize
from aura.eval.world_metrics import UNCLAIMED_CONTEXTS
from aura.models.nano.checkpoint import bundled_checkpoint
from aura.models.nano.recipe import RecipeConfig, _recipe_stream
from aura.world import split_seeds


def test_summary_counts_right_decisions_and_the_proactive_auc() -> None:
    margins = {"proactive-answer": [-3.0, -1.0, 2.0], "proactive-absent": [4.0, 1.5, -0.5, 3.0],
               "quiet": [5.0, -1.0]}
    s = summarize(margins)
    assert s["decisions"]["proactive-answer"] == {"n": 3, "right": 66.7, "median_margin": -1.0}
    assert s["decisions"]["proactive-absent"]["right"] == 75.0  # silent when the margin is positive
    assert s["decisions"]["quiet"]["right"] == 50.0
    # owed answers below silent decisions: 4 + 4 + 2 of 12 pairs
    assert s["proactive_auc"] == round(10 / 12, 3)
    assert summarize({"quiet": [1.0]})["proactive_auc"] is None
    assert s["multi_auc"] is None  # no multi-response decisions


def test_summary_gives_the_kind_binding_as_the_multi_response_auc() -> None:
    margins = {"multi-report": [-2.0, 0.5], "multi-other": [1.0, -3.0, 4.0]}
    # reports below other-kind silences: -2 below 1 and 4, 0.5 below 1 and 4: 4 of 6 pairs
    assert summarize(margins)["multi_auc"] == round(4 / 6, 3)
    assert summarize({"multi-report": [-1.0]})["multi_auc"] is None


def test_stream_decisions_are_summarized_by_case_with_their_aucs() -> None:
    margins = {"stream:owed": [-2.0, 1.0], "stream:event_other_kind": [3.0, -3.0],
               "stream:event_nothing_open": [0.5, 4.0, 5.0]}
    s = summarize(margins)
    assert s["decisions"]["stream:owed"]["right"] == 50.0  # a reply is owed: right when margin <= 0
    assert s["decisions"]["stream:event_nothing_open"]["right"] == 100.0
    # owed below silent: other kind 2 of 4 pairs; nothing open 1 + 1 + 2 + ... = 5 of 6
    assert s["stream_auc"] == {"stream:event_other_kind": 0.5, "stream:event_nothing_open": round(5 / 6, 3),
                               "stream:all": round(7 / 10, 3)}
    assert "stream_auc" not in summarize({"quiet": [1.0]})


def test_the_bundled_model_is_probed_on_stream_decisions(tmp_path: Path) -> None:
    ckpt = bundled_checkpoint()
    kwargs = {"streams": 1, "seconds": (90, 90), "stream": True}
    a = decision_margins(ckpt, tmp_path, **kwargs)
    assert "stream:owed" in a and len(a) > 1
    assert set(a) <= {"stream:owed", *(f"stream:{c}" for c in UNCLAIMED_CONTEXTS)}
    assert a == decision_margins(ckpt, tmp_path, **kwargs)
    assert a != decision_margins(ckpt, tmp_path, streams=1, seconds=(90, 90))  # the watch samples
    trained = decision_margins(ckpt, tmp_path, split="train", **kwargs)  # the recipe's first training stream
    cfg = RecipeConfig(seconds=(90, 90))
    world, _ = _recipe_stream(split_seeds("train", 1)[0], cfg)
    expected = Counter(tag for _, tag in _stream_samples(world, cfg.context()))
    assert {k: len(v) for k, v in trained.items()} == expected and trained != a


def test_the_bundled_model_is_probed_deterministically(tmp_path: Path) -> None:
    ckpt = bundled_checkpoint()
    kwargs = {"streams": 1, "seconds": (45, 45), "targets": 2}
    a = decision_margins(ckpt, tmp_path, gap=2, **kwargs)
    assert set(a) >= {"proactive-answer", "proactive-absent", "multi-report"}
    assert all(len(v) > 0 for v in a.values()) and set(a) <= {*SILENT_TAGS, "proactive-answer", "multi-report"}
    assert a == decision_margins(ckpt, tmp_path, gap=2, **kwargs)  # rendered once, the same margins
    bare = decision_margins(ckpt, tmp_path, gap=2, system=False, **kwargs)
    assert {k: len(v) for k, v in bare.items()} == {k: len(v) for k, v in a.items()}
    assert bare != a  # the system prompt is in the context
    far = decision_margins(ckpt, tmp_path, gap=6, **kwargs)
    assert far != a  # questions asked further back
    told = decision_margins(ckpt, tmp_path, gap=6, history=1.0, **kwargs)
    assert {k: len(v) for k, v in told.items()} == {k: len(v) for k, v in far.items()} and told != far


def test_cli_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "watch", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert "not a checkpoint directory" in err and "Traceback" not in err
    with pytest.raises(WatchProbeError, match="must be >= 1"):
        decision_margins(bundled_checkpoint(), tmp_path, gap=0)
    with pytest.raises(WatchProbeError, match="split is val or train"):
        decision_margins(bundled_checkpoint(), tmp_path, split="test")
    with pytest.raises(WatchProbeError, match="share between 0 and 1"):
        decision_margins(bundled_checkpoint(), tmp_path, history=2.0)
