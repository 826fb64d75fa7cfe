"""StreamingBench (THUNLP-MT): loaders for its four question files, scorer and official results.

Files (each a JSON list of entries ``{time, questions: [...], video_categories, video_path}``):
- ``questions_real.json`` (real-time visual understanding) and ``questions_omni.json`` (omni-source):
  questions ``{task_type, question, time_stamp: "HH:MM:SS", options: [4], answer: "A".."D"}``;
- ``questions_sqa.json`` (sequential QA): a list of per-video lists of such entries; each question
  is asked with the earlier questions of its video and their answers as context;
- ``questions_proactive.json``: ``{task_type, question, time_stamp, ground_truth_time_stamp,
  ground_truth_output}``; the protocol polls every second from ``time_stamp + 1`` to the ground
  truth + 4 s ("is it the right time to output ...?"), and at the first "yes" asks the question.

Scoring: multiple choice = the reply's first character is the answer letter; proactive = the
answer comes within 2 s of the ground-truth time and contains the expected output. Category
and overall scores are micro accuracies (all units pooled), as the official counter does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field, field_validator

from aura.eval.benchmarks.base import (
    Benchmark,
    StrictModel,
    build_items,
    injection_times,
    load_json_list,
    micro_accuracy,
    probe_response,
    probe_results,
    resolve_video,
    stream_answer,
    transcript,
)
from aura.eval.judge import Judge
from aura.eval.rules import SB_PROACTIVE_TOLERANCE_S, sb_option_correct, sb_proactive_correct
from aura.eval.types import (
    AnnotationError,
    Injection,
    Item,
    ItemScore,
    LoadResult,
    Probe,
    RowError,
    clock_seconds,
)

SUBSETS = ("real", "omni", "sqa", "proactive")
POLL_AFTER_GT_S = 4.0
"""The official proactive protocol stops polling 4 s after the ground-truth time."""
SCHEMA_KEYS = {
    "task_type", "question", "time_stamp", "answer", "options", "required_ability",
    "ground_truth_time_stamp", "ground_truth_output",
}


class _Choice(StrictModel):
    task_type: str = Field(min_length=1)
    question: str = Field(min_length=1)
    time_stamp: float
    answer: str = Field(pattern=r"^[A-Z]$")
    options: list[str] = Field(min_length=2, max_length=26)

    @field_validator("time_stamp", mode="before")
    @classmethod
    def _clock(cls, v: Any) -> float:
        return clock_seconds(v, what="time_stamp")


class _Proactive(StrictModel):
    task_type: str = Field(min_length=1)
    question: str = Field(min_length=1)
    time_stamp: float
    ground_truth_time_stamp: float
    ground_truth_output: str = Field(min_length=1)

    @field_validator("time_stamp", "ground_truth_time_stamp", mode="before")
    @classmethod
    def _clock(cls, v: Any) -> float:
        return clock_seconds(v, what="timestamp")


class _Entry(StrictModel):
    video_path: str = Field(min_length=1)
    questions: list[dict[str, Any]] = Field(min_length=1)


def lettered(options: list[str]) -> list[str]:
    """Options with "A. " prefixes (kept when the file already has them)."""
    if all(o.strip()[:2] == f"{chr(65 + i)}." for i, o in enumerate(options)):
        return [o.strip() for o in options]
    return [f"{chr(65 + i)}. {o.strip()}" for i, o in enumerate(options)]


def choice_prompt(question: str, options: list[str], context: str = "") -> str:
    """Multiple choice: optional earlier Q&A context, the question, lettered options, letter only."""
    head = f"{context}\n" if context else ""
    return f"{head}Question: {question}\nOptions:\n" + "\n".join(lettered(options)) + (
        "\nAnswer with only the letter (A, B, C or D) of the best option."
    )


def subset_of(path: Path, data: list[Any]) -> str:
    """Which subset a file holds: from its name (``questions_<subset>``), else from its shape."""
    stem = path.stem.lower()
    for name in SUBSETS:
        if name in stem:
            return name
    if data and isinstance(data[0], list):
        return "sqa"
    questions = [q for e in data if isinstance(e, dict) for q in e.get("questions") or [] if isinstance(q, dict)]
    if any("ground_truth_time_stamp" in q for q in questions):
        return "proactive"
    return "real"


class StreamingBench(Benchmark):
    """StreamingBench: real-time, omni-source, sequential QA and proactive output."""

    name = "streamingbench"
    categories: ClassVar[dict[str, str]] = {}

    def load(self, annotations: list[Path], video_root: Path) -> LoadResult:
        """Items from any of the four question files; a bad entry or question is reported with its index."""
        result, seen = LoadResult(), set()
        for path in annotations:
            data = load_json_list(path)
            subset = subset_of(path, data)
            if subset == "sqa":
                for g, group in enumerate(data):
                    if not isinstance(group, list):
                        result.errors.append(RowError(file=str(path), index=g,
                                                      message=f"sqa group is {type(group).__name__}, not a list"))
                        continue
                    context: list[str] = []
                    for i, e in enumerate(group):
                        build_items(path, [(g, e)], lambda _, r, w=f"{g}/{i}", c=context, s=subset: self._items(
                            s, w, r, video_root, c), result, seen)
            else:
                build_items(path, enumerate(data), lambda i, r, s=subset: self._items(s, str(i), r, video_root, None),
                            result, seen)
        return result

    def _items(self, subset: str, where: str, row: dict[str, Any], root: Path, context: list[str] | None) -> list[Item]:
        entry = _Entry.model_validate(row)
        video = resolve_video(root, entry.video_path)
        items = []
        for j, q in enumerate(entry.questions):
            iid = f"{subset}/{where}/{j}"
            if subset == "proactive":
                p = _Proactive.model_validate(q)
                poll = (f'{p.question} Is it the right time to output "{p.ground_truth_output}"? '
                        "Answer yes or no.")
                items.append(Item(
                    id=iid, benchmark=self.name, task=p.task_type, category=subset, video=video,
                    probes=[Probe(key="poll", time=p.time_stamp + 1, until=p.ground_truth_time_stamp + POLL_AFTER_GT_S,
                                  stop_on="yes", prompt=poll, follow_up=p.question)],
                    injections=[Injection(key="0", time=p.time_stamp, text=p.question)],
                    horizon=p.ground_truth_time_stamp + POLL_AFTER_GT_S,
                    gold={"gt_time": p.ground_truth_time_stamp, "expected": p.ground_truth_output},
                ))
                continue
            c = _Choice.model_validate(q)
            ctx = ""
            if context is not None:
                if context:
                    ctx = "Earlier in this stream: " + " ".join(context)
                context.append(f"At {c.time_stamp:g}s the question was: {c.question} The answer was: {c.answer}.")
            items.append(Item(
                id=iid, benchmark=self.name, task=c.task_type, category=subset, video=video,
                probes=[Probe(key="0", time=c.time_stamp, prompt=choice_prompt(c.question, c.options, ctx))],
                injections=[Injection(key="0", time=c.time_stamp, text=choice_prompt(c.question, c.options))],
                gold={"answer": c.answer},
            ))
        return items

    # ------------------------------------------------------------------ scoring
    def score_row(self, row: dict[str, Any], judge: Judge) -> ItemScore:
        """Multiple choice by first letter; proactive by time (within 2 s) and expected output.

        Stream proactive: the answer is the first reply after the acknowledgement (the reply to
        the chunk the question arrived in); replies earlier than 2 s before the truth are false alarms.
        """
        gold, stream = row.get("gold") or {}, row.get("mode") == "stream"
        out = ItemScore(item_id=str(row["item_id"]), task=row["task"], category=row.get("category", ""))
        if "expected" in gold:
            gt = float(gold["gt_time"])
            if stream:
                asked = injection_times(row).get("0", 0.0)
                later = [(t, x) for t, x in transcript(row) if t > asked]
                first = later[0] if later else None
                out.false_alarms = sum(1 for t, _ in later if t < gt - SB_PROACTIVE_TOLERANCE_S)
            else:
                p = probe_results(row).get("poll") or {}
                at = p.get("answered_at")
                first = (float(at), p.get("follow_up") or "") if at is not None else None
                out.false_alarms = int(first is not None and first[0] < gt - SB_PROACTIVE_TOLERANCE_S)
            ok = first is not None and sb_proactive_correct(first[0], gt, first[1], gold["expected"])
            out.units = [float(ok)]
            if first is not None:
                out.time_errors = [first[0] - gt]
            return out
        said = stream_answer(row, "0") if stream else probe_response(row, "0")
        out.units = [float(sb_option_correct(said, gold["answer"]))]
        return out

    def aggregate(self, scores: list[ItemScore]) -> dict[str, Any]:
        """Per-task accuracy; per subset and overall: micro accuracy over all scored units."""
        cats: dict[str, list[float]] = {}
        for s in scores:
            cats.setdefault(s.category or "?", []).extend(s.units)
        every = [u for s in scores for u in s.units]
        return {
            "tasks": micro_accuracy(scores),
            "categories": {c: 100.0 * sum(u) / len(u) for c, u in sorted(cats.items()) if u},
            "overall": 100.0 * sum(every) / len(every) if every else None,
            "overall_rule": "micro accuracy over all scored questions",
        }

    # ------------------------------------------------------------------ official results
    def looks_official(self, data: Any) -> bool:
        """Official results are the question files with one extra key per question: the model's name."""
        return isinstance(data, list) and bool(data) and bool(_model_keys(data))

    def official_rows(self, data: Any, *, source: str, model: str | None = None, task: str | None = None) -> list[dict]:
        """Rows from an official output file (the question file with ``question[<model>]`` filled in)."""
        if not isinstance(data, list):
            raise AnnotationError(f"{source}: not a StreamingBench output file (expected a JSON list)")
        keys = _model_keys(data)
        if model is None:
            if len(keys) != 1:
                found = sorted(keys) or "none"
                raise AnnotationError(f"{source}: cannot tell the model's key (found {found}); pass --model")
            model = next(iter(keys))
        subset = subset_of(Path(source), data)
        entries = [(f"{g}/{i}", e) for g, grp in enumerate(data) for i, e in enumerate(grp)] if subset == "sqa" \
            else [(str(i), e) for i, e in enumerate(data)]
        rows = []
        for where, entry in entries:
            for j, q in enumerate(entry.get("questions") or []):
                if model not in q:
                    continue
                base = {"benchmark": self.name, "mode": "protocol", "item_id": f"{subset}/{where}/{j}",
                        "task": q.get("task_type", "?"), "category": subset, "video": entry.get("video_path", ""),
                        "status": "ok"}
                value = q[model]
                if subset == "proactive":
                    value = value or {}
                    answered = value.get("answered")
                    history = value.get("dialog_history") or []
                    text = next((h.get("content") for h in reversed(history) if h.get("role") == "assistant"), None)
                    at = float(answered) if answered not in (None, False) else None
                    base["gold"] = {"gt_time": clock_seconds(q["ground_truth_time_stamp"]),
                                    "expected": q["ground_truth_output"]}
                    base["probes"] = [{"key": "poll", "answered_at": at, "follow_up": text if at is not None else None}]
                else:
                    resp = value if isinstance(value, str) else None
                    base["gold"] = {"answer": q["answer"]}
                    base["probes"] = [{"key": "0", "response": resp, "silent": not resp}]
                rows.append(base)
        return rows


def _model_keys(data: list[Any]) -> set[str]:
    keys: set[str] = set()
    entries = [e for grp in data for e in (grp if isinstance(grp, list) else [grp])]
    for e in entries:
        if isinstance(e, dict):
            for q in e.get("questions") or []:
                if isinstance(q, dict):
                    keys |= set(q) - SCHEMA_KEYS
    return keys
