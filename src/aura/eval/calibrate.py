"""``aura eval calibrate``: choose a nano checkpoint's silence bias from a validation run.

The Silent-Speech Balanced Loss weighs each silent turn 1/N_silent and the answer 1, so a
model trained with it is biased towards speaking: where it is unsure it speaks. Adding a
bias ``b`` to the first token's silence logits undoes part of that (``NanoStreamingModel``).

A world evaluation run records, for every step, the first token's *silence margin* (silence
logit minus the best other logit, before any bias). A run decoded with bias ``b0`` (0, or a
negative *floor* so that the model speaks more) can be replayed at any ``b >= b0``: a step that
spoke would have stayed silent exactly when ``margin + b >= 0``; steps that were silent stay
silent.
``apply_silence_bias`` replays a run that way and ``calibration_table`` scores each bias with
the world's exact metrics. The replay keeps the model's history as it was (a step silenced in
the replay still had its reply in the context of the later steps), so the choice is checked by
a real run with the chosen bias, which the docs report.

The chosen bias maximises ``objective``: the mean, over the six targets of the issue, of how
much of each target is met (1 when met), with ties going to the smaller bias.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable, Sequence
from typing import Any

from aura.errors import AuraError
from aura.eval.world_metrics import (
    TARGETS,
    TOLERANCE_CHUNKS,
    aggregate,
    chunk_contexts,
    score_stream,
)

DEFAULT_BIASES: tuple[float, ...] = (0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 5.0, 6.0, 8.0)


class CalibrationError(AuraError):
    """A run cannot be calibrated (no margins recorded, or a bias below the run's own asked for)."""


def apply_silence_bias(row: dict[str, Any], bias: float, run_bias: float = 0.0) -> dict[str, Any]:
    """A copy of a results row, decoded with silence bias ``run_bias``, as if decoded with
    ``bias`` (>= ``run_bias``): replies whose recorded margin plus ``bias`` is >= 0 become
    silent; nothing else changes."""
    if bias < run_bias:
        raise CalibrationError(f"a replay can only add silence: bias {bias:g} is below the run's {run_bias:g}")
    out = copy.copy(row)
    steps = []
    for step in row.get("steps") or []:
        margin = step.get("silence_margin")
        if not step.get("silent") and margin is not None and float(margin) + bias >= 0:
            step = {**step, "silent": True, "text": ""}
        steps.append(step)
    out["steps"] = steps
    return out


def objective(metrics: dict[str, Any]) -> float:
    """Mean share of each target met (each capped at 1): a value ``v`` towards ``>= t`` counts
    ``v / t``; towards ``<= t`` it counts ``(100 - v) / (100 - t)``. Missing metrics count 0."""
    parts = []
    for key, (op, target) in TARGETS.items():
        v = metrics.get(key)
        if v is None:
            parts.append(0.0)
        elif op == ">=":
            parts.append(min(1.0, float(v) / target))
        else:
            parts.append(min(1.0, (100.0 - float(v)) / (100.0 - target)))
    return sum(parts) / len(parts)


def calibration_table(rows: Iterable[dict[str, Any]], biases: Sequence[float] = DEFAULT_BIASES, *,
                      tolerance: int = TOLERANCE_CHUNKS, run_bias: float = 0.0) -> list[dict[str, Any]]:
    """For each bias (each >= ``run_bias``, the bias the rows were decoded with): its replayed
    metrics (all phrasings) and objective, in the order given."""
    ok = [r for r in rows if r.get("status") == "ok"]
    if not any(s.get("silence_margin") is not None for r in ok for s in r.get("steps") or []):
        raise CalibrationError("the run recorded no silence margins (run `aura eval world` with a nano model)")
    table = []
    for b in biases:
        scored = [score_stream(apply_silence_bias(r, b, run_bias), tolerance) for r in ok]
        m = aggregate(scored, "all")
        table.append({"bias": float(b), "objective": objective(m), "metrics": m})
    return table


def _owed_and_asked(row: dict[str, Any]) -> tuple[set[int], set[int]]:
    """The chunks of ``row`` owed a proactive answer or a report, and the chunks a question is asked in."""
    questions = row.get("questions") or []
    waits = {q.get("id") for q in questions if q.get("type") in ("proactive", "multi")}
    owed = {math.floor(float(o["time"])) for o in row.get("owed") or []
            if o.get("kind") != "ack" and o.get("question_id") in waits}
    return owed, {math.floor(float(q["time"])) for q in questions}


def owed_below_auc(owed: Sequence[float], free: Sequence[float]) -> float | None:
    """The chance that an ``owed`` margin is lower than a ``free`` one (ties count half); None if either is empty."""
    import numpy as np

    if not len(owed) or not len(free):
        return None
    o, f = np.sort(np.asarray(owed, dtype=float)), np.sort(np.asarray(free, dtype=float))
    lower = np.searchsorted(f, o, side="right") - np.searchsorted(f, o, side="left")  # ties
    greater = len(f) - np.searchsorted(f, o, side="right")
    return float((greater + 0.5 * lower).sum() / (len(o) * len(f)))


def margin_separation(rows: Iterable[dict[str, Any]]) -> dict[str, float | int | None]:
    """How well the recorded silence margins tell the chunks where a proactive answer or a
    report is owed from the chunks where nothing is (chunks where a question is asked left out):
    their medians, counts, and ``auc``, the chance that an owed chunk has a lower margin (leans
    more towards speaking) than a free one (ties count half; 0.5 is no separation, 1 perfect).
    A bias can only trade one kind of error for the other; this is what it has to work with."""
    import numpy as np

    owed_m: list[float] = []
    free_m: list[float] = []
    for r in rows:
        if r.get("status") != "ok":
            continue
        owed, asked = _owed_and_asked(r)
        for step in r.get("steps") or []:
            margin = step.get("silence_margin")
            if margin is None or step.get("k") in asked:
                continue
            (owed_m if step.get("k") in owed else free_m).append(float(margin))
    if not owed_m or not free_m:
        return {"owed": len(owed_m), "free": len(free_m), "median_owed": None, "median_free": None, "auc": None}
    return {"owed": len(owed_m), "free": len(free_m), "median_owed": float(np.median(owed_m)),
            "median_free": float(np.median(free_m)), "auc": owed_below_auc(owed_m, free_m)}


EVENT_CONTEXTS = ("event_asked_kind", "event_other_kind", "event_proactive_only", "event_nothing_open")
"""The ``UNCLAIMED_CONTEXTS`` cases of a chunk that shows an event."""


def margin_separation_by_context(rows: Iterable[dict[str, Any]]) -> dict[str, dict[str, float | int | None]]:
    """``margin_separation``'s AUC of the owed chunks (``owed``: how many) against the free chunks
    that first show an event (nothing owed there or in the window before, no question asked), one
    per ``EVENT_CONTEXTS`` case of ``chunk_contexts`` (``n``: how many): which unasked events the
    model's margins tell from the ones it owes a reply."""
    owed_m: list[float] = []
    by: dict[str, list[float]] = {c: [] for c in EVENT_CONTEXTS}
    for r in rows:
        if r.get("status") != "ok" or r.get("events") is None:
            continue
        owed, asked = _owed_and_asked(r)
        owed_rows = r.get("owed") or []
        due = {c for o in owed_rows for c in range(math.floor(float(o["time"])),
                                                     math.floor(float(o["time"])) + TOLERANCE_CHUNKS + 1)}
        margins = {int(s["k"]): float(s["silence_margin"]) for s in r.get("steps") or []
                   if s.get("silence_margin") is not None}
        owed_m += [margins[k] for k in owed - asked if k in margins]
        firsts = {math.floor(float(e["time"])) for e in r["events"]} - due - asked
        contexts = chunk_contexts(sorted(firsts & set(margins)), r.get("questions") or [], owed_rows, r["events"])
        for k, case in contexts.items():
            if case in by:
                by[case].append(margins[k])
    return {case: {"n": len(values), "owed": len(owed_m), "auc": owed_below_auc(owed_m, values)}
            for case, values in by.items()}


def best_bias(table: list[dict[str, Any]]) -> float:
    """The bias with the highest objective (the smallest such bias on a tie)."""
    if not table:
        raise CalibrationError("no biases to choose from")
    best = max(table, key=lambda r: (round(r["objective"], 9), -r["bias"]))
    return float(best["bias"])


# ---------------------------------------------------------------------------------------------- CLI
def add_parser(cmds: Any) -> None:
    """Add ``aura eval calibrate`` to the ``eval`` group's subparsers."""
    p = cmds.add_parser("calibrate", help="choose a nano silence bias from a world run on the val split")
    p.add_argument("run", help="an `aura eval world` run directory (use --split val, never test)")
    p.add_argument("--biases", type=float, nargs="+", default=list(DEFAULT_BIASES),
                   help="biases to try (>= the run's own --silence-bias)")
    p.add_argument("--write", metavar="CHECKPOINT", help="save the chosen bias in CHECKPOINT/generation.json")
    p.set_defaults(func=cli_calibrate)


def cli_calibrate(args: Any) -> int:
    """Print the replayed metrics of every bias and the chosen one; optionally save it."""
    import json
    from pathlib import Path

    from aura.eval.runner import RESULTS, RUN_META, latest_rows

    run = Path(args.run)
    if not (run / RESULTS).is_file():
        raise CalibrationError(f"{run}: no {RESULTS} (run `aura eval world --split val --out {run}` first)")
    try:
        meta = json.loads((run / RUN_META).read_text()) if (run / RUN_META).is_file() else {}
    except (OSError, ValueError) as exc:
        raise CalibrationError(f"{run / RUN_META}: unreadable ({exc})") from None
    if meta.get("split") == "test":
        raise CalibrationError(f"{run} is a test-split run; calibrate on --split val so the test stays held out")
    run_bias = float((meta.get("settings") or {}).get("silence_bias") or 0.0)
    if run_bias > 0:
        raise CalibrationError(f"{run} ran with silence bias {run_bias:g}; calibrate a run made with "
                               "--silence-bias 0 (or a negative floor)")
    below = sorted(b for b in args.biases if b < run_bias)
    if below:
        raise CalibrationError(f"{run} ran with silence bias {run_bias:g}; it cannot be replayed at {below[0]:g}")
    rows = list(latest_rows(run / RESULTS))
    table = calibration_table(rows, sorted(set(args.biases)), run_bias=run_bias)
    keys = ("realtime_accuracy", "proactive_on_time", "proactive_early", "multi_recall", "multi_precision", "silence")
    print("bias  objective  " + "  ".join(keys))
    for r in table:
        vals = "  ".join("-" if r["metrics"][k] is None else f"{r['metrics'][k]:.1f}" for k in keys)
        print(f"{r['bias']:4.1f}  {r['objective']:.3f}      {vals}")
    sep = margin_separation(rows)
    if sep["auc"] is not None:
        print(f"silence margin: median {sep['median_owed']:.2f} where a reply is owed ({sep['owed']} chunks), "
              f"{sep['median_free']:.2f} elsewhere ({sep['free']}); separation (AUC) {sep['auc']:.3f}")
    bias = best_bias(table)
    print(f"chosen silence bias: {bias:g}")
    if args.write:
        from aura.models.nano.checkpoint import load_checkpoint, save_generation

        load_checkpoint(args.write)  # a real checkpoint, or a one-line error
        print(f"wrote {save_generation(args.write, silence_bias=bias)}")
    return 0
