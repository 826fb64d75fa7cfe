"""OmniMMI (CVPR 2025): loaders for its six task files, scorer (with an LLM-judge hook), official results.

Task files (JSON lists):
- ``action_prediction.json`` (AP): ``{video, question, answer, vocab: [...]}`` - asked at the end;
- ``speaker_identification.json`` (SI): ``{video, question, answer, timestamp}``;
- ``dynamic_state_grounding.json`` (SG) and ``multiturn_dependency_reasoning.json`` (MD):
  ``{video, qa: [{question, answer, timestamp: "s -- e"}]}`` - each turn asked at its span's
  midpoint; in MD ``##ANSWER##`` in a question stands for the model's previous answer;
- ``proactive_alerting.json`` (PA): ``{video, question, answer: [s, e]}`` - asked at the start;
- ``proactive_turntaking.json`` (PT): ``{video, conversation: [{human, assistant}, ..., {human}]}``
  - the last utterance needs no reply: the model should stay silent.

Scores: AP/SI by a judge; SG/MD per turn by a judge, the task score being the mean over k=1..3 of
"the first k turns all correct"; PA: the first response falls in the span (precision and IoU
also reported); PT: silence. Overall: mean of the task scores; ``avg_wo_p``: mean of SG, AP,
MD, SI (the official leaderboard's "avg. w/o P").
"""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field

from aura.eval.benchmarks.base import (
    Benchmark,
    StrictModel,
    build_items,
    injection_times,
    load_json_list,
    mean,
    probe_response,
    probe_results,
    resolve_video,
    stream_answer,
    transcript,
)
from aura.eval.judge import Judge
from aura.eval.rules import pa_first_in_window, pa_iou, pa_precision, pt_stayed_silent
from aura.eval.types import AnnotationError, Injection, Item, ItemScore, LoadResult, Probe, span_seconds

FILES = {
    "action_prediction": "AP",
    "speaker_identification": "SI",
    "dynamic_state_grounding": "SG",
    "multiturn_dependency_reasoning": "MD",
    "proactive_alerting": "PA",
    "proactive_turntaking": "PT",
}
TASKS = ("SG", "AP", "MD", "SI", "PA", "PT")
WITHOUT_P = ("SG", "AP", "MD", "SI")
MAX_STEPS = 3
"""SG/MD scores average the cumulative accuracy of the first 1..3 turns."""
PT_ASK_BEFORE_END_S = 2.0
MAX_PROMPT_CHARS = 1900


class _AP(StrictModel):
    video: str = Field(min_length=1)
    question: str = Field(min_length=1)
    answer: str = Field(min_length=1)
    vocab: list[str] = Field(min_length=1)


class _SI(StrictModel):
    video: str = Field(min_length=1)
    question: str = Field(min_length=1)
    answer: str = Field(min_length=1)
    timestamp: float = Field(ge=0)


class _Turn(StrictModel):
    question: str = Field(min_length=1)
    answer: str = Field(min_length=1)
    timestamp: str | list[float]


class _Multi(StrictModel):
    video: str = Field(min_length=1)
    qa: list[_Turn] = Field(min_length=1)


class _PA(StrictModel):
    video: str = Field(min_length=1)
    question: str = Field(min_length=1)
    answer: list[float] = Field(min_length=2, max_length=2)


class _PT(StrictModel):
    video: str = Field(min_length=1)
    conversation: list[dict[str, str]] = Field(min_length=1)


def task_of(path: Path, data: list[Any], task: str | None = None) -> str:
    """The task a file holds: given, from its name, or from the shape of its first row."""
    if task:
        if task.upper() not in TASKS:
            raise AnnotationError(f"unknown OmniMMI task {task!r} (expected one of {', '.join(TASKS)})")
        return task.upper()
    stem = path.stem.lower()
    for name, code in FILES.items():
        if name in stem:
            return code
    for code in TASKS:
        if stem.startswith(code.lower() + "_") or stem == code.lower():
            return code
    first = next((r for r in data if isinstance(r, dict)), {})
    if "vocab" in first:
        return "AP"
    if "conversation" in first:
        return "PT"
    if "qa" in first:
        any_ref = any("##ANSWER##" in t.get("question", "") for r in data if isinstance(r, dict)
                      for t in r.get("qa") or [] if isinstance(t, dict))
        return "MD" if any_ref else "SG"
    if isinstance(first.get("answer"), list):
        return "PA"
    if "timestamp" in first:
        return "SI"
    raise AnnotationError(f"{path}: cannot tell which OmniMMI task this file holds; name it after the task")


def conversation_text(turns: list[dict[str, str]]) -> str:
    """PT: the conversation as one user message (its tail, if very long), last utterance last."""
    lines = []
    for turn in turns:
        if turn.get("human"):
            lines.append(f"User: {turn['human']}")
        if turn.get("assistant"):
            lines.append(f"Assistant: {turn['assistant']}")
    text = "\n".join(lines)
    return text[-MAX_PROMPT_CHARS:]


class OmniMMI(Benchmark):
    """OmniMMI: streaming state awareness (SG, AP, MD) and proactive reasoning (SI, PA, PT)."""

    name = "omnimmi"
    categories: ClassVar[dict[str, str]] = {
        **dict.fromkeys(("SG", "AP", "MD"), "state"), **dict.fromkeys(("SI", "PA", "PT"), "proactive")
    }

    def load(self, annotations: list[Path], video_root: Path) -> LoadResult:
        """Items from any of the six task files; bad rows are reported with their index."""
        result, seen = LoadResult(), set()
        for path in annotations:
            data = load_json_list(path)
            task = task_of(path, data)
            build_items(path, enumerate(data), lambda i, r, t=task: [self._item(t, i, r, video_root)], result, seen)
        return result

    def _item(self, task: str, i: int, row: dict[str, Any], root: Path) -> Item:
        iid, cat = f"{task.lower()}/{i}", self.categories[task]
        if task == "AP":
            a = _AP.model_validate(row)
            prompt = f"{a.question} Choose the next step from this list: {', '.join(a.vocab)}."
            return Item(id=iid, benchmark=self.name, task=task, category=cat, video=resolve_video(root, a.video),
                        probes=[Probe(key="0", time=0, from_end=True, prompt=prompt)],
                        injections=[Injection(key="0", time=0, from_end=True, text=prompt)], to_end=True,
                        gold={"questions": [a.question], "answers": [a.answer]})
        if task == "SI":
            s = _SI.model_validate(row)
            return Item(id=iid, benchmark=self.name, task=task, category=cat, video=resolve_video(root, s.video),
                        probes=[Probe(key="0", time=s.timestamp, prompt=s.question)],
                        injections=[Injection(key="0", time=s.timestamp, text=s.question)],
                        gold={"questions": [s.question], "answers": [s.answer]})
        if task in ("SG", "MD"):
            m = _Multi.model_validate(row)
            times = [sum(span_seconds(t.timestamp)) / 2 for t in m.qa]
            if times != sorted(times):
                raise ValueError("qa turns are not in time order")
            return Item(id=iid, benchmark=self.name, task=task, category=cat, video=resolve_video(root, m.video),
                        probes=[Probe(key=str(j), time=t, prompt=q.question)
                                for j, (t, q) in enumerate(zip(times, m.qa, strict=True))],
                        injections=[Injection(key=str(j), time=t, text=q.question)
                                    for j, (t, q) in enumerate(zip(times, m.qa, strict=True))],
                        gold={"questions": [q.question for q in m.qa], "answers": [q.answer for q in m.qa]})
        if task == "PA":
            p = _PA.model_validate(row)
            s, e = span_seconds(p.answer, what="answer")
            return Item(id=iid, benchmark=self.name, task=task, category=cat, video=resolve_video(root, p.video),
                        probes=[Probe(key="poll", time=0, until_end=True, hold=True, prompt=p.question)],
                        injections=[Injection(key="0", time=0, text=p.question)], to_end=True,
                        gold={"span": [s, e]})
        t = _PT.model_validate(row)
        prompt = conversation_text(t.conversation)
        if not prompt:
            raise ValueError("conversation has no utterance")
        return Item(id=iid, benchmark=self.name, task="PT", category=cat, video=resolve_video(root, t.video),
                    probes=[Probe(key="0", time=PT_ASK_BEFORE_END_S, from_end=True, prompt=prompt)],
                    injections=[Injection(key="0", time=PT_ASK_BEFORE_END_S, from_end=True, text=prompt)],
                    to_end=True, gold={})

    # ------------------------------------------------------------------ scoring
    def score_row(self, row: dict[str, Any], judge: Judge) -> ItemScore:
        """Judge AP/SI/SG/MD answers; PA by the first response time; PT by silence.

        Stream PA ignores the acknowledgement (the reply to the chunk the question came in), as
        the official online protocol ignores a response at the question's own time.
        """
        task, gold, stream = row["task"], row.get("gold") or {}, row.get("mode") == "stream"
        out = ItemScore(item_id=str(row["item_id"]), task=task, category=self.categories.get(task, ""))
        if task in ("AP", "SI", "SG", "MD"):
            turns, scores = [], []
            for j, (q, a) in enumerate(zip(gold["questions"], gold["answers"], strict=True)):
                pred = stream_answer(row, str(j)) if stream else probe_response(row, str(j))
                verdict = judge(q, a, pred or "")
                turns.append(float(verdict.correct))
                scores.append(verdict.score)
            out.units = [float(all(turns))]
            out.extra = {"turns": turns, "judge_scores": scores, "judge": judge.name}
        elif task == "PA":
            s, e = gold["span"]
            if stream:
                asked = injection_times(row).get("0", 0.0)
                times = [t for t, _ in transcript(row) if t > asked]
            elif row.get("all_times") is not None:
                times = [float(t) for t in row["all_times"]]
            else:
                at = (probe_results(row).get("poll") or {}).get("answered_at")
                times = [float(at)] if at is not None else []
            out.units = [float(pa_first_in_window(times, s, e))]
            out.extra = {"precision": pa_precision(times, s, e), "iou": pa_iou(times, s, e)}
            if times:
                out.time_errors = [times[0] - s]
                out.false_alarms = sum(1 for t in times if t < s)
        elif task == "PT":
            if stream:
                asked = injection_times(row).get("0", 0.0)
                spoke = [t for t, _ in transcript(row) if t >= asked]
                out.units = [float(not spoke)]
                out.false_alarms = len(spoke)
            else:
                p = probe_results(row).get("0") or {}
                out.units = [float(bool(p.get("silent", not p.get("response"))))]
                out.false_alarms = 0 if out.units[0] else 1
        else:
            raise AnnotationError(f"row {row.get('item_id')}: unknown OmniMMI task {task!r}")
        return out

    def aggregate(self, scores: list[ItemScore]) -> dict[str, Any]:
        """Task scores (SG/MD: mean cumulative-step accuracy), overall mean and the mean without P tasks."""
        by_task: dict[str, list[ItemScore]] = {}
        for s in scores:
            by_task.setdefault(s.task, []).append(s)
        tasks: dict[str, dict[str, Any]] = {}
        for task, group in sorted(by_task.items()):
            entry: dict[str, Any] = {"items": len(group), "units": sum(len(s.units) for s in group)}
            if task in ("SG", "MD"):
                steps = []
                for k in range(1, MAX_STEPS + 1):
                    eligible = [s for s in group if len(s.extra.get("turns", [])) >= k]
                    if eligible:
                        steps.append(100.0 * sum(all(s.extra["turns"][:k]) for s in eligible) / len(eligible))
                entry["steps"] = steps
                entry["score"] = mean(steps) or 0.0
            else:
                units = [u for s in group for u in s.units]
                entry["score"] = 100.0 * sum(units) / len(units) if units else 0.0
            if task == "PA":
                entry["precision"] = 100.0 * (mean([s.extra["precision"] for s in group]) or 0.0)
                entry["iou"] = 100.0 * (mean([s.extra["iou"] for s in group]) or 0.0)
            tasks[task] = entry
        judges = sorted({s.extra["judge"] for s in scores if "judge" in s.extra})
        return {
            "tasks": tasks,
            "categories": {},
            "overall": mean([v["score"] for v in tasks.values()]),
            "avg_wo_p": mean([tasks[t]["score"] for t in WITHOUT_P if t in tasks]),
            "overall_rule": "mean of the task scores (SG/MD: mean of the 1..3-turn cumulative accuracies)",
            "judge": ", ".join(judges) or None,
        }

    # ------------------------------------------------------------------ official results
    def looks_official(self, data: Any) -> bool:
        """Official predictions: rows with a ``pred`` field (or ``qa`` turns with ``pred``)."""
        return isinstance(data, list) and bool(data) and isinstance(data[0], dict) and "item_id" not in data[0] and (
            "pred" in data[0] or any("pred" in t for t in data[0].get("qa") or [] if isinstance(t, dict)))

    def official_rows(self, data: Any, *, source: str, model: str | None = None, task: str | None = None) -> list[dict]:
        """Rows from official prediction lines (``<task>_<model>_<k>.json``, one sample per line)."""
        if not isinstance(data, list):
            raise AnnotationError(f"{source}: not an OmniMMI prediction file")
        code = task_of(Path(source), data, task)
        rows = []
        for i, r in enumerate(data):
            if not isinstance(r, dict):
                raise AnnotationError(f"{source}: line {i + 1} is not an object")
            row: dict[str, Any] = {"benchmark": self.name, "mode": "protocol", "item_id": f"{code.lower()}/{i}",
                                   "task": code, "category": self.categories[code], "video": r.get("video", ""),
                                   "status": "ok"}
            pred = r.get("pred")
            if code in ("AP", "SI"):
                row["gold"] = {"questions": [r.get("question", "")], "answers": [str(r.get("answer", ""))]}
                row["probes"] = [{"key": "0", "response": pred if isinstance(pred, str) else None,
                                  "silent": not (isinstance(pred, str) and pred)}]
            elif code in ("SG", "MD"):
                qa = r.get("qa") or []
                row["gold"] = {"questions": [t.get("question", "") for t in qa],
                               "answers": [str(t.get("answer", "")) for t in qa]}
                row["probes"] = [{"key": str(j), "response": t.get("pred"), "silent": not t.get("pred")}
                                 for j, t in enumerate(qa)]
            elif code == "PA":
                s, e = span_seconds(r.get("answer"), what="answer")
                row["gold"] = {"span": [s, e]}
                row["all_times"] = [float(x) for x in pred] if isinstance(pred, list) else \
                    ([float(pred)] if isinstance(pred, int | float) else [])
            else:
                row["gold"] = {}
                row["probes"] = [{"key": "0", "silent": pt_stayed_silent(pred),
                                  "response": pred if isinstance(pred, str) else None}]
            rows.append(row)
        return rows


def parse_prediction_lines(text: str, source: str) -> list[Any]:
    """OmniMMI prediction files: one JSON object (or Python dict literal) per line."""
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            try:
                out.append(ast.literal_eval(line.strip()))
            except (ValueError, SyntaxError):
                raise AnnotationError(f"{source}:{n}: not a JSON object or dict literal") from None
    return out
