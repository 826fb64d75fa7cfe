"""Questions with exact ground truth over a scene, and their timeline for ``aura.stream``.

Types (``aura.stream`` QA types): ``realtime`` (answered in the chunk it is asked, about the
state shown in that chunk), ``proactive`` (acknowledged, then answered in the chunk whose frames
first show the evidence), ``multi`` (acknowledged, then one report per matching event, each in
the chunk that first shows it) and ``backward`` (about an earlier event still inside the video
window). Truth is read from the scene's state at 2 FPS sampling instants; events fall midway
between instants, and realtime/backward questions are asked only where the state is the same
for a whole second before and after, so no answer depends on rounding.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from aura.errors import ConfigError
from aura.stream import AssistantResponse, ContextConfig, Silence, StreamContext, Timeline
from aura.stream.timeline import QAType, TimelineQuestion, TimelineResponse, timeline_events
from aura.world.phrasing import ACKS, ANSWERS, PhrasingSplit, fill, pick, pick_question
from aura.world.render import RenderStyle
from aura.world.scene import ObjectState, Scene, WorldEvent
from aura.world.vocab import COLOURS, SHAPES

BACKWARD_REACH = 25.0
"""Backward questions only ask about events at most this many seconds before the question."""
PROACTIVE_REACH = 45.0
"""Proactive targets that occur happen within this many seconds of the question."""
MIN_DURATION, MAX_DURATION = 10.0, 3600.0
"""Durations ``make_stream`` accepts (scenes are meant to last 30 s - 10 min)."""
TYPE_WEIGHTS = {"realtime": 0.4, "proactive": 0.25, "multi": 0.12, "backward": 0.23}
QUESTION_GAP = (6.0, 22.0)
"""Seconds between two questions of a stream (uniform), at density 1."""
MAX_PENDING_PROACTIVE = 2
"""Proactive questions that may wait for their evidence at once, at density 1."""
MAX_DENSITY = 4.0
MULTI_KINDS = ("disappear", "colour", "appear")
"""The event kinds a multi-response question asks about, in the planner's order (its seeded choice depends on it)."""


class WorldQuestion(BaseModel):
    """A question with its exact meaning: what it asks about and what the truth is."""

    model_config = ConfigDict(extra="forbid")
    id: str
    time: float
    text: str
    type: QAType
    kind: str
    heldout: bool = False
    target: dict[str, Any] = Field(default_factory=dict)


class WorldResponse(BaseModel):
    """A reply the assistant owes: its time, wording, and the structured fact it states."""

    model_config = ConfigDict(extra="forbid")
    time: float
    text: str
    question_id: str
    kind: str = "answer"
    evidence_time: float | None = None
    facts: dict[str, Any] = Field(default_factory=dict)


class WorldStream(BaseModel):
    """One synthetic stream: its scene, render style, questions and the replies they are owed."""

    model_config = ConfigDict(extra="forbid")
    id: str
    seed: int
    split: str
    phrasing: str
    scene: Scene
    style: RenderStyle
    questions: list[WorldQuestion]
    responses: list[WorldResponse]

    def to_timeline(self, video: str | None = None) -> Timeline:
        """The ``aura.stream.Timeline`` of this stream (what ``aura.stream.unroll`` consumes)."""
        return Timeline(
            video_id=self.id,
            video=video,
            duration=self.scene.duration,
            questions=[TimelineQuestion(id=q.id, time=q.time, text=q.text, type=q.type) for q in self.questions],
            responses=[
                TimelineResponse(
                    time=r.time, text=r.text, question_id=r.question_id, kind=r.kind, evidence_time=r.evidence_time
                )
                for r in sorted(self.responses, key=lambda r: r.time)
            ],
        )


def describe(state: list[ObjectState]) -> list[tuple[str, str]]:
    """``(colour, shape)`` of each visible object."""
    return [(o.colour, o.shape) for o in state]


def matches(target: dict[str, Any], colour: str, shape: str) -> bool:
    """Whether an object of ``colour`` and ``shape`` fits a proactive target."""
    return target.get("colour", colour) == colour and target.get("shape", shape) == shape


def target_text(target: dict[str, Any]) -> str:
    """``"red triangle"``, ``"red object"`` or ``"triangle"``."""
    if "colour" in target and "shape" in target:
        return f"{target['colour']} {target['shape']}"
    if "colour" in target:
        return f"{target['colour']} object"
    return str(target["shape"])


class _Planner:
    """Places questions one at a time, keeping every chunk to at most one reply."""

    def __init__(self, scene: Scene, rng: np.random.Generator, phrasing: PhrasingSplit,
                 max_pending: int = MAX_PENDING_PROACTIVE, multi_reask: int | None = None) -> None:
        self.scene = scene
        self.max_pending = max_pending
        self.multi_reask = multi_reask
        self.rng = rng
        self.phrasing = phrasing
        self.busy: set[int] = set()
        self.n_chunks = math.ceil(scene.duration - 1e-9)
        self.questions: list[WorldQuestion] = []
        self.responses: list[WorldResponse] = []
        self.active_multi: dict[str, int] = {}  # event kind -> index of its latest multi question
        self.pending_proactive: list[float] = []

    # -- helpers
    def stable(self, k: int) -> bool:
        return not self.scene.events_between(k - 1.0, k + 1.0)

    def free(self, chunks: list[int]) -> bool:
        return self.free_but(chunks, set())

    def free_but(self, chunks: list[int], released: set[int]) -> bool:
        """Whether ``chunks`` are distinct, inside the stream and hold no reply but those in ``released``."""
        return len(set(chunks)) == len(chunks) and all(
            0 <= c < self.n_chunks and (c not in self.busy or c in released) for c in chunks
        )

    def add(self, q: WorldQuestion, responses: list[WorldResponse]) -> None:
        self.questions.append(q)
        self.responses.extend(responses)
        self.busy.update(math.floor(r.time + 1e-9) for r in responses)

    def question(self, kind: str, qtype: QAType, t: float, about: dict[str, Any], **values: Any) -> WorldQuestion:
        template, held = pick_question(kind, self.rng, self.phrasing)
        return WorldQuestion(
            id=f"q{len(self.questions) + 1}",
            time=t,
            text=fill(template, **values),
            type=qtype,
            kind=kind,
            heldout=held,
            target=about,
        )

    # -- the four types
    def realtime(self, k: int, t: float) -> bool:
        if not self.stable(k) or not self.free([k]):
            return False
        state = describe(self.scene.state(k + 0.5))
        shapes = [s for s in SHAPES if sum(1 for _, sh in state if sh == s) == 1]
        colours = [c for c in COLOURS if sum(1 for co, _ in state if co == c) == 1]
        kinds = ["count", "exists"] + (["colour_of_shape"] if shapes else []) + (["shape_of_colour"] if colours else [])
        kind = kinds[int(self.rng.integers(len(kinds)))]
        evidence = k + 0.5
        if kind == "count":
            n = len(state)
            key = "count_0" if n == 0 else "count_1" if n == 1 else "count_n"
            q = self.question(kind, "realtime", t, {})
            text, facts = fill(pick(ANSWERS, key, self.rng), n=n), {"count": n}
        elif kind == "exists":
            present = sorted(set(state))
            absent = [(c, s) for c in COLOURS for s in SHAPES if (c, s) not in present]
            yes = bool(present) and (not absent or self.rng.random() < 0.5)
            colour, shape = (present if yes else absent)[int(self.rng.integers(len(present if yes else absent)))]
            q = self.question(kind, "realtime", t, {"colour": colour, "shape": shape}, colour=colour, shape=shape)
            key = "exists_yes" if yes else "exists_no"
            text, facts = fill(pick(ANSWERS, key, self.rng), colour=colour, shape=shape), {"yes": yes}
        elif kind == "colour_of_shape":
            shape = shapes[int(self.rng.integers(len(shapes)))]
            colour = next(co for co, sh in state if sh == shape)
            q = self.question(kind, "realtime", t, {"shape": shape}, shape=shape)
            text, facts = fill(pick(ANSWERS, kind, self.rng), colour=colour, shape=shape), {"colour": colour}
        else:
            colour = colours[int(self.rng.integers(len(colours)))]
            shape = next(sh for co, sh in state if co == colour)
            q = self.question(kind, "realtime", t, {"colour": colour}, colour=colour)
            text, facts = fill(pick(ANSWERS, kind, self.rng), colour=colour, shape=shape), {"shape": shape}
        self.add(q, [WorldResponse(time=t, text=text, question_id=q.id, evidence_time=evidence, facts=facts)])
        return True

    def proactive(self, k: int, t: float, exclude: dict[str, Any] | None = None) -> bool:
        if not self.free([k]) or len([p for p in self.pending_proactive if p > t]) >= self.max_pending:
            return False
        now = self.scene.state(k) + self.scene.state(k + 0.5)
        targets: list[dict[str, Any]] = (
            [{"colour": c, "shape": s} for c in COLOURS for s in SHAPES]
            + [{"colour": c} for c in COLOURS]
            + [{"shape": s} for s in SHAPES]
        )
        targets = [g for g in targets if g != exclude and not any(matches(g, o.colour, o.shape) for o in now)]
        found: list[tuple[dict[str, Any], WorldEvent, ObjectState]] = []
        never: list[dict[str, Any]] = []
        for g in targets:
            hit = self._first_match(g, k + 0.5)
            if hit is None:
                never.append(g)
            elif hit[0].sample_time <= t + PROACTIVE_REACH:
                found.append((g, *hit))
        if not found and not never:
            return False
        if found and (not never or self.rng.random() < 0.85):
            target, event, obj = found[int(self.rng.integers(len(found)))]
            chunk = math.floor(event.sample_time)
            if not self.free([k, chunk]):
                return False
        else:
            target, event, obj = never[int(self.rng.integers(len(never)))], None, None
        text = target_text(target)
        q = self.question("proactive", "proactive", t, target, target=text)
        responses = [
            WorldResponse(
                time=t, text=fill(pick(ACKS, "proactive", self.rng), target=text), question_id=q.id, kind="ack"
            )
        ]
        if event is not None and obj is not None:
            answer = fill(pick(ANSWERS, "proactive", self.rng), colour=obj.colour, shape=obj.shape)
            responses.append(
                WorldResponse(
                    time=event.sample_time,
                    text=answer,
                    question_id=q.id,
                    evidence_time=event.sample_time,
                    facts={"colour": obj.colour, "shape": obj.shape},
                )
            )
            self.pending_proactive.append(event.sample_time)
        else:
            self.pending_proactive.append(self.scene.duration)
        self.add(q, responses)
        return True

    def _first_match(self, target: dict[str, Any], after: float) -> tuple[WorldEvent, ObjectState] | None:
        for e in self.scene.events:
            if e.time <= after:
                continue
            for o in self.scene.state(e.sample_time):
                if matches(target, o.colour, o.shape):
                    return e, o
        return None

    def multi(self, k: int, t: float, only: tuple[str, ...] = MULTI_KINDS) -> bool:
        def askable(kind: str) -> bool:
            if kind not in self.active_multi:
                return True
            return self.multi_reask is not None and len(self.questions) - self.active_multi[kind] > self.multi_reask

        kinds = [m for m in only if askable(m)]
        if not kinds or not self.free([k]):
            return False
        kind = kinds[int(self.rng.integers(len(kinds)))]
        if any(e.kind == kind for e in self.scene.events_between(k - 0.5, k + 1.0)):
            return False
        events = [e for e in self.scene.events if e.kind == kind and e.time > k + 0.5]
        chunks = [k] + [math.floor(e.sample_time) for e in events]
        # asked again: the new question takes over the older one's later reports (the same events)
        old = f"q{self.active_multi[kind] + 1}" if kind in self.active_multi else None
        taken = [r for r in self.responses if r.question_id == old and r.time > t]
        released = {math.floor(r.time + 1e-9) for r in taken}
        if not events or not self.free_but(chunks, released):
            return False
        self.responses = [r for r in self.responses if not (r.question_id == old and r.time > t)]
        self.busy -= released
        q = self.question(f"multi_{kind}", "multi", t, {"event": kind})
        responses = [WorldResponse(time=t, text=pick(ACKS, "multi", self.rng), question_id=q.id, kind="ack")]
        for e in events:
            text = fill(pick(ANSWERS, f"multi_{kind}", self.rng), colour=e.colour, shape=e.shape, old=e.old_colour)
            facts = {"event": kind, "colour": e.colour, "shape": e.shape}
            if e.old_colour:
                facts["old_colour"] = e.old_colour
            responses.append(
                WorldResponse(time=e.sample_time, text=text, question_id=q.id, evidence_time=e.sample_time, facts=facts)
            )
        self.active_multi[kind] = len(self.questions)
        self.add(q, responses)
        return True

    def backward(self, k: int, t: float) -> bool:
        if not self.stable(k) or not self.free([k]):
            return False
        past = [e for e in self.scene.events if e.sample_time <= k - 0.5]
        appears = [e for e in past if e.kind == "appear"]
        disappears = [e for e in past if e.kind == "disappear"]

        def recent(e: WorldEvent) -> bool:
            return e.sample_time >= k - BACKWARD_REACH

        options: list[tuple[str, WorldEvent]] = []
        if appears and recent(appears[0]):
            options += [("first_appeared_colour", appears[0]), ("first_appeared_shape", appears[0])]
        if appears and recent(appears[-1]):
            options.append(("last_appeared", appears[-1]))
        if disappears and recent(disappears[-1]):
            options.append(("last_disappeared", disappears[-1]))
        if not options:
            return False
        kind, e = options[int(self.rng.integers(len(options)))]
        q = self.question(kind, "backward", t, {})
        text = fill(pick(ANSWERS, kind, self.rng), colour=e.colour, shape=e.shape)
        facts: dict[str, Any] = {"colour": e.colour, "shape": e.shape}
        if kind.endswith(("colour", "shape")):
            facts = {kind.rsplit("_", 1)[1]: facts[kind.rsplit("_", 1)[1]]}
        self.add(q, [WorldResponse(time=t, text=text, question_id=q.id, evidence_time=e.sample_time, facts=facts)])
        return True


def realtime_qa(
    scene: Scene, k: int, t: float, rng: np.random.Generator, phrasing: PhrasingSplit = "train"
) -> tuple[str, str] | None:
    """A real-time question asked at ``t`` in chunk ``k`` and its true answer, as a stream would ask it.

    None where no real-time question may be asked (the state changes within a second of the chunk).
    """
    planner = _Planner(scene, rng, phrasing)
    if not planner.realtime(k, t):
        return None
    return planner.questions[-1].text, planner.responses[-1].text


def plan_questions(
    scene: Scene,
    seed: int,
    *,
    phrasing: PhrasingSplit = "train",
    gap: tuple[float, float] | None = None,
    config: ContextConfig | None = None,
    plan: int = 0,
    density: float = 1.0,
    type_weights: dict[str, float] | None = None,
) -> tuple[list[WorldQuestion], list[WorldResponse]]:
    """Questions over ``scene`` (about one every ``gap`` seconds) and every reply they are owed.

    At most one reply per chunk. Replies to a question the stream context has already
    forgotten (its group left the text history) are dropped: no model could give them.
    ``plan`` > 0 gives another, independently seeded set of questions over the same scene.
    ``density`` > 1 asks that many times more often (``gap`` defaults to ``QUESTION_GAP / density``),
    lets that many times more proactive questions wait at once, and asks a multi-response kind
    again once the context has had time to forget its last question (it then takes over that
    question's later reports). ``type_weights`` (default ``TYPE_WEIGHTS``) weighs the four types.
    Both are training-data knobs: the evaluation streams are planned with the defaults.
    """
    if plan < 0:
        raise ConfigError(f"question plan must be >= 0, got {plan}")
    if not (1.0 <= density <= MAX_DENSITY):
        raise ConfigError(f"question density must be 1..{MAX_DENSITY:g}, got {density:g}")
    if gap is None:
        gap = (QUESTION_GAP[0] / density, QUESTION_GAP[1] / density)
    rng = np.random.default_rng([seed, 2] if plan == 0 else [seed, 2, plan])
    config = config or ContextConfig()
    weights_by_type = TYPE_WEIGHTS if type_weights is None else type_weights
    if set(weights_by_type) != set(TYPE_WEIGHTS) or not all(w > 0 for w in weights_by_type.values()):
        raise ConfigError(f"question type weights must give each of {sorted(TYPE_WEIGHTS)} a weight > 0")
    planner = _Planner(scene, rng, phrasing, max_pending=round(MAX_PENDING_PROACTIVE * density),
                       multi_reask=config.history_groups if density > 1.0 else None)
    types = list(TYPE_WEIGHTS)
    weights = np.array([weights_by_type[t] for t in types], dtype=float)
    t = float(rng.uniform(1.5, 6.0))
    while t < scene.duration - 2.0:
        k = math.floor(t)
        ask = round(k + float(rng.integers(0, 10)) / 10, 1)
        order = list(rng.choice(types, size=len(types), replace=False, p=weights / weights.sum()))
        for qtype in order:
            if getattr(planner, str(qtype))(k, ask):
                break
        t = ask + float(rng.uniform(*gap))
    return planner.questions, _prune_forgotten(scene, planner.questions, planner.responses, config)


def _prune_forgotten(
    scene: Scene, questions: list[WorldQuestion], responses: list[WorldResponse], config: ContextConfig
) -> list[WorldResponse]:
    timeline = Timeline(
        video_id="plan",
        duration=scene.duration,
        questions=[TimelineQuestion(id=q.id, time=q.time, text=q.text, type=q.type) for q in questions],
        responses=[
            TimelineResponse(time=r.time, text=r.text, question_id=r.question_id, kind=r.kind)  # type: ignore[arg-type]
            for r in responses
        ],
    )
    ctx = StreamContext(config)
    dropped: set[tuple[float, str]] = set()
    for event, response in timeline_events(timeline, config):
        if (
            isinstance(event, AssistantResponse)
            and response is not None
            and event.question_id not in ctx.open_questions()
        ):
            dropped.add((response.time, response.question_id))
            event = Silence(event.time)
        ctx.feed(event)
    return [r for r in responses if (r.time, r.question_id) not in dropped]


def make_stream(
    seed: int,
    *,
    duration: float | None = None,
    aspect: str | None = None,
    phrasing: PhrasingSplit | None = None,
    config: ContextConfig | None = None,
    plan: int = 0,
    density: float = 1.0,
    type_weights: dict[str, float] | None = None,
) -> WorldStream:
    """The whole synthetic stream for ``seed``: scene, style, questions and owed replies.

    ``duration`` defaults to a seeded 30 s - 10 min (whole seconds); ``phrasing`` defaults to
    ``train`` phrasings for training seeds and all phrasings for validation/test seeds.
    ``plan`` > 0 keeps the scene and style and asks another set of questions; ``density`` > 1 asks
    more often, ``type_weights`` weighs the question types (all three: ``plan_questions``).
    """
    from aura.world.render import sample_style
    from aura.world.scene import generate_scene
    from aura.world.splits import split_of

    split = split_of(seed)
    if duration is not None and not (MIN_DURATION <= duration <= MAX_DURATION and math.isfinite(duration)):
        raise ConfigError(f"stream duration must be {MIN_DURATION:g}..{MAX_DURATION:g} s, got {duration:g}")
    if duration is None:
        duration = float(np.random.default_rng([seed, 7]).integers(30, 601))
    phrasing = phrasing or ("train" if split == "train" else "all")
    scene = generate_scene(seed, float(duration), aspect=aspect)
    questions, responses = plan_questions(scene, seed, phrasing=phrasing, config=config, plan=plan,
                                          density=density, type_weights=type_weights)
    return WorldStream(
        id=f"world-{seed}",
        seed=seed,
        split=split,
        phrasing=phrasing,
        scene=scene,
        style=sample_style(seed),
        questions=questions,
        responses=responses,
    )
