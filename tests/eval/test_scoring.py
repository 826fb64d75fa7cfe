"""Scorers on hand-made rows (stream-mode timing rules, aggregation) and the judges."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from aura.eval import CachedJudge, MatchJudge, OpenAIJudge, get_benchmark
from aura.eval.judge import parse_verdict
from aura.eval.report import compare, stats


def _stream_row(task: str, gold: dict, injections: dict[str, float], said: list[tuple[float, str]]) -> dict:
    return {"benchmark": "x", "mode": "stream", "item_id": "i", "task": task, "status": "ok", "gold": gold,
            "patience": 5.0, "injections": [{"key": k, "asked_at": t} for k, t in injections.items()],
            "transcript": [list(x) for x in said]}


def test_ovo_stream_crr_scores_silence_before_and_speech_after_the_clue() -> None:
    ovo = get_benchmark("ovo")
    gold = {"types": [0, 1, 1], "times": [5, 12, 20], "clue_time": 10}
    early = _stream_row("CRR", gold, {"ask": 3}, [(3, "OK, I'll tell you."), (4, "He leaves."), (11, "He leaves.")])
    s = ovo.score_row(early, MatchJudge())
    assert s.units == [0.0, 1.0, 1.0] and s.time_errors == [-6.0] and s.false_alarms == 1
    good = _stream_row("CRR", gold, {"ask": 3}, [(3, "OK."), (11, "He leaves.")])
    s = ovo.score_row(good, MatchJudge())
    assert s.units == [1.0, 1.0, 1.0] and s.time_errors == [1.0] and s.false_alarms == 0
    mute = ovo.score_row(_stream_row("CRR", gold, {"ask": 3}, [(3, "OK.")]), MatchJudge())
    assert mute.units == [1.0, 0.0, 0.0] and mute.time_errors == []


def test_ovo_stream_answer_must_come_within_patience() -> None:
    ovo = get_benchmark("ovo")
    row = _stream_row("EPM", {"letter": "B"}, {"0": 6}, [(12, "B")])
    assert ovo.score_row(row, MatchJudge()).units == [0.0]
    row = _stream_row("EPM", {"letter": "B"}, {"0": 6}, [(9, "B")])
    assert ovo.score_row(row, MatchJudge()).units == [1.0]


def test_streamingbench_stream_proactive_ignores_the_ack_and_counts_false_alarms() -> None:
    sb = get_benchmark("streamingbench")
    gold = {"gt_time": 20.0, "expected": "Goal"}
    row = _stream_row("Active Output", gold, {"0": 5}, [(5, "OK, I will tell you."), (21, "Goal!")])
    s = sb.score_row(row, MatchJudge())
    assert s.units == [1.0] and s.time_errors == [1.0] and s.false_alarms == 0
    late = sb.score_row(_stream_row("Active Output", gold, {"0": 5}, [(5, "OK."), (22.5, "Goal")]), MatchJudge())
    assert late.units == [0.0] and late.time_errors == [2.5]
    eager = _stream_row("Active Output", gold, {"0": 5}, [(5, "OK."), (9, "Goal"), (20, "Goal")])
    s = sb.score_row(eager, MatchJudge())
    assert s.units == [0.0] and s.false_alarms == 1  # the first answer after the ack is the one judged


def test_omnimmi_sg_score_is_the_mean_cumulative_step_accuracy() -> None:
    om = get_benchmark("omnimmi")
    from aura.eval import ItemScore

    def item(turns: list[float]) -> ItemScore:
        return ItemScore(item_id="i", task="SG", units=[float(all(turns))], extra={"turns": turns, "judge": "match"})

    agg = om.aggregate([item([1, 1, 0]), item([1, 0]), item([0, 1, 1]), item([1])])
    # k=1: 3/4; k=2: 1/3 (items with >= 2 turns: [1,1], [1,0], [0,1]); k=3: 0/2
    assert agg["tasks"]["SG"]["steps"] == pytest.approx([75.0, 100 / 3, 0.0])
    assert agg["tasks"]["SG"]["score"] == pytest.approx((75 + 100 / 3) / 3)


def test_match_judge() -> None:
    j = MatchJudge()
    assert j("q", "Blue.", "It is blue").correct
    assert not j("q", "blue car", "a blue bike").correct
    assert not j("q", "red", "").correct


def test_openai_judge_with_a_fake_client() -> None:
    calls = []

    def create(**kw: object) -> object:
        calls.append(kw)
        reply = SimpleNamespace(content="{'pred': 'yes', 'score': 4}")
        return SimpleNamespace(choices=[SimpleNamespace(message=reply)])

    client = SimpleNamespace(chat=SimpleNamespace(completions=SimpleNamespace(create=create)))
    v = OpenAIJudge("judge-model", client=client)("Who?", "Marie", "It was Marie.")
    assert v.correct and v.score == 4.0 and v.error is None
    assert calls[0]["model"] == "judge-model"
    assert "Marie" in calls[0]["messages"][1]["content"] and "It was Marie." in calls[0]["messages"][1]["content"]

    def broken(**kw: object) -> object:
        raise ConnectionError("refused\nmore")

    v = OpenAIJudge("m", client=SimpleNamespace(chat=SimpleNamespace(completions=SimpleNamespace(create=broken))))(
        "q", "a", "p")
    assert not v.correct and v.error == "judge call failed: refused"


def test_parse_verdict() -> None:
    assert parse_verdict('Sure: {"pred": "no", "score": 1}').correct is False
    assert parse_verdict("{'pred': 'Yes', 'score': '5'}").score == 5.0
    bad = parse_verdict("I think yes")
    assert not bad.correct and bad.error


def test_cached_judge_remembers_verdicts_across_instances(tmp_path: Path) -> None:
    seen = []

    class Counting:
        name = "counting"

        def __call__(self, q: str, a: str, p: str):
            seen.append(p)
            return MatchJudge()(q, a, p)

    cache = tmp_path / "judge_cache.jsonl"
    j = CachedJudge(Counting(), cache)
    assert j("q", "red", "red").correct and j("q", "red", "red").correct
    assert not j("q", "red", "blue").correct
    again = CachedJudge(Counting(), cache)
    assert again("q", "red", "red").correct and not again("q", "red", "blue").correct
    assert seen == ["red", "blue"]


def test_stats_and_compare() -> None:
    s = stats([3.0, 1.0, 2.0, float("nan")])
    assert (s["n"], s["mean"], s["p50"], s["max"]) == (3, 2.0, 2.0, 3.0)
    assert stats([])["mean"] is None
    a = {"benchmark": "ovo", "mode": "protocol", "tasks": {"EPM": {"score": 50.0}}, "overall": 50.0,
         "categories": {"backward": 50.0}}
    b = {"benchmark": "ovo", "mode": "stream", "tasks": {"EPM": {"score": 75.0}, "REC": {"score": 10.0}},
         "overall": 60.0, "categories": {}}
    table = compare(a, b, ("run1", "run2"))
    assert "| EPM | 50.0 | 75.0 | +25.0 |" in table
    assert "| REC | - | 10.0 | - |" in table
    assert "| **overall** | 50.0 | 60.0 | +10.0 |" in table


def test_parallel_scoring_keeps_row_order() -> None:
    import time as _time

    from aura.eval.report import score_rows

    class Slow:
        name = "slow"

        def __call__(self, q: str, a: str, p: str):
            _time.sleep(0.01 * (3 - int(q)))  # later rows finish first
            return MatchJudge()(q, a, p)

    rows = [{"item_id": str(i), "task": "SI", "mode": "protocol", "status": "ok",
             "gold": {"questions": [str(i)], "answers": ["red"]},
             "probes": [{"key": "0", "response": "red" if i % 2 else "blue", "silent": False}]} for i in range(3)]
    rows.append({"item_id": "x", "task": "SI", "status": "error", "error": "no video"})
    scores, errors = score_rows(get_benchmark("omnimmi"), rows, Slow(), workers=3)
    assert [s.item_id for s in scores] == ["0", "1", "2"] and [s.units for s in scores] == [[0.0], [1.0], [0.0]]
    assert errors == [{"item_id": "x", "video": None, "error": "no video"}]
