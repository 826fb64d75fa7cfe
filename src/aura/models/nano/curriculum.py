"""Stage 1 of the nano recipe: learning to *look* before learning *when to speak*.

A vision encoder trained from scratch gets little signal from whole-stream samples: one answer
per ~40 chunks. Stage 1 instead asks about every chunk of the rendered training streams, in
the same chat format, with the world's exact truth (as LLaVA-style models align vision on
captions before instruction tuning):

- ``look``: one chunk and a real-time question about it (the world's own question kinds and
  training phrasings: count, is-there, colour of the shape, shape of the colour);
- ``describe``: one chunk and "What do you see?", answered with every visible object;
- ``change``: two chunks and "What just changed?", answered with every event that the second
  chunk is the first to show (or "Nothing changed."), which is what a multi-response or
  proactive answer has to notice.

- ``watch``: a proactive or multi-response question asked 1-3 chunks earlier (acknowledged,
  then silent chunks), and a last chunk whose reply is the answer or report when that chunk is
  the first to show what was asked for, and ``<|silent|>`` otherwise. The silent ones are hard
  negatives: the same moment asked about a target that did not appear, or an event of another
  kind; and quiet chunks. This is the decision the streams need most (when to speak), learnt on
  short samples whose evidence is one chunk away, before stage 2 asks it across whole streams.
- ``unasked`` (an experiment, off by default: ``look_samples(unasked=K)``): a window that asks
  nothing to watch for and an event chunk whose reply is ``<|silent|>``, as most events of a
  stream are.

Stage-1 samples have no system prompt; stage 2 (whole streams, balanced loss) starts from the
stage-1 weights.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np

from aura.stream.history import QAGroup
from aura.stream.messages import is_silent
from aura.world.phrasing import ACKS, ANSWERS, fill, pick, pick_question
from aura.world.questions import WorldStream, matches, realtime_qa, target_text
from aura.world.scene import ObjectState, Scene, WorldEvent
from aura.world.vocab import COLOURS, SHAPES

DESCRIBE_QUESTION = "What do you see?"
CHANGE_QUESTION = "What just changed?"
NOTHING_SEEN = "Nothing."
NOTHING_CHANGED = "Nothing changed."
SILENT = "<|silent|>"
CURRICULUM_VERSION = 2
"""Bumped whenever the samples change (1: look, describe, change; 2: + watch)."""
MULTI_KINDS = ("appear", "disappear", "colour")
WatchTag = Literal["proactive-answer", "proactive-absent", "multi-report", "multi-other", "quiet", "unasked"]
"""What a watch (or unasked) sample's last decision tests (its ``"watch"`` field)."""


def describe_objects(state: list[ObjectState]) -> str:
    """Every visible object in a fixed order (colour, then shape): ``"A red circle and a blue square."``."""
    if not state:
        return NOTHING_SEEN
    items = sorted(state, key=lambda o: (COLOURS.index(o.colour), SHAPES.index(o.shape)))
    names = [f"a {o.colour} {o.shape}" for o in items]
    text = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    return text[0].upper() + text[1:] + "."


def describe_events(events: list[WorldEvent], rng: np.random.Generator) -> str:
    """The events as the world's multi-response answers, one sentence each (or "Nothing changed.")."""
    if not events:
        return NOTHING_CHANGED
    sentences = []
    for e in events:
        options = ANSWERS[f"multi_{e.kind}"]
        template = options[int(rng.integers(len(options)))]
        sentences.append(fill(template, colour=e.colour, shape=e.shape, old=e.old_colour))
    return " ".join(sentences)


def _chunk(k: int, text: str | None = None) -> dict[str, Any]:
    content: list[dict[str, Any]] = [{"type": "video", "chunk": k, "start": float(k), "end": float(k + 1)}]
    if text:
        content.append({"type": "text", "text": text})
    return {"role": "user", "content": content}


def _sample(stream: WorldStream, video: str, kind: str, k: int, messages: list[dict[str, Any]]) -> dict[str, Any]:
    return {"id": f"{stream.id}#{kind}{k}", "video_id": stream.id, "video": video, "stage": "look",
            "kind": kind, "messages": messages}


def _seen(scene: Scene, k: int) -> list[ObjectState]:
    """The objects either frame of chunk ``k`` shows."""
    return scene.state(float(k)) + scene.state(k + 0.5)


def _absent(target: dict[str, Any], objects: list[ObjectState]) -> bool:
    """True when none of ``objects`` matches ``target``."""
    return not any(matches(target, o.colour, o.shape) for o in objects)


def _watch(stream: WorldStream, video: str, k: int, question: str | None, ack: str, gap: int, reply: str,
           rng: np.random.Generator) -> dict[str, Any] | None:
    """Question at chunk ``k - gap`` (acknowledged; or no question, and ``ack`` its reply), silent
    chunks, then chunk ``k`` and ``reply``.

    Samples are anchored at a reply (``aura.train.labels``), so a silent ``reply`` is followed by
    a real-time question about chunk ``k + 1`` and its answer (None if there is no such chunk).
    """
    messages = [_chunk(k - gap, question), {"role": "assistant", "content": ack}]
    for c in range(k - gap + 1, k):
        messages += [_chunk(c), {"role": "assistant", "content": SILENT}]
    messages += [_chunk(k), {"role": "assistant", "content": reply}]
    if reply == SILENT:
        scene = stream.scene
        qa = realtime_qa(scene, k + 1, k + 1.5, rng) if k + 2 <= scene.duration + 1e-9 else None
        if qa is None:
            return None
        messages += [_chunk(k + 1, qa[0]), {"role": "assistant", "content": qa[1]}]
    return _sample(stream, video, "watch", k, messages)


def acknowledgement_sample(sample: dict[str, Any]) -> dict[str, Any] | None:
    """``sample`` cut right after the first spoken reply to a chunk that asks a question (the
    acknowledgement of a watch sample's question), so that this reply is its target; None when
    no such reply comes before the last message. The balanced loss trains a sample's last reply
    only, so an acknowledgement inside a watch sample is context, never a target."""
    messages = sample["messages"]
    for i in range(1, len(messages) - 1):
        user, reply = messages[i - 1], messages[i]
        parts = user.get("content") if user.get("role") == "user" else None
        if not isinstance(parts, list) or reply.get("role") != "assistant":
            continue
        asked = any(p.get("type") == "text" and str(p.get("text", "")).strip() for p in parts)
        said = isinstance(reply.get("content"), str) and bool(reply["content"].strip()) and not is_silent(reply)
        if asked and said and any(p.get("type") == "video" for p in parts):
            return {**sample, "id": f"{sample['id']}@ack", "messages": messages[: i + 1]}
    return None


def _answered_group(stream: WorldStream, before: int, rng: np.random.Generator) -> QAGroup | None:
    """An answered proactive question (question, ack, "", answer) about an object that appeared
    before chunk ``before`` (None if none did): done, so it asks for nothing more, but it looks
    like a multi-response group with one report."""
    shown = [e for e in stream.scene.events if e.kind == "appear" and e.sample_time < before]
    if not shown:
        return None
    e = shown[int(rng.integers(len(shown)))]
    text = target_text({"colour": e.colour, "shape": e.shape})
    question = fill(pick_question("proactive", rng, "train")[0], target=text)
    ack = fill(pick(ACKS, "proactive", rng), target=text)
    answer = fill(pick(ANSWERS, "proactive", rng), colour=e.colour, shape=e.shape)
    return QAGroup("answered", question, [(e.sample_time, ack), (e.sample_time, answer)])


def _history(stream: WorldStream, before: int, rng: np.random.Generator) -> list[dict[str, Any]]:
    """One to three older groups, as a stream's text history renders them: real-time questions
    answered, or proactive questions answered (done: they ask for nothing more)."""
    groups: list[QAGroup | None] = []
    for _ in range(int(rng.integers(1, 4))):
        if before < 1:
            break
        if rng.random() < 0.5:
            groups.append(_answered_group(stream, before, rng))
            continue
        c = int(rng.integers(before))
        qa = realtime_qa(stream.scene, c, c + 0.5, rng)
        groups.append(QAGroup("realtime", qa[0], [(float(c), qa[1])]) if qa is not None else None)
    return [m for g in groups if g is not None for m in g.messages()]


def question_in_history(sample: dict[str, Any], stream: WorldStream, rng: np.random.Generator) -> dict[str, Any]:
    """The watch ``sample`` with a text history as a stream renders one (``aura.stream.history``):
    one to three older groups (an earlier real-time question and answer, or a proactive question
    answered earlier, which asks for nothing more), and half of the time the sample's own question
    and acknowledgement as the last group, its chunk gone from the video window."""
    messages = sample["messages"]
    first_chunk = next(p["chunk"] for p in messages[0]["content"] if p["type"] == "video")
    question = next(p["text"] for p in messages[0]["content"] if p["type"] == "text")
    history = _history(stream, first_chunk, rng)
    if rng.random() < 0.5:
        history += QAGroup("asked", question, [(float(first_chunk), messages[1]["content"])]).messages()
        messages = messages[2:]
    return {**sample, "messages": history + messages, "history": True} if history else sample


def _near_misses(targets: list[dict[str, Any]], new: list[ObjectState]) -> list[dict[str, Any]]:
    """The ``targets`` that share a colour or a shape with one of the ``new`` objects (the hardest
    silent decisions: something like the target appeared, not the target)."""
    return [t for t in targets if any(t.get("colour") == o.colour or t.get("shape") == o.shape for o in new)]


def _choose(group: list[dict[str, Any]], n: int, first: list[dict[str, Any]],
            rng: np.random.Generator) -> list[dict[str, Any]]:
    """``n`` distinct targets of ``group``: one at random when ``n`` is 1 (the recipe's draw);
    otherwise up to half of them from ``first`` (near misses), the rest from the others."""
    if n == 1:
        return [group[int(rng.integers(len(group)))]]
    near = [group.index(t) for t in first]
    far = [i for i in range(len(group)) if i not in near]
    take_near = min(len(near), -(-n // 2))
    picked = [near[int(i)] for i in rng.permutation(len(near))[:take_near]]
    rest = [far[int(i)] for i in rng.permutation(len(far))[: n - len(picked)]]
    return [group[i] for i in picked + rest]


def watch_samples(stream: WorldStream, video: str, rng: np.random.Generator,
                  quiet_share: float = 0.5, proactive_targets: int = 1,
                  max_gap: int = 3, history_share: float = 0.0, other_share: float = 0.5) -> list[dict[str, Any]]:
    """The ``watch`` samples of a stream: at every event chunk, a proactive question for a target
    that first shows there (answer) and one for a target still absent (silence), when the scene
    allows; a multi-response question of the event's kind (report) and, each with chance
    ``other_share``, of the kinds that did not happen (silence); and at ``quiet_share`` of the
    event chunks a quiet chunk (silence).

    ``proactive_targets`` > 1 asks about up to that many targets of each kind per event chunk,
    half of the absent ones near misses (sharing a colour or a shape with what appeared).
    Questions are asked 1 to ``max_gap`` chunks before the decision. ``history_share`` of the
    samples get a text history of older groups, half of them their own question in it too
    (``question_in_history``; drawn from a generator of their own, so the other samples stay
    the same).
    Every sample says what it tests in ``"watch"`` (``proactive-answer``, ``proactive-absent``,
    ``multi-report``, ``multi-other``, ``quiet``)."""
    scene = stream.scene
    n_chunks = math.floor(scene.duration + 1e-9)
    targets: list[dict[str, Any]] = (
        [{"colour": c, "shape": s} for c in COLOURS for s in SHAPES]
        + [{"colour": c} for c in COLOURS] + [{"shape": s} for s in SHAPES]
    )
    tagged: list[tuple[dict[str, Any] | None, str]] = []
    event_chunks = sorted({math.floor(e.sample_time) for e in scene.events if 1 <= e.sample_time < n_chunks})
    for k in event_chunks:
        gap = int(rng.integers(1, max_gap + 1))
        if k - gap < 0:
            continue
        before = [o for c in range(k - gap, k) for o in _seen(scene, c)]
        now = scene.state(k + 0.5)
        fresh = [g for g in targets if _absent(g, before) and not _absent(g, now)]
        still = [g for g in targets if _absent(g, before) and _absent(g, _seen(scene, k))]
        new = [o for o in now if _absent({"colour": o.colour, "shape": o.shape}, before)]
        for g, is_there in ((fresh, True), (still, False)):
            if not g:
                continue
            for target in _choose(g, proactive_targets, [] if is_there else _near_misses(g, new), rng):
                text = target_text(target)
                question = fill(pick_question("proactive", rng, "train")[0], target=text)
                ack = fill(pick(ACKS, "proactive", rng), target=text)
                reply = SILENT
                if is_there:
                    obj = next(o for o in now if matches(target, o.colour, o.shape))
                    reply = fill(pick(ANSWERS, "proactive", rng), colour=obj.colour, shape=obj.shape)
                tagged.append((_watch(stream, video, k, question, ack, gap, reply, rng),
                               "proactive-answer" if is_there else "proactive-absent"))
        happened = [e for e in scene.events if math.floor(e.sample_time) == k]
        for kind in MULTI_KINDS:
            mine = [e for e in happened if e.kind == kind]
            if any(e.kind == kind and k - gap <= math.floor(e.sample_time) < k for e in scene.events):
                continue  # one of this kind since the question: its silent turn would be wrong
            question = pick_question(f"multi_{kind}", rng, "train")[0]
            ack = pick(ACKS, "multi", rng)
            if mine:
                reply = " ".join(fill(pick(ANSWERS, f"multi_{kind}", rng), colour=e.colour, shape=e.shape,
                                      old=e.old_colour) for e in mine)
            elif rng.random() < other_share:
                reply = SILENT
            else:
                continue
            tagged.append((_watch(stream, video, k, question, ack, gap, reply, rng),
                           "multi-report" if mine else "multi-other"))
    quiet = [c for c in range(max_gap, n_chunks) if not scene.events_between(c - max_gap - 0.5, c + 1.0)]
    n_quiet = min(len(quiet), round(len(event_chunks) * quiet_share))
    for k in sorted(int(c) for c in rng.choice(quiet, size=n_quiet, replace=False)) if n_quiet else []:
        gap = int(rng.integers(1, max_gap + 1))
        if rng.random() < 0.5:
            kind = MULTI_KINDS[int(rng.integers(len(MULTI_KINDS)))]
            question, ack = pick_question(f"multi_{kind}", rng, "train")[0], pick(ACKS, "multi", rng)
        else:
            g = [t for t in targets if _absent(t, [o for c in range(k - gap, k + 1) for o in _seen(scene, c)])]
            if not g:
                continue
            text = target_text(g[int(rng.integers(len(g)))])
            question = fill(pick_question("proactive", rng, "train")[0], target=text)
            ack = fill(pick(ACKS, "proactive", rng), target=text)
        tagged.append((_watch(stream, video, k, question, ack, gap, SILENT, rng), "quiet"))
    out = []
    moved = np.random.default_rng([stream.seed, 17])
    for sample, tag in tagged:
        if sample is not None and history_share and moved.random() < history_share:
            sample = question_in_history(sample, stream, moved)
        if sample is not None:
            sample["id"] = f"{stream.id}#watch{len(out)}"
            sample["watch"] = tag
            out.append(sample)
    return out


def unasked_samples(stream: WorldStream, video: str, rng: np.random.Generator, per_event: int = 1,
                    max_gap: int = 3, history_share: float = 0.75) -> list[dict[str, Any]]:
    """Silent decisions at events nobody asked about: for ``per_event`` samples at each event chunk
    ``k``, a window from chunk ``k - gap`` (gap 1..``max_gap``) that asks nothing to watch for (half
    the time a real-time question at its first chunk, answered; otherwise no question), silent
    chunks, then chunk ``k`` and ``<|silent|>``, followed like every silent decision by a real-time
    question about chunk ``k + 1``. ``history_share`` of them carry older groups as a stream's text
    history does (real-time questions, proactive ones already answered). Tagged ``"unasked"``.

    Streams are full of such moments (most events are asked about by no open question), and the
    watch samples alone always have a question open at their decision.
    """
    scene = stream.scene
    n_chunks = math.floor(scene.duration + 1e-9)
    event_chunks = sorted({math.floor(e.sample_time) for e in scene.events if 1 <= e.sample_time < n_chunks})
    out: list[dict[str, Any]] = []
    for k in event_chunks:
        for _ in range(per_event):
            gap = int(rng.integers(1, max_gap + 1))
            if k - gap < 0:
                continue
            first = k - gap
            qa = realtime_qa(scene, first, first + 0.5, rng) if rng.random() < 0.5 else None
            sample = _watch(stream, video, k, qa[0] if qa else None, qa[1] if qa else SILENT, gap, SILENT, rng)
            if sample is None:
                continue
            if rng.random() < history_share:
                sample["messages"] = _history(stream, first, rng) + sample["messages"]
            sample["id"] = f"{stream.id}#unasked{len(out)}"
            sample["watch"] = "unasked"
            out.append(sample)
    return out


def look_samples(stream: WorldStream, video: str, *, seed: int = 0, describe_share: float = 0.5,
                 change_negatives: float = 1.0, watch: bool = True,
                 proactive_targets: int = 1, watch_gap: int = 3,
                 watch_history: float = 0.0, unasked: int = 0, draw: int = 0,
                 multi_other: float = 0.5) -> list[dict[str, Any]]:
    """Stage-1 samples over every whole chunk of ``stream`` (whose frames are ``video``).

    Deterministic for a given stream, ``seed`` and ``draw``: another ``draw`` asks other questions
    of the same chunks (draw 0 is the recipe's first and only one unless ``look_fresh``).
    ``describe_share`` is the chance a chunk also gets a describe sample; ``change_negatives`` the
    number of "Nothing changed." samples per change sample; ``watch`` adds the ``watch`` samples
    (``watch_samples``, with ``proactive_targets``, ``max_gap=watch_gap``, ``history_share=watch_history``
    and ``other_share=multi_other``), and
    ``unasked`` samples per event chunk of silence at events no question asks about
    (``unasked_samples``, with ``max_gap=watch_gap``).
    """
    extra = [draw] if draw else []  # draw 0 keeps the streams' original samples
    rng = np.random.default_rng([stream.seed, seed, 11, *extra])
    scene = stream.scene
    n_chunks = math.floor(scene.duration + 1e-9)
    out: list[dict[str, Any]] = []
    for k in range(n_chunks):
        qa = realtime_qa(scene, k, k + 0.5, rng)
        if qa is not None:
            question, answer = qa
            messages = [_chunk(k, question), {"role": "assistant", "content": answer}]
            out.append(_sample(stream, video, "look", k, messages))
        stable = not scene.events_between(k - 0.5, k + 0.5)
        if stable and rng.random() < describe_share:
            text = describe_objects(scene.state(k + 0.5))
            out.append(_sample(stream, video, "describe", k,
                               [_chunk(k, DESCRIBE_QUESTION), {"role": "assistant", "content": text}]))
    changes = [c for c in range(1, n_chunks) if any(math.floor(e.sample_time) == c for e in scene.events)]
    quiet = [c for c in range(1, n_chunks) if not scene.events_between(c - 1.0, c + 0.5)]
    n_neg = min(len(quiet), round(len(changes) * change_negatives))
    negatives = [int(c) for c in rng.choice(quiet, size=n_neg, replace=False)] if n_neg else []
    for c in sorted(changes + negatives):
        events = [e for e in scene.events if math.floor(e.sample_time) == c]
        messages = [_chunk(c - 1), {"role": "assistant", "content": "<|silent|>"},
                    _chunk(c, CHANGE_QUESTION), {"role": "assistant", "content": describe_events(events, rng)}]
        out.append(_sample(stream, video, "change", c, messages))
    if watch:
        out += watch_samples(stream, video, np.random.default_rng([stream.seed, seed, 13, *extra]),
                             proactive_targets=proactive_targets, max_gap=watch_gap,
                             history_share=watch_history, other_share=multi_other)
    if watch and unasked:
        out += unasked_samples(stream, video, np.random.default_rng([stream.seed, seed, 19, *extra]), per_event=unasked,
                               max_gap=watch_gap)
    return out
