"""Corrupted histories: stream samples whose context holds a false report the model "said".

Training contexts hold only correct earlier replies, but at inference the model's own false
reports fill its context, and a model that never saw one treats speech as a cue for more
speech (exposure bias). ``corrupt_history`` replaces one earlier ``<|silent|>`` turn of a
stream sample with a plausible but false report: a proactive answer or a multi-response report
about a random object. Under the balanced loss an earlier non-silent reply is not supervised
(``aura.train.labels``), so the sample still teaches silence at every later silent turn and
the right reply at its target, now after a context with a mistake in it.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from aura.stream.messages import is_silent
from aura.world.phrasing import ANSWERS, fill, pick
from aura.world.vocab import COLOURS, SHAPES

REPORT_KINDS = ("proactive", "multi_appear", "multi_disappear", "multi_colour")


def false_report(rng: np.random.Generator) -> str:
    """A report in the world's wording about a random object (true of nothing in particular)."""
    kind = REPORT_KINDS[int(rng.integers(len(REPORT_KINDS)))]
    colour, old = (str(c) for c in rng.choice(COLOURS, size=2, replace=False))
    shape = str(rng.choice(SHAPES))
    return fill(pick(ANSWERS, kind, rng), colour=colour, shape=shape, old=old)


def corrupt_history(sample: dict[str, Any], rng: np.random.Generator) -> dict[str, Any] | None:
    """A copy of ``sample`` with one earlier silent assistant turn, followed by at least one
    more silent turn, replaced by ``false_report`` (so the corrupted sample still supervises
    silence after the mistake); None when the sample has no such turn. ``sample`` is unchanged."""
    messages = sample.get("messages") or []
    silent = [i for i, m in enumerate(messages[:-1]) if is_silent(m)]
    candidates = [i for i in silent if any(j > i for j in silent)]
    if not candidates:
        return None
    out = copy.deepcopy(sample)
    i = candidates[int(rng.integers(len(candidates)))]
    out["messages"][i] = {"role": "assistant", "content": false_report(rng)}
    out["id"] = f"{sample.get('id', '?')}~corrupt"
    return out


def with_corrupted_histories(rows: list[dict[str, Any]], share: float,
                             rng: np.random.Generator) -> list[dict[str, Any]]:
    """``rows`` in order, about ``share`` of them replaced by their ``corrupt_history`` (as many
    samples as before, so training costs the same)."""
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"share must be in [0, 1], got {share}")
    out: list[dict[str, Any]] = []
    for row in rows:
        bad = corrupt_history(row, rng) if share and rng.random() < share else None
        out.append(row if bad is None else bad)
    return out
