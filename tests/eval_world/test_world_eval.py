"""``aura eval world``: exact scoring with test doubles (oracle, early, silent, random), resume, reports."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from aura.eval.runner import RESULTS
from aura.eval.world import (
    WorldEvalConfig,
    WorldEvalError,
    plan_streams,
    run_world_eval,
    write_world_report,
)
from aura.eval.world_metrics import PHRASINGS, TARGETS, score_stream
from aura.fileio import iter_jsonl
from tests.eval_world.doubles import EarlyModel, OracleModel, RandomTalker, SilentModel

CONFIG = WorldEvalConfig(streams=6, seconds=(120, 160), height=64)
HEADLINE = ["realtime_accuracy", "realtime_accuracy_next", "backward_accuracy", "proactive_on_time",
            "proactive_silent_when_absent", "multi_recall", "multi_precision", "ack_rate", "ack_worded"]


@pytest.fixture(scope="module")
def streams() -> list:
    return plan_streams(CONFIG)


@pytest.fixture(scope="module")
def rendered(streams: list, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """CONFIG's videos, rendered once for the module (a run reuses videos already in its directory)."""
    from aura.eval.world import ensure_video

    root = tmp_path_factory.mktemp("world")
    for s in streams:
        ensure_video(root, s, CONFIG.height, 2.0)
    return root / "videos"


def run(tmp: Path, factory, name: str, config: WorldEvalConfig = CONFIG, videos: Path | None = None) -> dict:
    if videos is not None:
        (tmp / "videos").mkdir(parents=True)
        for v in videos.iterdir():
            (tmp / "videos" / v.name).hardlink_to(v)
    counts = run_world_eval(config, tmp, factory, model_name=name)
    assert counts["errors"] == 0
    return write_world_report(tmp)


def test_oracle_scores_100_on_every_metric(tmp_path: Path, streams: list, rendered: Path) -> None:
    summary = run(tmp_path, lambda: OracleModel(streams), "oracle", videos=rendered)
    m = summary["metrics"]
    c = m["all"]["counts"]  # every metric is measured, in both phrasings
    assert c["realtime"] > 10 and c["backward"] and c["proactive_with_target"] and c["proactive_without_target"]
    assert c["multi_events"] > 5 and c["free_chunks"] > 500
    for phrasing in PHRASINGS:
        for key in HEADLINE:
            if phrasing == "all" or key != "backward_accuracy":
                assert m[phrasing][key] == 100.0, (phrasing, key)
        assert m[phrasing]["proactive_early"] == 0.0 and m[phrasing]["proactive_early_named"] == 0.0
    assert m["all"]["silence"] == 100.0 and m["all"]["mean_delay_chunks"] == 0.0
    assert m["all"]["silence_at_events"] == 100.0 and c["event_free_chunks"] > 10
    assert summary["meets_target"] == {k: True for k in TARGETS}
    assert summary["unclaimed_replies"] == 0 and summary["stray_replies"] == 0 and summary["scored"] == 6
    rows = [r for _, r in iter_jsonl(tmp_path / RESULTS)]
    assert len(rows) == 6 and all(len(r["steps"]) == r["duration"] for r in rows)  # one step per 1-s chunk
    first = rows[0]["steps"]
    assert [s["k"] for s in first] == list(range(len(first)))
    asked = [s for s in first if s["question"]]
    assert [s["question"] for s in asked] == [q["id"] for q in rows[0]["questions"]]
    for name in ("summary.json", "report.md", "world_metrics.png", "world_latency.png", "run.json"):
        assert (tmp_path / name).is_file()
    report = (tmp_path / "report.md").read_text()
    assert "| real-time answers correct (own chunk) | 100.0 | 100.0 | 100.0 | >= 90 | yes |" in report
    kinds = m["all"]["multi_by_kind"]
    assert kinds and all(v["recall"] == 100.0 and v["precision"] == 100.0 for v in kinds.values())
    assert f"| {next(iter(kinds))} | " in report.split("## Multi-response reports by kind")[1]
    assert m["all"]["unclaimed_by"] == dict.fromkeys(m["all"]["unclaimed_by"], 0)
    wordings = [v for per in m["all"]["by_wording"].values() for v in per.values()]
    assert sum(v["n"] for v in wordings) == m["all"]["counts"]["realtime"] + m["all"]["counts"]["backward"]
    assert all(v["accuracy"] == 100.0 and v["wrong_reply"] is None for v in wordings)
    assert "## Real-time and backward answers by wording" in report


def test_early_answers_count_as_before_the_evidence(tmp_path: Path, streams: list, rendered: Path) -> None:
    m = run(tmp_path, lambda: EarlyModel(streams), "early", videos=rendered)["metrics"]["all"]
    assert m["proactive_on_time"] == 0.0 and m["proactive_early"] >= 80.0
    assert m["proactive_early_named"] >= 80.0  # the early answers name what was asked for
    assert m["multi_recall"] == 0.0 and m["multi_precision"] == 0.0
    assert m["realtime_accuracy"] == 100.0  # real-time answers were not moved
    assert m["silence"] < 100.0  # early reports fall where nothing is due


def _waiting_row(said_at_5: str) -> dict:
    """One 12-chunk stream: "tell me when a red triangle appears" at 2 s, one appearing at 10 s; the
    model acknowledges, says ``said_at_5`` at 5 s and answers on time."""
    steps = [{"k": k, "silent": k not in (2, 5, 10), "text": ""} for k in range(12)]
    steps[2]["text"], steps[5]["text"] = "Sure, I'll tell you.", said_at_5
    steps[10]["text"] = "A red triangle just appeared."
    return {"questions": [{"id": "q1", "time": 2.0, "type": "proactive", "kind": "proactive", "heldout": False,
                           "target": {"colour": "red", "shape": "triangle"}}],
            "owed": [{"time": 2.0, "question_id": "q1", "kind": "ack", "facts": {}},
                     {"time": 10.0, "question_id": "q1", "kind": "answer",
                      "facts": {"colour": "red", "shape": "triangle"}}],
            "events": [{"time": 10.0, "kind": "appear"}], "steps": steps}


def test_early_names_the_target_only_when_the_reply_does() -> None:
    chatter = score_stream(_waiting_row("A blue square just appeared."))["questions"][0]
    assert chatter["on_time"] and chatter["early"] and not chatter["early_named"]
    named = score_stream(_waiting_row("A red triangle just appeared."))["questions"][0]
    assert named["on_time"] and named["early"] and named["early_named"]
    quiet = _waiting_row("")
    quiet["steps"][5]["silent"] = True
    assert not score_stream(quiet)["questions"][0]["early"]
    assert not score_stream(quiet)["questions"][0]["early_named"]


def test_unclaimed_replies_are_sorted_by_what_was_around_them() -> None:
    """Each false alarm lands in the first context that holds, once; an oracle has none; a row
    without the scene's events gets no breakdown."""
    qs = [{"id": "q1", "time": 3.0, "type": "realtime", "kind": "count", "heldout": False, "target": {}},
          {"id": "q2", "time": 20.0, "type": "proactive", "kind": "proactive", "heldout": False,
           "target": {"colour": "red", "shape": "triangle"}},
          {"id": "q3", "time": 40.0, "type": "multi", "kind": "multi_disappear", "heldout": False,
           "target": {"event": "disappear"}}]
    owed = [{"time": 3.0, "question_id": "q1", "kind": "answer", "facts": {"count": 2}},
            {"time": 20.0, "question_id": "q2", "kind": "ack", "facts": {}},
            {"time": 30.0, "question_id": "q2", "kind": "answer", "facts": {"colour": "red", "shape": "triangle"}},
            {"time": 40.0, "question_id": "q3", "kind": "ack", "facts": {}},
            {"time": 50.0, "question_id": "q3", "kind": "answer",
             "facts": {"event": "disappear", "colour": "blue", "shape": "circle"}}]
    events = [{"time": t, "kind": k} for t, k in ((10.0, "appear"), (25.0, "appear"), (30.0, "appear"),
                                                   (45.0, "appear"), (50.0, "disappear"), (55.0, "disappear"))]
    said = {3: "I see 5 objects.", 10: "A green square appeared.", 15: "A blue circle appeared.",
            20: "Sure.", 25: "A blue square appeared.", 30: "A red triangle appeared.", 40: "Okay.",
            45: "A yellow circle appeared.", 50: "The blue circle disappeared.", 56: "The red square is gone."}
    steps = [{"k": k, "silent": k not in said, "text": said.get(k, "")} for k in range(60)]
    out = score_stream({"questions": qs, "owed": owed, "events": events, "steps": steps})
    assert out["unclaimed"] == 6 and out["stray"] == 5  # the wrong count at 3 is its question's alone
    assert out["unclaimed_by"] == {"question_chunk": 1, "event_asked_kind": 1, "event_other_kind": 1,
                                   "event_proactive_only": 1, "event_nothing_open": 1, "no_event": 1}
    quiet = {k: v for k, v in said.items() if k in (20, 30, 40, 50)} | {3: "I see 2 objects."}
    steps = [{"k": k, "silent": k not in quiet, "text": quiet.get(k, "")} for k in range(60)]
    oracle = score_stream({"questions": qs, "owed": owed, "events": events, "steps": steps})
    assert oracle["unclaimed"] == 0 and sum(oracle["unclaimed_by"].values()) == 0
    assert score_stream({"questions": qs, "owed": owed, "steps": steps})["unclaimed_by"] is None


def test_silent_model_has_no_recall_and_full_silence(tmp_path: Path, rendered: Path) -> None:
    made: list[SilentModel] = []

    def factory() -> SilentModel:
        made.append(SilentModel())
        return made[-1]

    summary = run(tmp_path, factory, "silent", CONFIG.model_copy(update={"workers": 2}), videos=rendered)
    assert len(made) == 2 and all(m.steps > 100 for m in made)  # two workers, one model each, both used
    assert sum(m.steps for m in made) == summary["stream_seconds"]
    m = summary["metrics"]["all"]
    assert m["multi_recall"] == 0.0 and m["multi_precision"] is None
    assert m["silence"] == 100.0 and m["proactive_silent_when_absent"] == 100.0
    assert m["realtime_accuracy"] == 0.0 and m["proactive_on_time"] == 0.0 and m["ack_rate"] == 0.0
    assert summary["meets_target"]["silence"] and not summary["meets_target"]["realtime_accuracy"]


def test_random_talker_breaks_silence(tmp_path: Path, rendered: Path) -> None:
    m = run(tmp_path, RandomTalker, "random", videos=rendered)["metrics"]["all"]
    assert 30.0 < m["silence"] < 70.0 and 20.0 < m["silence_at_events"] < 80.0
    assert m["multi_precision"] < 20.0 and m["realtime_accuracy"] < 50.0


def test_resume_skips_finished_streams_and_retries_failed(tmp_path: Path) -> None:
    made: list[SilentModel] = []

    def factory() -> SilentModel:
        made.append(SilentModel())
        return made[-1]

    small = WorldEvalConfig(streams=2, seconds=(30, 40), height=48)
    assert run_world_eval(small, tmp_path, factory, model_name="s")["done"] == 2
    videos = sorted((tmp_path / "videos").iterdir())
    stamps = [v.stat().st_mtime_ns for v in videos]
    steps = sum(m.steps for m in made)
    with open(tmp_path / RESULTS, "a") as f:
        f.write('{"item_id": "world-2000002", "status": "ok", "ste')  # a run killed mid-append
    more = small.model_copy(update={"streams": 3})
    counts = run_world_eval(more, tmp_path, factory, model_name="s")
    assert counts == {"streams": 3, "skipped": 2, "done": 1, "errors": 0}
    assert [v.stat().st_mtime_ns for v in videos] == stamps  # finished videos were not re-rendered
    third = [r for _, r in iter_jsonl(tmp_path / RESULTS) if r["item_id"] == "world-2000002"]
    assert len(third) == 1 and sum(m.steps for m in made) - steps == len(third[0]["steps"])
    # a failed stream is retried
    rows = [r for _, r in iter_jsonl(tmp_path / RESULTS)]
    rows[0] = {"benchmark": "world", "item_id": rows[0]["item_id"], "status": "error", "error": "boom"}
    (tmp_path / RESULTS).write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert run_world_eval(more, tmp_path, factory, model_name="s")["done"] == 1
    latest = {r["item_id"]: r["status"] for _, r in iter_jsonl(tmp_path / RESULTS)}
    assert latest == {f"world-{2000000 + i}": "ok" for i in range(3)}
    assert run_world_eval(more, tmp_path, factory, model_name="s") == {"streams": 3, "skipped": 3, "done": 0,
                                                                        "errors": 0}
    with pytest.raises(WorldEvalError, match="model='s'"):
        run_world_eval(more, tmp_path, factory, model_name="other")


def test_failing_model_becomes_an_error_row(tmp_path: Path) -> None:
    class Broken(SilentModel):
        def reply(self, chunk, question):  # type: ignore[no-untyped-def]
            if chunk.index == 5:
                raise RuntimeError("kaput")
            return ""

    small = WorldEvalConfig(streams=1, seconds=(30, 30), height=48)
    assert run_world_eval(small, tmp_path, Broken, model_name="b")["errors"] == 1
    summary = write_world_report(tmp_path)
    assert summary["errors"] == [{"stream": "world-2000000", "error": "RuntimeError: kaput"}]
    assert "RuntimeError: kaput" in (tmp_path / "report.md").read_text()


def row(steps: dict[int, str], n: int, questions: list[dict], owed: list[dict]) -> dict:
    return {"steps": [{"k": k, "silent": k not in steps, "text": steps.get(k, "")} for k in range(n)],
            "questions": questions, "owed": owed, "status": "ok"}


def q(id_: str, t: float, type_: str, heldout: bool = False) -> dict:
    return {"id": id_, "time": t, "type": type_, "kind": "k", "heldout": heldout}


def owe(qid: str, t: float, facts: dict | None = None, kind: str = "answer") -> dict:
    return {"question_id": qid, "time": t, "kind": kind, "facts": facts or {}}


def test_windows_and_attribution_at_their_edges() -> None:
    questions = [q("a", 3.4, "realtime"), q("p", 10.2, "proactive"), q("m", 20.0, "multi", heldout=True)]
    owed = [owe("a", 3.4, {"count": 2}), owe("p", 10.2, kind="ack"),
            owe("p", 15.5, {"colour": "red", "shape": "circle"}),
            owe("m", 20.0, kind="ack"), owe("m", 30.5, {"event": "appear", "colour": "blue", "shape": "square"}),
            owe("m", 40.0, {"event": "appear", "colour": "green", "shape": "circle"})]
    # real-time one chunk late; proactive 2 chunks late (in window); first report on time, second 3 late
    said = {4: "There are 2 objects.", 10: "OK.", 17: "A red circle appeared.", 20: "Sure.",
            30: "A blue square appeared.", 43: "A green circle appeared."}
    s = score_stream(row(said, 50, questions, owed))
    rec = {r["id"]: r for r in s["questions"]}
    assert rec["a"]["correct"] is False and rec["a"]["correct_next"] is True
    assert rec["p"]["on_time"] and rec["p"]["delay"] == 2 and not rec["p"]["early"] and rec["p"]["acked"]
    assert rec["m"]["events"] == 2 and rec["m"]["hits"] == 1 and rec["m"]["reports"] == 2  # 43 is a false report
    # due: 3-5, 10-12, 15-17, 20-22, 30-32, 40-42; chunk 4 is due (tolerance), 43 is not
    assert s["free_chunks"] == 50 - 18 and s["free_silent"] == 50 - 18 - 1
    assert s["event_free_chunks"] is None  # the row lists no scene events
    # events at 15.6 (owed: due), 25.5 and 43.2 (free; the model spoke at 43), 49.9 (free, silent)
    events = [{"time": t, "kind": "appear"} for t in (15.6, 25.5, 43.2, 49.9)]
    s = score_stream({**row(said, 50, questions, owed), "events": events})
    assert (s["event_free_chunks"], s["event_free_silent"]) == (3, 2)
    said[12] = "A red circle."  # before the evidence chunk (15): early, and the on-time one still counts
    rec = {r["id"]: r for r in score_stream(row(said, 50, questions, owed))["questions"]}
    assert rec["p"]["early"] and rec["p"]["on_time"]
    said[15] = "A blue circle appeared."  # wrong colour in the evidence chunk: not claimed
    rec = {r["id"]: r for r in score_stream(row(said, 50, questions, owed))["questions"]}
    assert rec["p"]["delay"] == 2


def test_thousands_of_chunks_stay_linear_and_scoreable(tmp_path: Path) -> None:
    """A 1500-s stream: one step record per chunk, each of bounded size; scoring stays exact and quick."""
    from aura.eval.world import ensure_video, plan_stream, run_stream

    config = WorldEvalConfig(streams=1, seconds=(1500, 1500), height=32)
    stream = plan_stream(2000007, config)
    row = run_stream(RandomTalker(seed=1), stream, ensure_video(tmp_path, stream, 32, 2.0))
    assert [s["k"] for s in row["steps"]] == list(range(1500))
    assert max(len(json.dumps(s)) for s in row["steps"]) < 400
    scored = score_stream(row)
    assert scored["chunks"] == 1500 and scored["replies"] == sum(not s["silent"] for s in row["steps"])
    assert 650 < scored["replies"] < 850 and scored["free_chunks"] > 800


def test_interrupt_stops_running_streams_and_drops_queued_ones(tmp_path: Path) -> None:
    class Interrupting(SilentModel):
        def reply(self, chunk, question):  # type: ignore[no-untyped-def]
            if chunk.index == 20:
                raise KeyboardInterrupt
            return ""

    class Slow(SilentModel):
        def reply(self, chunk, question):  # type: ignore[no-untyped-def]
            time.sleep(0.03)  # 60 chunks take > 1.8 s: still running when the other model interrupts
            return ""

    made: list[SilentModel] = []

    def factory() -> SilentModel:
        made.append(Interrupting() if not made else Slow())
        return made[-1]

    config = WorldEvalConfig(streams=4, seconds=(60, 60), height=32, workers=2)
    with pytest.raises(KeyboardInterrupt):
        run_world_eval(config, tmp_path, factory, model_name="x")
    assert not (tmp_path / RESULTS).exists() or not (tmp_path / RESULTS).read_text()  # interrupted is not failed
    assert len(made) == 2 and made[1].steps < 60  # the other running stream stopped early; queued ones never ran
    counts = run_world_eval(config, tmp_path, SilentModel, model_name="x")
    assert counts["done"] == 4 and counts["skipped"] == 0


def test_a_wrong_answer_in_its_question_chunk_costs_that_question_alone() -> None:
    """A reply in a question's own chunk is that question's: wrong, it is a wrong real-time answer,
    not an early proactive answer nor a false report; the same words in a chunk no question was
    asked in are both."""
    questions = [q("p", 2.0, "proactive"), q("m", 4.0, "multi"), q("a", 8.0, "realtime"),
                 q("w", 12.0, "proactive")]
    owed = [owe("p", 2.0, kind="ack"), owe("p", 20.0, {"colour": "red", "shape": "triangle"}),
            owe("m", 4.0, kind="ack"), owe("m", 30.0, {"event": "disappear", "colour": "blue", "shape": "circle"}),
            owe("a", 8.0, {"count": 2}), owe("w", 12.0, kind="ack")]  # w's target never appears
    said = {2: "Sure.", 4: "OK.", 8: "A green square appeared.", 12: "Sure.", 20: "A red triangle appeared.",
            30: "The blue circle disappeared."}
    rec = {r["id"]: r for r in score_stream(row(said, 40, questions, owed))["questions"]}
    assert rec["a"]["correct"] is False
    assert rec["p"]["on_time"] and not rec["p"]["early"]
    assert rec["m"]["hits"] == 1 and rec["m"]["reports"] == 1
    assert rec["w"]["silent_ok"]
    said[9] = said.pop(8)  # the same reply one chunk later, where nobody asked anything
    rec = {r["id"]: r for r in score_stream(row(said, 40, questions, owed))["questions"]}
    assert rec["a"]["correct"] is False
    assert rec["p"]["on_time"] and rec["p"]["early"]
    assert rec["m"]["hits"] == 1 and rec["m"]["reports"] == 2
    said[35] = "A yellow circle appeared."  # after w was asked: w was owed silence
    rec = {r["id"]: r for r in score_stream(row(said, 40, questions, owed))["questions"]}
    assert not rec["w"]["silent_ok"]


def test_multi_response_reports_are_broken_down_by_kind() -> None:
    from aura.eval.world_metrics import aggregate

    questions = [{**q("d", 2.0, "multi"), "kind": "multi_disappear"},
                 {**q("c", 30.0, "multi", heldout=True), "kind": "multi_colour"}]
    owed = [owe("d", 2.0, kind="ack"), owe("d", 10.0, {"event": "disappear", "colour": "red", "shape": "circle"}),
            owe("d", 20.0, {"event": "disappear", "colour": "blue", "shape": "square"}),
            owe("c", 30.0, kind="ack"), owe("c", 40.0, {"event": "colour", "colour": "green", "shape": "circle"})]
    # the disappearance at 10 is reported, the one at 20 missed; a false report at 15 (only "d" open);
    # the colour change at 40 is missed and a false report at 45 goes to "c", the latest asked
    said = {2: "Sure.", 10: "The red circle disappeared.", 15: "A green square appeared.", 30: "OK.",
            45: "A red circle appeared."}
    scored = [score_stream(row(said, 50, questions, owed))]
    by = aggregate(scored)["multi_by_kind"]
    assert by["multi_disappear"] == {"questions": 1, "events": 2, "recall": 50.0, "precision": 50.0}
    assert by["multi_colour"] == {"questions": 1, "events": 1, "recall": 0.0, "precision": 0.0}
    assert list(aggregate(scored, "heldout")["multi_by_kind"]) == ["multi_colour"]
    assert list(aggregate(scored, "train")["multi_by_kind"]) == ["multi_disappear"]


def test_real_time_answers_are_broken_down_by_wording() -> None:
    from aura.eval.world_metrics import aggregate

    def asked(id_: str, t: float, kind: str, text: str, heldout: bool) -> dict:
        return {"id": id_, "time": t, "type": "realtime", "kind": kind, "text": text, "heldout": heldout}

    questions = [asked("a", 2.0, "count", "What is the number of objects?", True),
                 asked("b", 5.0, "count", "What is the number of objects?", True),
                 asked("c", 8.0, "count", "How many objects are there?", False),
                 asked("d", 11.0, "shape_of_colour", "Name the shape of the red thing.", True)]
    owed = [owe("a", 2.0, {"count": 2}), owe("b", 5.0, {"count": 3}), owe("c", 8.0, {"count": 1}),
            owe("d", 11.0, {"colour": "red", "shape": "square"})]
    said = {2: "The red circle.", 5: "The blue square.", 8: "There is 1 object."}  # silent at 11
    by = aggregate([score_stream(row(said, 14, questions, owed))])["by_wording"]
    held = by["realtime:count"]["What is the number of objects?"]
    assert held == {"n": 2, "heldout": True, "accuracy": 0.0, "wrong_reply": "The {colour} {shape}.",
                    "wrong_reply_n": 2}
    assert by["realtime:count"]["How many objects are there?"]["accuracy"] == 100.0
    assert by["realtime:count"]["How many objects are there?"]["wrong_reply"] is None
    assert by["realtime:shape_of_colour"]["Name the shape of the {colour} thing."]["wrong_reply"] == "(silent)"


def test_acknowledgements_are_worded_only_when_one_of_the_worlds_is_said_whole() -> None:
    """Any reply in the question's chunk acknowledges it; only a world wording, word for word and
    naming the question's own target, is worded: a blend of two wordings or a cut one is not."""
    from aura.eval.world_metrics import aggregate

    target = {"colour": "red", "shape": "square"}
    questions = [{**q("p", 2.0, "proactive"), "target": target}, q("m", 6.0, "multi")]
    owed = [owe("p", 2.0, kind="ack"), owe("m", 6.0, kind="ack")]

    def acks(proactive: str, multi: str) -> tuple[bool, bool, float]:
        scored = score_stream(row({2: proactive, 6: multi}, 10, questions, owed))
        rec = {r["id"]: r for r in scored["questions"]}
        assert rec["p"]["acked"] and rec["m"]["acked"]
        return rec["p"]["ack_worded"], rec["m"]["ack_worded"], aggregate([scored], "all")["ack_worded"]

    assert acks("Will do, I'll tell you as soon as a red square appears.", "Got it, I'll keep you posted.") \
        == (True, True, 100.0)
    assert acks("Will do, I'll tell", "Got it, I'll tell you posted.") == (False, False, 0.0)
    assert acks("Will do, I'll tell you as soon as a blue square appears.", " OK, I'll report every one. ") \
        == (False, True, 50.0)  # the wrong target; surrounding spaces do not matter
    assert acks("OK, I'll report every one.", "Sure, I'll tell you when I see it.") == (False, False, 0.0)
