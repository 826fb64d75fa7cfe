"""Question twins: the same stream with one question asking about something else.

A twin keeps the scene, the render, every other question and every other reply, and changes one
proactive or multi-response question: a proactive one waits for another target, a
multi-response one reports another kind of event. Its owed replies are planned again by the
same rules as the original's (``questions._Planner``: at most one reply per chunk, replies to
forgotten questions dropped), so the truth stays exact. Between a stream and its twin only the
question's words (and its acknowledgement) differ, and the event chunks where one owes a reply
and the other silence are minimal pairs: the same frames, the same history, the opposite
decision. A model that speaks at events whatever was asked cannot fit both.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from aura.stream import ContextConfig
from aura.world.questions import MULTI_KINDS, WorldStream, _Planner, _prune_forgotten


def question_twins(stream: WorldStream, config: ContextConfig, *, seed: int,
                   types: tuple[str, ...] = ("proactive", "multi")) -> Iterator[tuple[str, WorldStream]]:
    """``(question id, twin)`` for each proactive and multi-response question of ``stream`` that
    can ask about something else at its time without taking a chunk another reply holds: the
    twin's question keeps the id and time, asks for another proactive target or another event
    kind (seeded by ``seed`` and the question's place), and owes exactly the replies that question
    would be owed. Questions without such a twin, or of a type not in ``types``, are skipped.
    Deterministic; ``stream`` is not changed.
    """
    for i, q in enumerate(stream.questions):
        if q.type not in {"proactive", "multi"} & set(types):
            continue
        rng = np.random.default_rng([seed, 11, i])
        others = [r for r in stream.responses if r.question_id != q.id]
        planner = _Planner(stream.scene, rng, "train" if stream.phrasing == "train" else "all", max_pending=10**6)
        planner.questions = [x for x in stream.questions if x.id != q.id]
        planner.responses = list(others)
        planner.busy = {math.floor(r.time + 1e-9) for r in others}
        k = math.floor(q.time + 1e-9)
        if q.type == "proactive":
            made = planner.proactive(k, q.time, exclude=q.target)
        else:
            kinds = [m for m in MULTI_KINDS if f"multi_{m}" != q.kind]
            made = any(planner.multi(k, q.time, only=(kinds[int(j)],)) for j in rng.permutation(len(kinds)))
        if not made:
            continue
        new = planner.questions[-1].model_copy(update={"id": q.id})
        questions = [new if x.id == q.id else x for x in stream.questions]
        responses = others + [r.model_copy(update={"question_id": q.id}) for r in planner.responses[len(others):]]
        responses.sort(key=lambda r: r.time)
        yield q.id, stream.model_copy(update={
            "questions": questions,
            "responses": _prune_forgotten(stream.scene, questions, responses, config),
        })
