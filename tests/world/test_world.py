import itertools
import math
import time

import numpy as np
import pytest

from aura.errors import ConfigError
from aura.stream import ContextConfig, unroll
from aura.video import iter_frames, probe
from aura.world import (
    Renderer,
    generate_scene,
    make_stream,
    render_video,
    sample_style,
    simulate,
    split_of,
    split_seeds,
)
from aura.world.phrasing import QUESTIONS
from aura.world.vocab import MAX_OBJECTS, MAX_SIZE, MIN_SIZE, bounding_radius, half_extents
from tests.world.pixels import objects_in


def test_same_seed_same_stream_and_pixels():
    a, b = make_stream(7, duration=60), make_stream(7, duration=60)
    assert a.model_dump() == b.model_dump()
    assert np.array_equal(Renderer(a.scene, 96, a.style).frame(12.3), Renderer(b.scene, 96, b.style).frame(12.3))
    c = make_stream(8, duration=60)
    assert c.model_dump() != a.model_dump()


def test_splits_are_disjoint():
    train, val, test = (set(split_seeds(s, 1000)) for s in ("train", "val", "test"))
    assert not (train & val or train & test or val & test)
    assert {split_of(s) for s in train} == {"train"} and {split_of(s) for s in test} == {"test"}
    assert make_stream(split_seeds("test", 1)[0], duration=30).split == "test"
    with pytest.raises(ConfigError):
        split_seeds("dev", 3)


def test_scene_rules_hold():
    for seed in range(40):
        scene = generate_scene(seed, 240.0)
        times = [e.time for e in scene.events]
        assert all(b - a >= 2.5 - 1e-9 for a, b in itertools.pairwise(times))
        assert all(abs((t * 2) % 1 - 0.5) < 1e-9 for t in times)  # midway between 2 FPS instants
        for o in scene.objects:
            assert MIN_SIZE <= o.size <= MAX_SIZE
        for t in np.arange(0, 240, 0.5):
            assert len(scene.state(t)) <= MAX_OBJECTS


def test_objects_never_overlap_nor_leave_the_frame():
    for seed in range(25):
        scene = generate_scene(seed, 180.0)
        pos = simulate(scene).positions
        r = [bounding_radius(o.shape, o.size) for o in scene.objects]
        for o in scene.objects:
            hw, hh = half_extents(o.shape, o.size)
            xs, ys = pos[:, o.id, 0], pos[:, o.id, 1]
            ok = np.isfinite(xs)
            assert (xs[ok] >= hw - 1e-6).all() and (xs[ok] <= scene.width - hw + 1e-6).all()
            assert (ys[ok] >= hh - 1e-6).all() and (ys[ok] <= 1 - hh + 1e-6).all()
        for i in range(len(r)):
            for j in range(i + 1, len(r)):
                gap = np.hypot(*(pos[:, i] - pos[:, j]).T) - r[i] - r[j]
                assert not (gap[np.isfinite(gap)] < 0).any()


def test_rendered_frames_show_the_scene_state():
    for seed in range(12):
        s = make_stream(seed, duration=60)
        r = Renderer(s.scene, 160, s.style)
        for t in (0.0, 14.5, 31.0, 52.5):
            want = sorted((o.colour, o.shape) for o in s.scene.state(t))
            assert objects_in(r.frame(t)) == want, (seed, t)


def _check_response(q, resp, frames, *, shapes=True):
    """Check one reply against what the frames show: ``frames`` maps a time to its objects.

    With ``shapes=False`` (frames decoded from H.264, where a classifier by pixels cannot tell
    small compressed shapes apart) only colours and counts are compared.
    """
    facts = dict(resp.facts)
    if resp.kind == "ack":
        return

    def view(objs):
        return sorted(o if shapes else (o[0], "?") for o in objs)

    def shape(s):
        return s if shapes else "?"

    now = view(frames(resp.evidence_time))
    before = view(frames(resp.evidence_time - 0.5))
    target = {k: (shape(v) if k == "shape" else v) for k, v in q.target.items()}
    if q.type == "realtime":
        if "count" in facts:
            assert len(now) == facts["count"]
        elif "yes" in facts and shapes:
            assert ((target["colour"], target["shape"]) in now) == facts["yes"]
        elif "colour" in facts and shapes:
            assert [c for c, s in now if s == target["shape"]] == [facts["colour"]]
        elif "shape" in facts:
            assert [s for c, s in now if c == target["colour"]] == [shape(facts["shape"])]
        assert before == now  # the state holds for the whole chunk
    elif q.type == "proactive":

        def hit(objs):
            return any(target.get("colour", c) == c and target.get("shape", s) == s for c, s in objs)

        assert hit(now) and (facts["colour"], shape(facts["shape"])) in now
        if shapes or "shape" not in q.target:
            assert not hit(before)  # nothing to report one sample earlier
    elif q.type == "multi":
        obj = (facts["colour"], shape(facts["shape"]))
        if facts["event"] == "appear":
            assert now.count(obj) == before.count(obj) + 1
        elif facts["event"] == "disappear":
            assert now.count(obj) == before.count(obj) - 1
        else:
            old = (facts["old_colour"], shape(facts["shape"]))
            assert now.count(obj) == before.count(obj) + 1 and now.count(old) == before.count(old) - 1


def test_ground_truth_matches_rendered_pixels():
    checked = 0
    for seed in range(6):
        stream = make_stream(seed, duration=120)
        renderer = Renderer(stream.scene, 160, stream.style)
        qs = {q.id: q for q in stream.questions}
        for resp in stream.responses:
            _check_response(qs[resp.question_id], resp, lambda t, r=renderer: objects_in(r.frame(t)))
            checked += resp.kind == "answer"
    assert checked >= 40


@pytest.mark.parametrize(("seed", "fps"), [(1, 2.0), (2, 2.0), (4, 25.0), (5, 30000 / 1001)])
def test_ground_truth_matches_decoded_h264(tmp_path, seed, fps):
    stream = make_stream(seed, duration=60)
    path = render_video(stream.scene, tmp_path / "v.mp4", fps=fps, height=128, style=stream.style)
    decoded = dict(iter_frames(path, 2.0))
    qs = {q.id: q for q in stream.questions}
    for resp in stream.responses:
        _check_response(qs[resp.question_id], resp, lambda t: objects_in(decoded[t]), shapes=False)
    for t, frame in decoded.items():
        assert sorted(c for c, _ in objects_in(frame)) == sorted(o.colour for o in stream.scene.state(t))


def test_questions_cover_all_types_and_replies_fit_the_stream_rules():
    kinds, types = set(), set()
    config = ContextConfig()
    for seed in range(40):
        s = make_stream(seed, duration=300)
        types |= {q.type for q in s.questions}
        kinds |= {q.kind for q in s.questions}
        chunks = [math.floor(r.time + 1e-9) for r in s.responses]
        assert len(chunks) == len(set(chunks))  # one reply per chunk
        asked = {q.id: q for q in s.questions}
        for r in s.responses:
            q = asked[r.question_id]
            assert r.time >= q.time - 1e-9
            if r.kind == "answer" and q.type in ("realtime", "backward"):
                assert math.floor(r.time) == math.floor(q.time)
            if q.type in ("proactive", "multi") and r.kind == "answer":
                assert math.floor(r.time) > math.floor(q.time)
                assert r.evidence_time == r.time
        samples = list(unroll(s.to_timeline(f"{s.id}.mp4"), config))
        assert len(samples) == len(s.responses)
    assert types == {"realtime", "proactive", "multi", "backward"}
    assert kinds == set(QUESTIONS)


def test_long_streams_unroll_and_drop_replies_to_forgotten_questions():
    s = make_stream(21, duration=600)
    samples = list(unroll(s.to_timeline(), ContextConfig()))
    assert len(samples) == len(s.responses) > 20
    small = make_stream(21, duration=600, config=ContextConfig(history_groups=1))
    assert len(small.responses) < len(s.responses)
    list(unroll(small.to_timeline(), ContextConfig(history_groups=1)))


def test_another_question_plan_keeps_the_scene_and_asks_other_questions():
    base = make_stream(8, duration=180)
    assert make_stream(8, duration=180, plan=0) == base
    other = make_stream(8, duration=180, plan=1)
    assert other.scene == base.scene and other.style == base.style and other.id == base.id
    assert [q.text for q in other.questions] != [q.text for q in base.questions]
    assert make_stream(8, duration=180, plan=1) == other  # seeded
    chunks = [math.floor(r.time + 1e-9) for r in other.responses]
    assert len(chunks) == len(set(chunks)) and other.responses  # the same stream rules hold
    with pytest.raises(ConfigError, match="plan"):
        make_stream(8, duration=180, plan=-1)


def _asked_events(stream) -> dict[str, int]:
    types = {q.id: q.type for q in stream.questions}
    counts = {"proactive": 0, "multi": 0}
    for r in stream.responses:
        if r.kind == "answer" and types[r.question_id] in counts:
            counts[types[r.question_id]] += 1
    return counts


def test_denser_question_plans_ask_about_more_events_and_keep_the_stream_rules():
    heavy = {"realtime": 0.1, "proactive": 0.6, "multi": 0.2, "backward": 0.1}
    config = ContextConfig(window_chunks=8, float_chunks=4, history_groups=10)
    base = dense = {"proactive": 0, "multi": 0}
    reasked = 0
    for seed in range(6):
        plain = make_stream(seed, duration=240, config=config)
        assert make_stream(seed, duration=240, config=config, density=1.0, type_weights=None) == plain
        many = make_stream(seed, duration=240, config=config, density=3.0, type_weights=heavy)
        assert many.scene == plain.scene and many.style == plain.style
        chunks = [math.floor(r.time + 1e-9) for r in many.responses]
        assert len(chunks) == len(set(chunks))  # still at most one reply per chunk
        base = {k: base[k] + v for k, v in _asked_events(plain).items()}
        dense = {k: dense[k] + v for k, v in _asked_events(many).items()}
        # every owed reply is still owed to a question the context has not forgotten
        replay = [s for s in unroll(many.to_timeline(), config) if s.messages[-1]["content"] != "<|silent|>"]
        assert len(replay) == len(many.responses)
        by_kind: dict[str, list] = {}
        for q in many.questions:
            if q.type == "multi":
                by_kind.setdefault(q.kind, []).append(q)
        for asked in by_kind.values():
            reasked += len(asked) - 1
            for older, newer in itertools.pairwise(asked):  # the newer question takes over the reports
                assert not [r for r in many.responses if r.question_id == older.id and r.time > newer.time]
    assert dense["proactive"] >= 2 * base["proactive"] and dense["multi"] > base["multi"]
    assert reasked > 0
    with pytest.raises(ConfigError, match="density"):
        make_stream(8, duration=60, density=0.5)
    with pytest.raises(ConfigError, match="weight"):
        make_stream(8, duration=60, type_weights={"realtime": 1.0})


def test_heldout_phrasings_stay_out_of_training():
    train_texts, held_texts = set(), set()
    for seed in range(30):
        train_texts |= {q.text for q in make_stream(seed, duration=200).questions}
        held = make_stream(seed, duration=200, phrasing="heldout")
        assert all(q.heldout for q in held.questions)
        held_texts |= {q.text for q in held.questions}
    assert not train_texts & held_texts
    mixed = [q.heldout for s in range(10) for q in make_stream(split_seeds("test", 10)[s], duration=200).questions]
    assert any(mixed) and not all(mixed)


def test_rendering_varies():
    styles = [sample_style(s) for s in range(200)]
    assert {s.background for s in styles} == {"solid", "gradient", "noisy"}
    assert {s.dark for s in styles} == {True, False}
    assert {s.antialias for s in styles} == {True, False}
    assert len({s.crf for s in styles}) > 10 and any(s.noise > 0 for s in styles) and any(s.noise == 0 for s in styles)
    assert {generate_scene(s, 30).aspect for s in range(60)} == {"4:3", "16:9", "1:1"}
    scene = generate_scene(3, 30)
    aa = Renderer(scene, 128, sample_style(0).model_copy(update={"antialias": True, "noise": 0.0}))
    hard = Renderer(scene, 128, sample_style(0).model_copy(update={"antialias": False, "noise": 0.0}))
    assert len(np.unique(aa.frame(1.0).reshape(-1, 3), axis=0)) > len(np.unique(hard.frame(1.0).reshape(-1, 3), axis=0))
    for height in (72, 240):
        h, w = Renderer(scene, height).frame(0.0).shape[:2]
        assert h == height and abs(w / h - scene.width) < 0.05


def test_render_and_encode_two_minutes_quickly(tmp_path):
    stream = make_stream(9, duration=120)
    start = time.perf_counter()
    path = render_video(stream.scene, tmp_path / "v.mp4", fps=2.0, height=128, style=stream.style)
    elapsed = time.perf_counter() - start
    info = probe(path)
    assert info.frames == 240 and info.height == 128
    assert elapsed < 20  # measured ~0.6 s on 2 cores; a generous guard against a slow path


def test_every_question_wording_is_found_from_its_text() -> None:
    from aura.world.phrasing import QUESTIONS, fill, wording_of

    values = {"shape": "triangle", "colour": "yellow", "target": "red circle"}
    for kind, templates in QUESTIONS.items():
        for template, held in templates:
            assert wording_of(kind, fill(template, **values)) == (template, held)
    assert wording_of("count", "How many objects are there") is None  # no question mark: another text
    assert wording_of("count", "What colour is the circle?") is None  # a wording of another kind


def test_reply_forms_count_replies_of_one_form_together() -> None:
    from aura.world.answers import reply_form

    assert reply_form("The Red circle.") == reply_form("The blue triangle.") == "The {colour} {shape}."
    assert reply_form("I see 12 objects.") == "I see {n} objects."
    assert reply_form("  ") == "(silent)"
    assert reply_form("Yes.") == "Yes."
    assert reply_form("Two circles.") == "Two {shape}."
