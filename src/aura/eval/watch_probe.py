"""``aura eval watch``: a nano checkpoint's *watch* decisions, teacher-forced, on validation streams.

The world evaluation (``aura eval world``) scores whole streams; this probe isolates one decision
a stream needs most: a proactive or multi-response question was asked ``1..gap`` chunks ago
(acknowledged, then silent chunks), and at this chunk the model must speak exactly when the chunk
is the first to show what was asked for. The samples are stage 1's watch samples
(``aura.models.nano.curriculum.watch_samples``) of validation-split world streams not used by the
world evaluation or the calibration, each rendered and decoded like the recipe's training streams.

With ``stream=True`` the decisions are those of whole validation streams instead: at every chunk
that first shows an event, the exact context inference renders there (every question the stream
asked so far, far back ones in the text history) and the turn the stream owes
(``aura.models.nano.stream_decisions``), tagged ``stream:owed`` when a reply is owed and otherwise
by what was open (``stream:`` + the case of ``aura.eval.world_metrics.chunk_contexts``); the
summary adds each silent case's AUC against the owed decisions.

For every sample the probe reads the first token of the decision turn: its *silence margin* is the
best silence logit (``<|silent|>`` or end of turn) minus the best other logit, so the decision is
silent at silence bias ``b`` when ``margin + b > 0``, as ``NanoStreamingModel`` decides. Reported per
kind of decision: how many are right at bias 0, the median margin, and the proactive AUC (how
often an owed answer's margin is below a silent decision's: 1.0 binds every target perfectly).
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from aura.errors import AuraError

SILENT_TAGS = ("proactive-absent", "multi-other", "quiet")
"""Watch tags whose decision is ``<|silent|>``; the others (``proactive-answer``, ``multi-report``) speak."""
SPEAKING_TAGS = ("proactive-answer", "multi-report", "stream:owed")
"""Tags whose decision is a reply; every other tag (``SILENT_TAGS``, ``stream:`` cases) is silent."""
PROBE_SEED_START = 1000
"""The probe's streams are validation-split seeds from here on (the world evaluation and stage 3 use
the first ones)."""


class WatchProbeError(AuraError):
    """The probe cannot run (no checkpoint, bad settings)."""


def decision_margins(checkpoint: str | Path, data_dir: str | Path, *, streams: int = 6, gap: int = 3,
                     targets: int = 4, system: bool = True, seconds: tuple[int, int] | None = None,
                     history: float = 0.0, seed: int = 5, stream: bool = False,
                     split: str = "val") -> dict[str, list[float]]:
    """Silence margins of the decision turn of every watch sample of ``streams`` streams of ``split``
    (rendered into ``data_dir`` once, reused after), grouped by the sample's watch tag.

    ``gap``: questions asked 1..gap chunks before the decision; ``targets``: proactive targets per
    event chunk (``watch_samples(proactive_targets=)``); ``system``: the samples start with the
    stream system prompt, as in a stream; ``history``: the share of samples given a stream-like
    text history (``question_in_history``); ``stream``: the stream decisions instead (module
    docstring; ``gap``, ``targets``, ``system`` and ``history`` do not apply); ``split``: ``val``
    (validation streams no evaluation uses) or ``train`` (the first training streams as the default
    recipe renders them, with the question plan stage 2 trains on: with ``stream`` and ``seconds``
    left at the recipe's, these are decisions a model of that recipe was trained on, so the probe
    measures how well it fits them). Deterministic for the same arguments.
    """
    from aura.models.nano.checkpoint import load_checkpoint
    from aura.models.nano.curriculum import watch_samples
    from aura.models.nano.recipe import NpyFrames, RecipeConfig, _build_stream, _recipe_stream
    from aura.models.nano.training import nano_chat_format, nano_preprocess
    from aura.train.data import BatchBuilder
    from aura.train.loss import TokenKind
    from aura.world import split_seeds

    if streams < 1 or gap < 1 or targets < 1:
        raise WatchProbeError(f"streams, gap and targets must be >= 1 (got {streams}, {gap}, {targets})")
    if split not in ("val", "train"):
        raise WatchProbeError(f"split is val or train (got {split!r})")
    if not 0.0 <= history <= 1.0:
        raise WatchProbeError(f"history is a share between 0 and 1 (got {history})")
    model, tok = load_checkpoint(checkpoint)
    cfg = RecipeConfig() if seconds is None else RecipeConfig(seconds=seconds)
    cfg = cfg.model_copy(update={"model": model.cfg})
    out = Path(data_dir)
    out.mkdir(parents=True, exist_ok=True)
    builder = BatchBuilder(nano_chat_format(tok, model.cfg),
                           NpyFrames(out, context_frames=model.cfg.context_frames, size=model.cfg.image_size),
                           nano_preprocess(model), max_length=1 << 14, pad_id=int(tok.pad_token_id))
    quiet = [tok.convert_tokens_to_ids("<|silent|>"), tok.convert_tokens_to_ids("<|im_end|>")]
    system_prompt = cfg.context().system_prompt
    margins: dict[str, list[float]] = defaultdict(list)

    def margin(sample: dict[str, Any]) -> float:
        """The silence margin at the first token of ``sample``'s target turn."""
        batch = builder.build([(0, sample)])
        with torch.inference_mode():
            logits = model(batch.input_ids, batch.pixel_values_videos, None, batch.attention_mask)[0][0]
        kinds = batch.kinds[0]
        first = int(torch.nonzero((kinds == TokenKind.TARGET) | (kinds == TokenKind.HARD_SILENT))[0])
        row = logits[first - 1].clone()
        silent = row[quiet].max()
        row[quiet] = -torch.inf
        return float(silent - row.max())

    seeds = split_seeds("val", streams, start=PROBE_SEED_START) if split == "val" else split_seeds("train", streams)
    for s in seeds:
        _build_stream((s, str(out), cfg.model_dump(mode="json")))
        world, _ = _recipe_stream(s, cfg)
        if stream:
            for sample, tag in _stream_samples(world, cfg.context()):
                margins[tag].append(margin(sample))
            continue
        rng = np.random.default_rng([s, seed])
        for sample in watch_samples(world, f"world-{s}.mp4", rng, proactive_targets=targets, max_gap=gap,
                                    history_share=history):
            msgs = sample["messages"]
            replies = [i for i, m in enumerate(msgs) if m["role"] == "assistant"]
            # a silent decision is followed by a real-time question (samples end at a reply)
            decision = replies[-2] if sample["watch"] in SILENT_TAGS else replies[-1]
            cut = [dict(m) for m in msgs[: decision + 1]]
            if sample["watch"] in SILENT_TAGS:
                cut[-1]["hard"] = True  # a silent last turn is a valid target when marked hard
            if system:
                cut = [{"role": "system", "content": system_prompt}, *cut]
            margins[sample["watch"]].append(margin({**sample, "messages": cut}))
    return dict(margins)


def _stream_samples(world: Any, context: Any) -> list[tuple[dict[str, Any], str]]:
    """The stream decisions of ``world`` (its own question plan), each with its probe tag."""
    from aura.eval.world_metrics import chunk_contexts
    from aura.models.nano.hard_negatives import event_chunks
    from aura.models.nano.stream_decisions import stream_decisions

    samples = list(stream_decisions(world.to_timeline(video=f"world-{world.seed}.mp4"), context,
                                    event_chunks(world.scene)))
    events = [{"time": e.sample_time, "kind": e.kind} for e in world.scene.events]
    cases = chunk_contexts([s["anchor_chunk"] for s in samples], [q.model_dump(mode="json") for q in world.questions],
                           [r.model_dump(mode="json") for r in world.responses], events, tolerance=0)
    out = []
    for s in samples:
        if s["watch"] == "stream-report":
            out.append((s, "stream:owed"))
        else:  # a silent target is read where a hard negative's is
            messages = [*s["messages"][:-1], {**s["messages"][-1], "hard": True}]
            out.append(({**s, "messages": messages}, f"stream:{cases[s['anchor_chunk']]}"))
    return out


def summarize(margins: dict[str, list[float]]) -> dict[str, Any]:
    """Per tag: count, share right at bias 0 (a reply for ``SPEAKING_TAGS``, silence otherwise),
    median margin; the proactive AUC (None without both kinds of proactive decision); the
    multi-response AUC (reports of the asked kind against silences at an event of another kind:
    the kind binding; None without both); and with stream decisions, ``stream_auc``: each silent
    ``stream:`` case's AUC against the owed ones (how often an owed margin is below a silent one)."""
    table: dict[str, Any] = {}
    for tag, values in sorted(margins.items()):
        m = np.asarray(values, dtype=np.float64)
        right = (m <= 0) if tag in SPEAKING_TAGS else (m > 0)
        table[tag] = {"n": len(m), "right": round(100.0 * float(right.mean()), 1),
                      "median_margin": round(float(np.median(m)), 2)}
    out: dict[str, Any] = {"decisions": table,
                           "proactive_auc": _rounded_auc(margins.get("proactive-answer", []),
                                                         margins.get("proactive-absent", [])),
                           "multi_auc": _rounded_auc(margins.get("multi-report", []), margins.get("multi-other", []))}
    owed_stream = margins.get("stream:owed", [])
    cases = sorted(t for t in margins if t.startswith("stream:") and t != "stream:owed")
    if cases:
        out["stream_auc"] = {t: _rounded_auc(owed_stream, margins[t]) for t in cases}
        out["stream_auc"]["stream:all"] = _rounded_auc(owed_stream, [v for t in cases for v in margins[t]])
    return out


def _rounded_auc(owed: list[float], free: list[float]) -> float | None:
    """``owed_below_auc`` to three places (None if either side is empty)."""
    from aura.eval.calibrate import owed_below_auc

    auc = owed_below_auc(owed, free)
    return None if auc is None else round(auc, 3)


def add_parser(cmds: Any) -> None:
    """Add ``aura eval watch`` to the ``eval`` group's subparsers."""
    p = cmds.add_parser("watch", help="teacher-forced watch decisions of a nano checkpoint (when to speak)")
    p.add_argument("checkpoint", help="an aura-nano checkpoint directory")
    p.add_argument("--streams", type=int, default=6, help="streams of --split (rendered once into --data-dir)")
    p.add_argument("--gap", type=int, default=3, help="questions asked 1..GAP chunks before the decision")
    p.add_argument("--targets", type=int, default=4, help="proactive targets per event chunk, of each kind")
    p.add_argument("--history", type=float, default=0.0,
                   help="share of samples with a stream-like text history, half of them their own question in it")
    p.add_argument("--no-system", action="store_true", help="no system prompt (as stage 1 trains)")
    p.add_argument("--stream", action="store_true",
                   help="the decisions at the event chunks of whole streams, in their exact contexts, by what "
                   "was open (--gap, --targets, --history and --no-system do not apply)")
    p.add_argument("--split", choices=("val", "train"), default="val",
                   help="val: validation streams no evaluation uses; train: the recipe's own training streams "
                   "(with --stream, the decisions stage 2 trains on: how well the model fits them)")
    p.add_argument("--data-dir", default="runs/watch-probe", help="where the streams are rendered")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=cli_watch)


def cli_watch(args: argparse.Namespace) -> int:
    """Print the per-decision table (or JSON); a directory that is not a checkpoint is a one-line error."""
    summary = summarize(decision_margins(args.checkpoint, args.data_dir, streams=args.streams, gap=args.gap,
                                         targets=args.targets, system=not args.no_system,
                                         history=args.history, stream=args.stream, split=args.split))
    if args.json:
        print(json.dumps(summary))
        return 0
    aucs = summary.get("stream_auc", {})
    print("decision                      n      right %  median margin  AUC vs owed")
    for tag, row in summary["decisions"].items():
        auc = aucs.get(tag)
        print(f"{tag:26s} {row['n']:5d}  {row['right']:9.1f}  {row['median_margin']:+13.2f}"
              + (f"  {auc:11.3f}" if auc is not None else ""))
    if "stream:all" in aucs:
        print(f"every silent stream decision against the owed ones: AUC {aucs['stream:all']}")
    else:
        print(f"proactive AUC (owed answers below silent decisions): {summary['proactive_auc']}")
        print(f"multi-response AUC (reports of the asked kind below silences at another kind): "
              f"{summary['multi_auc']}")
    return 0
