"""Scoring world-stream sessions against the world's exact ground truth (pure functions, no I/O).

Input is one results row per stream (``aura.eval.world``): the questions, the replies they are
owed (``WorldResponse`` dicts with ``facts``) and every step the model took (``k``, ``silent``,
``text``, timings). Chunk ``k`` spans ``[k, k+1)`` s; a question or an owed reply at time ``t``
belongs to chunk ``floor(t)`` (for evidence, the first chunk whose frames show it).

Matching: every model reply is *claimed* by at most one owed reply. First the exact ones: an
acknowledgement claims whatever the model said in its question's chunk; a real-time or backward
answer claims the reply in its own chunk if it ``agrees`` with the facts. Then, in time order,
each proactive answer and multi-response report claims the first unclaimed agreeing reply in
its window ``[k, k + tolerance]`` (tolerance in chunks, 2 = "within 2 s"). Replies nobody
claims are *unclaimed*: false alarms. An unclaimed reply in a question's own chunk is that
question's wrong answer (the format puts the reply right after the question) and counts against
it alone; the others, *stray* replies, are what the proactive and multi-response metrics below
count against (since session 21; before, a wrong real-time or backward answer also counted as an
early proactive answer and a false report).

- real-time / backward correct: the reply in the question's own chunk agrees with the facts
  (``*_next`` also accepts the chunk after);
- proactive on time: its answer was claimed (agreeing, within the window); early: a stray
  reply after the acknowledgement chunk and before the evidence chunk (any such reply: the
  format does not say which open question it answers), and *early, naming the target* when such a
  reply names the question's target (``agrees`` with its colour and shape; a diagnostic that
  tells answering the wrong moment from chatter about something else, not a target); a proactive
  question owed no answer (its target never appears, or the context forgot the question
  before it did) is ``silent_ok`` if no stray reply
  follows its acknowledgement until the stream ends;
- multi recall: reports claimed / reports owed; precision: claimed reports / (claimed +
  stray replies while a multi question is open, each given to the latest one asked);
- silence: of the chunks where nothing is owed (not an owed reply's chunk nor within
  ``tolerance`` chunks after one), the share where the model was silent;
- silence at events: the same, over the free chunks that first show an event of the scene (an
  object appears, disappears or changes colour) that no open question asks about: the hard part
  of silence, measured when the row lists the scene's ``events`` (``[{"time": t, ...}]``);
- acknowledgement: proactive/multi questions with any reply in their own chunk; *worded* when
  that reply is one of the world's acknowledgements of the question's type, word for word (with
  the question's target where the wording names one): a diagnostic of garbled acknowledgements
  ("Got it, I'll tell you posted."), which the acknowledgement rate counts as given.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from typing import Any

from aura.world.answers import agrees, reply_form
from aura.world.phrasing import is_acknowledgement, wording_of
from aura.world.questions import target_text

TOLERANCE_CHUNKS = 2
"""Chunks after the evidence's chunk in which a proactive answer or a multi report still counts."""

TARGETS: dict[str, tuple[str, float]] = {
    "realtime_accuracy": (">=", 90.0),
    "proactive_on_time": (">=", 85.0),
    "proactive_early": ("<=", 3.0),
    "multi_recall": (">=", 85.0),
    "multi_precision": (">=", 85.0),
    "silence": (">=", 98.0),
}
"""The issue's targets (percentages)."""

PHRASINGS = ("all", "train", "heldout")


def chunk_of(t: float) -> int:
    """The 1-second chunk that contains time ``t``."""
    return math.floor(t + 1e-9)


def percentile(values: Iterable[float], p: float) -> float | None:
    """Linear-interpolated percentile ``p`` (0..100) of ``values``; None when empty."""
    vals = sorted(v for v in values if v is not None and math.isfinite(v))
    if not vals:
        return None
    k = (len(vals) - 1) * p / 100.0
    lo, hi = math.floor(k), math.ceil(k)
    return vals[lo] + (vals[hi] - vals[lo]) * (k - lo)


def score_stream(row: dict[str, Any], tolerance: int = TOLERANCE_CHUNKS) -> dict[str, Any]:
    """Per-question records and chunk counts of one stream's session (see the module docstring).

    Returns ``{"questions": [record, ...], "chunks": n, "free_chunks": f, "free_silent": s,
    "replies": r, "unclaimed": u, "stray": x}`` (``x``: the unclaimed replies outside a question's
    own chunk); each record has ``id``, ``type``, ``kind``, ``heldout`` and
    the outcome fields of its type. Questions asked after the last decoded chunk are left out.
    """
    steps = row.get("steps") or []
    n = len(steps)
    said: dict[int, str] = {int(s["k"]): str(s.get("text") or "") for s in steps if not s.get("silent")}
    questions = [q for q in row.get("questions") or [] if chunk_of(float(q["time"])) < n]
    asked = {q["id"]: chunk_of(float(q["time"])) for q in questions}
    owed = [r for r in row.get("owed") or [] if r["question_id"] in asked and chunk_of(float(r["time"])) < n]
    claim: dict[int, int] = {}  # chunk -> index into owed
    answers: dict[str, list[int]] = {}
    for i, r in enumerate(owed):
        answers.setdefault(r["question_id"], []).append(i)
    qtype = {q["id"]: q["type"] for q in questions}

    # exact claims: acknowledgements, real-time and backward answers
    for i, r in enumerate(owed):
        k = chunk_of(float(r["time"]))
        if k not in said or k in claim:
            continue
        if r.get("kind") == "ack" or (qtype[r["question_id"]] in ("realtime", "backward")
                                       and agrees(r.get("facts") or {}, said[k])):
            claim[k] = i
    # windowed claims: proactive answers and multi reports, in time order
    claimed_by: dict[int, int] = {}
    windowed = [i for i, r in enumerate(owed)
                if r.get("kind") != "ack" and qtype[r["question_id"]] in ("proactive", "multi")]
    for i in sorted(windowed, key=lambda j: float(owed[j]["time"])):
        k0 = chunk_of(float(owed[i]["time"]))
        for k in range(k0, min(n, k0 + tolerance + 1)):
            if k in said and k not in claim and agrees(owed[i].get("facts") or {}, said[k]):
                claim[k], claimed_by[i] = i, k
                break
    unclaimed = sorted(k for k in said if k not in claim)
    # a reply in a question's own chunk is that question's reply (the format puts it right after
    # the question): when it is wrong it costs that question, not the waits and reports around it
    question_chunks = set(asked.values())
    stray = [k for k in unclaimed if k not in question_chunks]

    # multi questions open at each unclaimed reply: the latest asked before it gets the report
    multis = sorted((asked[q["id"]], q["id"]) for q in questions if q["type"] == "multi")
    false_reports: dict[str, int] = {}
    for k in stray:
        open_ = [qid for ka, qid in multis if ka < k]
        if open_:
            false_reports[open_[-1]] = false_reports.get(open_[-1], 0) + 1

    events = row.get("events")
    records = []
    for q in questions:
        qid, ka = q["id"], asked[q["id"]]
        mine = [owed[i] for i in answers.get(qid, []) if owed[i].get("kind") != "ack"]
        rec: dict[str, Any] = {"id": qid, "type": q["type"], "kind": q.get("kind"), "heldout": bool(q.get("heldout"))}
        if q["type"] in ("realtime", "backward"):
            if not mine:
                continue
            facts, k = mine[0].get("facts") or {}, chunk_of(float(mine[0]["time"]))
            rec["correct"] = k in said and agrees(facts, said[k])
            found = wording_of(str(q.get("kind")), str(q.get("text") or ""))
            rec["wording"] = found[0] if found else None
            rec["reply"] = reply_form(said.get(k, ""))
            rec["correct_next"] = rec["correct"] or (k + 1 in said and agrees(facts, said[k + 1]))
        else:
            rec["acked"] = ka in said
            named = target_text(q["target"]) if q["type"] == "proactive" and q.get("target") else None
            rec["ack_worded"] = ka in said and is_acknowledgement(q["type"], said[ka], named)
        if q["type"] == "proactive":
            rec["has_target"] = bool(mine)
            if mine:
                i = answers[qid][-1]
                k_ev = chunk_of(float(owed[i]["time"]))
                rec["on_time"] = i in claimed_by
                rec["delay"] = claimed_by[i] - k_ev if i in claimed_by else None
                rec["early"] = any(ka < k < k_ev for k in stray)
                rec["early_named"] = any(ka < k < k_ev and agrees(q.get("target") or {}, said[k]) for k in stray)
            else:
                rec["silent_ok"] = not any(k > ka for k in stray)
        if q["type"] == "multi":
            idx = [i for i in answers.get(qid, []) if owed[i].get("kind") != "ack"]
            hits = [i for i in idx if i in claimed_by]
            rec["events"], rec["hits"] = len(idx), len(hits)
            rec["delays"] = [claimed_by[i] - chunk_of(float(owed[i]["time"])) for i in hits]
            rec["reports"] = len(hits) + false_reports.get(qid, 0)
        records.append(rec)

    due: set[int] = set()
    for r in owed:
        k = chunk_of(float(r["time"]))
        due.update(range(k, k + tolerance + 1))
    free = [k for k in range(n) if k not in due]
    event_free = sorted({chunk_of(float(e["time"])) for e in events} & set(free)) if events is not None else None
    return {
        "questions": records,
        "chunks": n,
        "free_chunks": len(free),
        "free_silent": sum(1 for k in free if k not in said),
        "event_free_chunks": None if event_free is None else len(event_free),
        "event_free_silent": None if event_free is None else sum(1 for k in event_free if k not in said),
        "replies": len(said),
        "unclaimed": len(unclaimed),
        "stray": len(stray),
        "unclaimed_by": None if events is None else unclaimed_contexts(unclaimed, questions, owed, events, tolerance),
    }


UNCLAIMED_CONTEXTS: dict[str, str] = {
    "question_chunk": "in a question's own chunk (a wrong answer or acknowledgement)",
    "event_asked_kind": "at an event of a kind an open multi-response question asks for (wrong object, "
                        "repeated or late)",
    "event_other_kind": "at an event of another kind than every open multi-response question asks for",
    "event_proactive_only": "at an event, no multi-response question open, a proactive question waiting",
    "event_nothing_open": "at an event, no proactive or multi-response question asked yet",
    "no_event": "where nothing happened (nor in the chunks of the window before)",
}
"""What was around a reply nobody owed (``unclaimed_contexts``), in the order checked."""


def chunk_contexts(chunks: Iterable[int], questions: list[dict[str, Any]], owed: list[dict[str, Any]],
                   events: list[dict[str, Any]], tolerance: int = TOLERANCE_CHUNKS) -> dict[int, str]:
    """The ``UNCLAIMED_CONTEXTS`` case of each of ``chunks``: the first that holds. An event counts
    for chunk ``k`` when its chunk is ``k`` or up to ``tolerance`` before; a multi-response question
    is open from the chunk after it was asked; a proactive question waits from then until its
    answer's chunk (or forever if it is owed none)."""
    asked = {q["id"]: chunk_of(float(q["time"])) for q in questions}
    answer_chunk: dict[str, int] = {}
    for r in owed:
        if r.get("kind") != "ack":
            answer_chunk.setdefault(r["question_id"], chunk_of(float(r["time"])))
    event_kinds: dict[int, set[str]] = {}
    for e in events:
        event_kinds.setdefault(chunk_of(float(e["time"])), set()).add(str(e.get("kind")))
    out: dict[int, str] = {}
    for k in chunks:
        seen = set().union(*(event_kinds.get(c, set()) for c in range(k - tolerance, k + 1)))
        multis = {str((q.get("target") or {}).get("event")) for q in questions
                  if q["type"] == "multi" and asked[q["id"]] < k}
        waiting = any(q["type"] == "proactive" and asked[q["id"]] < k <= answer_chunk.get(q["id"], math.inf)
                      for q in questions)
        if k in asked.values():
            out[k] = "question_chunk"
        elif not seen:
            out[k] = "no_event"
        elif seen & multis:
            out[k] = "event_asked_kind"
        elif multis:
            out[k] = "event_other_kind"
        elif waiting:
            out[k] = "event_proactive_only"
        else:
            out[k] = "event_nothing_open"
    return out


def unclaimed_contexts(unclaimed: Iterable[int], questions: list[dict[str, Any]], owed: list[dict[str, Any]],
                       events: list[dict[str, Any]], tolerance: int = TOLERANCE_CHUNKS) -> dict[str, int]:
    """How many of the ``unclaimed`` reply chunks fall in each ``UNCLAIMED_CONTEXTS`` case
    (``chunk_contexts``; a diagnostic of where false alarms come from, each chunk counted once)."""
    counts = dict.fromkeys(UNCLAIMED_CONTEXTS, 0)
    for case in chunk_contexts(unclaimed, questions, owed, events, tolerance).values():
        counts[case] += 1
    return counts


def _pct(num: float, den: float) -> float | None:
    return 100.0 * num / den if den else None


def aggregate(scored: list[dict[str, Any]], phrasing: str = "all") -> dict[str, Any]:
    """The metric table (percentages, None where nothing was measured) over streams' records.

    ``phrasing``: ``all``, ``train`` (questions with training phrasings) or ``heldout``. Silence is
    a property of chunks, not questions: it is reported for ``all`` only.
    """
    recs = [r for s in scored for r in s["questions"]
            if phrasing == "all" or r["heldout"] == (phrasing == "heldout")]

    def of(t: str) -> list[dict[str, Any]]:
        return [r for r in recs if r["type"] == t]

    rt, bw, pro, mul = of("realtime"), of("backward"), of("proactive"), of("multi")
    with_t = [r for r in pro if r["has_target"]]
    without = [r for r in pro if not r["has_target"]]
    events = sum(r["events"] for r in mul)
    reports = sum(r["reports"] for r in mul)
    hits = sum(r["hits"] for r in mul)
    delays = [r["delay"] for r in with_t if r.get("delay") is not None] + [d for r in mul for d in r["delays"]]
    out: dict[str, Any] = {
        "realtime_accuracy": _pct(sum(r["correct"] for r in rt), len(rt)),
        "realtime_accuracy_next": _pct(sum(r["correct_next"] for r in rt), len(rt)),
        "backward_accuracy": _pct(sum(r["correct"] for r in bw), len(bw)),
        "proactive_on_time": _pct(sum(r["on_time"] for r in with_t), len(with_t)),
        "proactive_early": _pct(sum(r["early"] for r in with_t), len(with_t)),
        "proactive_early_named": _pct(sum(r["early_named"] for r in with_t), len(with_t)),
        "proactive_silent_when_absent": _pct(sum(r["silent_ok"] for r in without), len(without)),
        "multi_recall": _pct(hits, events),
        "multi_precision": _pct(hits, reports),
        "ack_rate": _pct(sum(r["acked"] for r in pro + mul), len(pro + mul)),
        "ack_worded": _pct(sum(r["ack_worded"] for r in pro + mul), len(pro + mul)),
        "silence": None,
        "silence_at_events": None,
        "mean_delay_chunks": sum(delays) / len(delays) if delays else None,
        "counts": {"realtime": len(rt), "backward": len(bw), "proactive_with_target": len(with_t),
                   "proactive_without_target": len(without), "multi": len(mul), "multi_events": events,
                   "multi_reports": reports},
        "multi_by_kind": multi_by_kind(mul),
    }
    if phrasing == "all":
        free = sum(s["free_chunks"] for s in scored)
        out["silence"] = _pct(sum(s["free_silent"] for s in scored), free)
        out["counts"]["free_chunks"] = free
        with_events = [s for s in scored if s.get("event_free_chunks") is not None]
        if with_events:
            event_free = sum(s["event_free_chunks"] for s in with_events)
            out["silence_at_events"] = _pct(sum(s["event_free_silent"] for s in with_events), event_free)
            out["counts"]["event_free_chunks"] = event_free
        by = [s["unclaimed_by"] for s in scored if s.get("unclaimed_by") is not None]
        if by:
            out["unclaimed_by"] = {case: sum(b.get(case, 0) for b in by) for case in UNCLAIMED_CONTEXTS}
        kinds: dict[str, list[bool]] = {}
        for r in rt + bw:
            kinds.setdefault(f"{r['type']}:{r['kind']}", []).append(r["correct"])
        out["by_kind"] = {k: {"n": len(v), "accuracy": _pct(sum(v), len(v))} for k, v in sorted(kinds.items())}
        out["by_wording"] = by_wording(rt + bw)
    return out


def by_wording(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Real-time and backward accuracy (%) for each question wording (``type:kind`` -> template ->
    ``n``, ``heldout``, ``accuracy`` and the most frequent form of the wrong replies with its count,
    ``reply_form``'s), for the records that name their wording (``score_stream`` finds it from the
    question's text)."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in records:
        if r.get("wording"):
            groups.setdefault((f"{r['type']}:{r['kind']}", str(r["wording"])), []).append(r)
    out: dict[str, dict[str, Any]] = {}
    for (kind, wording), mine in sorted(groups.items()):
        wrong = Counter(str(r.get("reply")) for r in mine if not r["correct"])
        top = wrong.most_common(1)
        out.setdefault(kind, {})[wording] = {
            "n": len(mine), "heldout": bool(mine[0]["heldout"]),
            "accuracy": _pct(sum(r["correct"] for r in mine), len(mine)),
            "wrong_reply": top[0][0] if top else None, "wrong_reply_n": top[0][1] if top else 0}
    return out


def multi_by_kind(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Multi-response recall and precision (%) for each kind of question (``multi_appear``, ...)
    among ``records`` (a kind's false reports are those attributed to its questions)."""
    out: dict[str, dict[str, Any]] = {}
    for kind in sorted({str(r["kind"]) for r in records}):
        mine = [r for r in records if str(r["kind"]) == kind]
        events, hits, reports = (sum(r[f] for r in mine) for f in ("events", "hits", "reports"))
        out[kind] = {"questions": len(mine), "events": events, "recall": _pct(hits, events),
                     "precision": _pct(hits, reports)}
    return out


def verdicts(metrics: dict[str, Any]) -> dict[str, bool | None]:
    """Whether each targeted metric meets the issue's target (None when not measured)."""
    out: dict[str, bool | None] = {}
    for name, (op, target) in TARGETS.items():
        v = metrics.get(name)
        out[name] = None if v is None else (v >= target if op == ">=" else v <= target)
    return out


def latency(rows: list[dict[str, Any]], chunk_seconds: float = 1.0) -> dict[str, Any]:
    """Step latency (p50/p90/p99/max, seconds), time to first token, and real-time factor.

    The real-time factor is total step time / stream time covered (chunks x chunk seconds);
    ``rtf_p99`` is the p99 step time / chunk seconds (what real-time playback needs).
    """
    steps = [s for r in rows for s in r.get("steps") or []]
    step_s = [float(s["step_s"]) for s in steps if s.get("step_s") is not None]
    ttft = [float(s["ttft_s"]) for s in steps if s.get("ttft_s") is not None]
    covered = len(steps) * chunk_seconds
    p99 = percentile(step_s, 99)
    return {
        "steps": len(step_s),
        "step_p50_s": percentile(step_s, 50),
        "step_p90_s": percentile(step_s, 90),
        "step_p99_s": p99,
        "step_max_s": max(step_s) if step_s else None,
        "step_mean_s": sum(step_s) / len(step_s) if step_s else None,
        "ttft_p50_s": percentile(ttft, 50),
        "ttft_p99_s": percentile(ttft, 99),
        "rtf": sum(step_s) / covered if covered else None,
        "rtf_p99": p99 / chunk_seconds if p99 is not None else None,
    }
