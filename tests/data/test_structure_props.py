"""Property test: whatever QAs the model stages produce, structuring never breaks the stream rules."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from aura.data.config import StructureConfig
from aura.data.schemas import QA, Answer, SegmentQAs, SegmentRecord
from aura.data.stages.structure import build_timeline, playable, structure_segment
from aura.stream import ContextConfig, unroll
from aura.stream.timeline import chunk_of

DURATION = 40.0
CONFIG = ContextConfig(window_chunks=6, float_chunks=3, history_groups=2)


@st.composite
def qas(draw: st.DrawFn) -> list[QA]:
    out = []
    for i in range(draw(st.integers(0, 14))):
        kind = draw(st.sampled_from(["realtime", "proactive", "multi"]))
        t = draw(st.floats(0, DURATION + 3, allow_nan=False).map(lambda x: round(x, 1)))
        if kind == "realtime":
            answers = [Answer(text=f"a{i}", time=t)]
        else:
            n = 1 if kind == "proactive" else draw(st.integers(2, 5))
            gaps = draw(st.lists(st.floats(1.0, 9.0).map(lambda x: round(x, 1)), min_size=n, max_size=n))
            times, cur = [], t
            for g in gaps:
                cur = round(cur + g, 1)
                times.append(cur)
            answers = [Answer(text=f"a{i}.{j}", time=x) for j, x in enumerate(times)]
        out.append(QA(id=f"q{i}", type=kind, question=f"question {i}?", question_time=t, answers=answers,
                      ack=None if kind == "realtime" else "OK."))
    return out


def _seg(items: list[QA]) -> SegmentQAs:
    rec = SegmentRecord(id="p-1_s000", source_id="p-1", index=0, path="v.mp4", start=0, end=DURATION,
                        duration=DURATION, fps=2, frames=80, width=64, height=64, codec="h264", sha256="0", bytes=1)
    return SegmentQAs(id=rec.id, segment=rec, qas=items)


@settings(max_examples=150, deadline=None)
@given(qas())
def test_structured_timelines_always_unroll(items: list[QA]) -> None:
    seg = _seg(items)
    timeline, dropped = build_timeline(seg, CONFIG)
    chunks = [chunk_of(r.time, CONFIG) for r in timeline.responses]
    assert len(chunks) == len(set(chunks))  # one reply per chunk
    assert all(k < DURATION for k in chunks)
    kept = {q.id for q in timeline.questions}
    fully_dropped = {d["qa"] for d in dropped if "answer(s) clash" not in d["reason"]}
    assert kept | fully_dropped == {q.id for q in items} and not kept & fully_dropped
    for q in items:
        if q.id in kept:  # every kept QA keeps its question time, its ack and >= its needed answers
            replies = [r for r in timeline.responses if r.question_id == q.id]
            assert sum(r.kind == "ack" for r in replies) == (q.type != "realtime")
            assert sum(r.kind == "answer" for r in replies) >= (2 if q.type == "multi" else 1)
    final, unplayable = playable(timeline, CONFIG)
    assert len(final.responses) + sum(1 for d in unplayable if d["reason"].startswith("1 answer")) <= \
        len(timeline.responses)
    samples = list(unroll(final, CONFIG))  # the stream context accepts it
    assert len(samples) == len(final.responses)
    for q in final.questions:  # nothing left asked-but-never-answered
        assert any(r.question_id == q.id and r.kind == "answer" for r in final.responses)
    row = structure_segment(seg, StructureConfig(context=CONFIG))
    assert set(row["mix"]) == {s.id for s in samples}
    assert row["timeline"] == final.model_dump(mode="json")
