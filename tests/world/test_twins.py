import math

from aura.stream import ContextConfig
from aura.world import make_stream, split_seeds
from aura.world.questions import matches
from aura.world.twins import question_twins

CONFIG = ContextConfig(window_chunks=8, float_chunks=4, history_groups=10)


def _streams():
    return [make_stream(seed, duration=180.0, config=CONFIG, plan=plan)
            for seed in split_seeds("train", 4) for plan in (1, 2)]


def _chunk(t: float) -> int:
    return math.floor(t + 1e-9)


def test_a_twin_changes_one_question_and_owes_it_exactly_what_that_question_is_owed():
    made = {"proactive": 0, "multi": 0}
    for stream in _streams():
        for qid, twin in question_twins(stream, CONFIG, seed=0):
            before = {q.id: q for q in stream.questions}
            after = {q.id: q for q in twin.questions}
            assert twin.scene == stream.scene and twin.style == stream.style
            assert list(before) == list(after)
            q, t = before[qid], after[qid]
            assert (t.time, t.type) == (q.time, q.type) and t.type in ("proactive", "multi")
            assert t.target != q.target if t.type == "proactive" else t.kind != q.kind
            assert all(after[i] == before[i] for i in before if i != qid)
            made[t.type] += 1
            # at most one reply per chunk, the other questions' replies kept unless forgotten
            chunks = [_chunk(r.time) for r in twin.responses]
            assert len(chunks) == len(set(chunks))
            theirs = {(r.time, r.text, r.question_id) for r in stream.responses if r.question_id != qid}
            assert {(r.time, r.text, r.question_id) for r in twin.responses if r.question_id != qid} <= theirs
            owed = [r for r in twin.responses if r.question_id == qid]
            assert owed[0].kind == "ack" and owed[0].time == t.time
            scene = stream.scene
            if t.type == "multi":
                kind = t.kind.removeprefix("multi_")
                due = {e.sample_time for e in scene.events if e.kind == kind and e.time > _chunk(t.time) + 0.5}
                assert owed[1:] and all(r.time in due and r.facts["event"] == kind for r in owed[1:])
            else:
                assert not any(matches(t.target, o.colour, o.shape)
                               for o in scene.state(_chunk(t.time)) + scene.state(_chunk(t.time) + 0.5))
                first = next((e for e in scene.events if e.time > _chunk(t.time) + 0.5
                              and any(matches(t.target, o.colour, o.shape) for o in scene.state(e.sample_time))), None)
                for r in owed[1:]:
                    assert first is not None and r.time == first.sample_time
                    assert matches(t.target, r.facts["colour"], r.facts["shape"])
    assert made["proactive"] > 0 and made["multi"] > 0


def test_twins_are_deterministic_and_leave_the_stream_alone():
    stream = _streams()[0]
    copy = stream.model_copy(deep=True)
    one = list(question_twins(stream, CONFIG, seed=3))
    assert one and one == list(question_twins(stream, CONFIG, seed=3))
    assert stream == copy


def test_twins_of_one_type_only():
    stream = _streams()[1]
    every = [qid for qid, _ in question_twins(stream, CONFIG, seed=0)]
    types = {q.id: q.type for q in stream.questions}
    assert {types[q] for q in every} == {"proactive", "multi"}
    for kind in ("proactive", "multi"):
        assert [qid for qid, _ in question_twins(stream, CONFIG, seed=0, types=(kind,))] == [
            q for q in every if types[q] == kind]
