"""Stage-1 (look) samples: every answer is the world's truth about the chunk it shows, and every
watch sample speaks exactly at the chunk that first shows what was asked for."""

from __future__ import annotations

import math
from typing import Any

from aura.models.nano.curriculum import (
    CHANGE_QUESTION,
    DESCRIBE_QUESTION,
    NOTHING_CHANGED,
    SILENT,
    acknowledgement_sample,
    describe_objects,
    look_samples,
    unasked_samples,
    watch_samples,
)
from aura.train.labels import check_messages
from aura.world import make_stream
from aura.world.answers import extract
from aura.world.phrasing import QUESTIONS
from aura.world.questions import matches
from aura.world.scene import ObjectState


def _question(sample: dict[str, Any]) -> str:
    return sample["messages"][-2]["content"][-1]["text"]


def _chunks(sample: dict[str, Any]) -> list[int]:
    return [p["chunk"] for m in sample["messages"] if m["role"] == "user" and not isinstance(m["content"], str)
            for p in m["content"] if p["type"] == "video"]


def test_look_samples_state_the_truth_of_their_chunk() -> None:
    stream = make_stream(17, duration=120.0)
    scene = stream.scene
    samples = look_samples(stream, "world-17.mp4")
    kinds = {s["kind"] for s in samples}
    assert kinds == {"look", "describe", "change", "watch"}
    for s in samples:
        check_messages(s)  # a valid training sample: ends with a non-silent assistant reply
        answer = s["messages"][-1]["content"]
        chunks = _chunks(s)
        if s["kind"] == "describe":
            assert _question(s) == DESCRIBE_QUESTION and len(chunks) == 1
            k = chunks[0]
            state = scene.state(k + 0.5)
            assert state == scene.state(k)  # nothing changes inside a described chunk
            got = extract(answer)
            assert sorted(zip(got["colours"], got["shapes"], strict=True)) == sorted(
                (o.colour, o.shape) for o in state)
        elif s["kind"] == "change":
            assert _question(s) == CHANGE_QUESTION and len(chunks) == 2 and chunks[1] == chunks[0] + 1
            events = [e for e in scene.events if math.floor(e.sample_time) == chunks[1]]
            if not events:
                assert answer == NOTHING_CHANGED
                assert not scene.events_between(chunks[0], chunks[1] + 0.5)
            else:
                got = extract(answer)
                assert set(got["colours"]) == {c for e in events for c in (e.colour, e.old_colour) if c}
                assert set(got["shapes"]) == {e.shape for e in events}
        elif s["kind"] == "look":
            assert len(chunks) == 1
            assert not scene.events_between(chunks[0] - 1.0, chunks[0] + 1.0)


def test_look_samples_are_deterministic_and_cover_every_event() -> None:
    stream = make_stream(23, duration=90.0)
    a = look_samples(stream, "v.mp4")
    assert a == look_samples(stream, "v.mp4")
    assert a != look_samples(stream, "v.mp4", seed=1)
    changed = {_chunks(s)[1] for s in a if s["kind"] == "change"}
    assert {math.floor(e.sample_time) for e in stream.scene.events if e.sample_time >= 1.0} <= changed


def test_describe_orders_objects_by_colour_then_shape() -> None:
    state = [ObjectState(id=1, shape="square", colour="blue"), ObjectState(id=2, shape="circle", colour="red"),
             ObjectState(id=3, shape="triangle", colour="red")]
    assert describe_objects(state) == "A red circle, a red triangle and a blue square."
    assert describe_objects(state[:1]) == "A blue square."
    assert describe_objects([]) == "Nothing."


def _multi_kind(question: str) -> str | None:
    for kind in ("appear", "disappear", "colour"):
        if any(question == t for t, _ in QUESTIONS[f"multi_{kind}"]):
            return kind
    return None


def test_watch_samples_speak_exactly_when_the_evidence_first_shows() -> None:
    import numpy as np

    spoke = silent_at_decision = 0
    for seed in (5, 31):
        stream = make_stream(seed, duration=150.0)
        scene = stream.scene
        samples = watch_samples(stream, "v.mp4", np.random.default_rng(seed))
        assert len({s["id"] for s in samples}) == len(samples)
        for s in samples:
            check_messages(s)
            msgs = s["messages"]
            question = msgs[0]["content"][-1]["text"]
            turns = [(_chunks({"messages": [u]})[0], a["content"]) for u, a in zip(msgs[::2], msgs[1::2], strict=True)]
            kind = _multi_kind(question)
            target = extract(question)
            # after the acknowledgement: silent turns, then one decision (reply or silence); a silent
            # decision is followed by a real-time question on the next chunk (samples end at a reply)
            anchored = len(msgs[-2]["content"]) > 1
            decision = len(turns) - (2 if anchored else 1)
            assert anchored == (turns[decision][1] == SILENT)
            for i, (k, text) in enumerate(turns[1:], start=1):
                if i > decision:
                    break
                seen = scene.state(float(k)) + scene.state(k + 0.5)
                if kind is None:  # proactive: the reply comes exactly when the target first shows
                    hit = [o for o in seen if matches({key[:-1]: v[0] for key, v in target.items() if v}, o.colour,
                                                      o.shape)]
                    assert (text != SILENT) == bool(hit), (s["id"], k, text)
                else:  # multi-response: a report exactly at the chunks that show an event of its kind
                    events = [e for e in scene.events if e.kind == kind and math.floor(e.sample_time) == k]
                    assert (text != SILENT) == bool(events), (s["id"], k, text)
                    if events:
                        got = extract(text)
                        assert set(got["shapes"]) == {e.shape for e in events}
                if i == decision:
                    spoke += text != SILENT
                    silent_at_decision += text == SILENT
    assert spoke > 20 and silent_at_decision > 20  # both decisions are taught


def test_more_proactive_targets_add_near_misses_and_keep_the_default_draw() -> None:
    import numpy as np

    stream = make_stream(5, duration=150.0)
    scene = stream.scene
    one = watch_samples(stream, "v.mp4", np.random.default_rng(3))
    assert one == watch_samples(stream, "v.mp4", np.random.default_rng(3), proactive_targets=1)
    four = watch_samples(stream, "v.mp4", np.random.default_rng(3), proactive_targets=4)
    tags = {t: sum(s["watch"] == t for s in four) for t in ("proactive-answer", "proactive-absent")}
    assert tags["proactive-absent"] > 2 * sum(s["watch"] == "proactive-absent" for s in one)
    assert tags["proactive-answer"] > sum(s["watch"] == "proactive-answer" for s in one)
    near = 0
    for s in four:
        if s["watch"] != "proactive-absent":
            continue
        msgs = s["messages"]
        target = extract(msgs[0]["content"][-1]["text"])
        want = {key[:-1]: v[0] for key, v in target.items() if v}
        k = _chunks(s)[-2]  # the decision chunk (a real-time question follows it)
        shown = scene.state(float(k)) + scene.state(k + 0.5)
        assert not any(matches(want, o.colour, o.shape) for o in shown)  # the target is not there
        near += any(want.get("colour") == o.colour or want.get("shape") == o.shape for o in shown)
    assert near >= tags["proactive-absent"] // 3  # many share a colour or a shape with what is there


def test_other_share_sets_how_many_other_kind_silences_are_asked() -> None:
    import numpy as np

    stream = make_stream(5, duration=150.0)
    count = {}
    for share in (0.0, 0.5, 1.0):
        samples = watch_samples(stream, "v.mp4", np.random.default_rng(3), max_gap=8, other_share=share)
        count[share] = {t: sum(s["watch"] == t for s in samples) for t in ("multi-report", "multi-other")}
        for s in samples:
            if s["watch"] == "multi-other":  # the decision is silent and no event of the asked kind is there
                kind = _multi_kind(s["messages"][0]["content"][-1]["text"])
                k = _chunks(s)[-2]
                assert not [e for e in stream.scene.events if e.kind == kind and math.floor(e.sample_time) == k]
    assert count[0.0]["multi-other"] == 0
    assert 0 < count[0.5]["multi-other"] < count[1.0]["multi-other"]
    assert count[1.0]["multi-other"] > 1.5 * count[0.5]["multi-other"]
    # the reports of the kind that happened are asked whatever the share
    assert min(c["multi-report"] for c in count.values()) > 0


def test_watch_questions_asked_further_back_or_in_the_history() -> None:
    import numpy as np

    stream = make_stream(5, duration=150.0)
    near = watch_samples(stream, "v.mp4", np.random.default_rng(3))
    far = watch_samples(stream, "v.mp4", np.random.default_rng(3), max_gap=8)
    gaps = [_chunks(s)[-1 if s["watch"] not in ("proactive-absent", "multi-other", "quiet") else -2] - _chunks(s)[0]
            for s in far]
    assert max(gaps) > 3 and min(gaps) >= 1 and max(gaps) <= 8
    assert max(_chunks(s)[-1] - _chunks(s)[0] for s in near) <= 4  # up to 3, and a follow-up chunk
    moved = watch_samples(stream, "v.mp4", np.random.default_rng(3), max_gap=8, history_share=0.5)
    assert [s["id"] for s in moved] == [s["id"] for s in far]
    n_moved = n_asked = n_answered = 0
    for before, after in zip(far, moved, strict=True):
        check_messages(after)
        if not after.get("history"):
            assert after == before  # the others are unchanged
            continue
        n_moved += 1
        question = before["messages"][0]["content"][-1]["text"]
        texts = [m["content"] for m in after["messages"] if m["role"] == "user" and isinstance(m["content"], str)]
        n_answered += "" in texts  # an answered proactive group: (question, ack, "", answer)
        assert after["messages"][-1] == before["messages"][-1]  # the same decision or follow-up
        if texts[-1] == question:  # the pending question is the last history group's
            n_asked += 1
            assert _chunks(after) == _chunks(before)[1:]  # its chunk has left the window
            assert after["messages"][len(texts) * 2 - 1] == before["messages"][1]  # its acknowledgement
        else:
            assert after["messages"][-len(before["messages"]):] == before["messages"]  # history, then the sample
    assert 0.3 * len(far) < n_moved < 0.7 * len(far)
    assert 0.25 * n_moved < n_asked < 0.75 * n_moved and n_answered > 0


def test_unasked_samples_are_silent_at_events_no_open_question_asks_about() -> None:
    import numpy as np

    stream = make_stream(5, duration=150.0)
    scene = stream.scene
    samples = unasked_samples(stream, "v.mp4", np.random.default_rng(3), per_event=2, max_gap=8)
    event_chunks = {math.floor(e.sample_time) for e in scene.events if 1 <= e.sample_time < math.floor(scene.duration)}
    assert len(event_chunks) < len(samples) <= 2 * len(event_chunks)
    assert len({s["id"] for s in samples}) == len(samples)
    prefixes = tuple(t.split("{target}")[0] for t, _ in QUESTIONS["proactive"])
    with_history = answered = 0
    for s in samples:
        check_messages(s)
        assert s["watch"] == "unasked" and s["kind"] == "watch"
        msgs = s["messages"]
        chunks = _chunks(s)
        k = chunks[-2]  # the decision; a real-time question about the next chunk follows it
        assert chunks[-1] == k + 1 and 1 <= k - chunks[0] <= 8
        assert any(math.floor(e.sample_time) == k for e in scene.events)  # something happened there
        window = [i for i, m in enumerate(msgs) if m["role"] == "user" and not isinstance(m["content"], str)]
        decision = msgs[window[-2] + 1]
        assert decision["content"] == SILENT
        assert all(msgs[i + 1]["content"] == SILENT for i in window[1:-1])  # nothing said in between
        asked = [p["text"] for i in window for p in msgs[i]["content"] if p["type"] == "text"]
        assert all(_multi_kind(q) is None and not q.startswith(prefixes) for q in asked)  # real-time ones only
        history = msgs[: window[0]]
        with_history += bool(history)
        texts = [m["content"] for m in history]
        for i, t in enumerate(texts):  # a proactive question in the history was answered: it asks nothing more
            assert _multi_kind(t) is None
            if t.startswith(prefixes):
                assert texts[i + 2] == "" and texts[i + 3] != ""
                answered += 1
    assert 0.5 * len(samples) < with_history < len(samples) and answered > 0
    plain = look_samples(stream, "v.mp4", proactive_targets=4, watch_gap=8, watch_history=0.5)
    more = look_samples(stream, "v.mp4", proactive_targets=4, watch_gap=8, watch_history=0.5, unasked=2)
    assert more[: len(plain)] == plain  # the other samples stay the same
    assert [s["watch"] for s in more[len(plain):]] == ["unasked"] * (len(more) - len(plain)) and len(more) > len(plain)


def test_acknowledgement_samples_make_the_acknowledgement_the_target() -> None:
    """A watch sample cut after its acknowledgement trains that acknowledgement (the loss trains a
    sample's last reply only: in the whole sample it is context); one whose question is only in
    the text history has none to cut."""
    import numpy as np

    from aura.models.nano.checkpoint import bundled_checkpoint, load_tokenizer
    from aura.models.nano.training import nano_chat_format
    from aura.train.labels import TokenKind, encode_sample
    from aura.world.phrasing import ACKS

    fmt = nano_chat_format(load_tokenizer(bundled_checkpoint()))
    acks = {a.split("{")[0] for kind in ACKS.values() for a in kind}
    stream = make_stream(5, duration=150.0)
    samples = watch_samples(stream, "v.mp4", np.random.default_rng(5))
    cut = [(s, acknowledgement_sample(s)) for s in samples]
    assert sum(c is not None for _, c in cut) > len(samples) // 2
    for whole, c in cut:
        if c is None:
            continue
        check_messages(c)
        last = c["messages"][-1]
        assert last["role"] == "assistant" and any(last["content"].startswith(a) for a in acks)
        assert c["messages"] == whole["messages"][: len(c["messages"])] and c["id"] == whole["id"] + "@ack"
        grid = lambda part: (1, 2, 2)  # noqa: E731
        ack_ids = fmt.tokenizer.encode(last["content"], add_special_tokens=False)
        trained = encode_sample(c, fmt, grid)
        assert trained.input_ids[trained.kinds == int(TokenKind.TARGET)].tolist()[: len(ack_ids)] == ack_ids
        context = encode_sample(whole, fmt, grid)  # in the whole sample the acknowledgement is not trained
        assert context.input_ids[context.kinds == int(TokenKind.TARGET)].tolist()[: len(ack_ids)] != ack_ids
    history = {"id": "h", "messages": [
        {"role": "user", "content": "Tell me when a red circle appears."},
        {"role": "assistant", "content": "Sure, I'll tell you when I see it."},
        {"role": "user", "content": [{"type": "video", "chunk": 3}]},
        {"role": "assistant", "content": "There is a red circle now."}]}
    assert acknowledgement_sample(history) is None
