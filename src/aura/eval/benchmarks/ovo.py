"""OVO-Bench (CVPR 2025): loader for ``ovo_bench_new.json``, prompts, scorer and official results.

Annotation rows (one JSON list):
- backward tracing EPM/ASI/HLD and real-time perception STU/OJR/ATR/ACR/OCR/FPD:
  ``{id, task, video, realtime, question, options: [..], gt: <index>}`` - asked once at ``realtime``;
- forward active responding, re-asked at every ``test_info`` time:
  REC ``{activity, test_info: [{realtime, count}]}``, SSR ``{test_info: [{realtime, step, type}]}``,
  CRR ``{question, answer, ask_time, clue_time, test_info: [{realtime, type}]}`` (type 1 = the clue
  has appeared by then).

Scores: per-task accuracy; each category is the mean of its tasks; the total is the mean of the
three category means. Forward tasks count every test time as one unit.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field

from aura.eval.benchmarks.base import (
    Benchmark,
    StrictModel,
    build_items,
    category_of,
    first_response,
    injection_times,
    load_json_list,
    mean,
    micro_accuracy,
    probe_response,
    resolve_video,
    stream_answer,
    transcript,
)
from aura.eval.judge import Judge
from aura.eval.rules import ovo_choice_correct, ovo_count_correct, ovo_yes_no_correct
from aura.eval.types import AnnotationError, Injection, Item, ItemScore, LoadResult, Probe

BACKWARD = ("EPM", "ASI", "HLD")
REALTIME = ("STU", "OJR", "ATR", "ACR", "OCR", "FPD")
FORWARD = ("REC", "SSR", "CRR")
CATEGORIES = {
    **dict.fromkeys(BACKWARD, "backward"), **dict.fromkeys(REALTIME, "realtime"), **dict.fromkeys(FORWARD, "forward")
}


class _Choice(StrictModel):
    id: int | str
    task: Literal["EPM", "ASI", "HLD", "STU", "OJR", "ATR", "ACR", "OCR", "FPD"]
    video: str = Field(min_length=1)
    realtime: float = Field(ge=0)
    question: str = Field(min_length=1)
    options: list[str] = Field(min_length=2, max_length=26)
    gt: int = Field(ge=0)


class _CountTest(StrictModel):
    realtime: float = Field(ge=0)
    count: int = Field(ge=0)


class _Rec(StrictModel):
    id: int | str
    task: Literal["REC"]
    video: str = Field(min_length=1)
    activity: str = Field(min_length=1)
    test_info: list[_CountTest] = Field(min_length=1)


class _StepTest(StrictModel):
    realtime: float = Field(ge=0)
    step: str = Field(min_length=1)
    type: Literal[0, 1]


class _Ssr(StrictModel):
    id: int | str
    task: Literal["SSR"]
    video: str = Field(min_length=1)
    test_info: list[_StepTest] = Field(min_length=1)


class _ClueTest(StrictModel):
    realtime: float = Field(ge=0)
    type: Literal[0, 1]


class _Crr(StrictModel):
    id: int | str
    task: Literal["CRR"]
    video: str = Field(min_length=1)
    question: str = Field(min_length=1)
    ask_time: float | None = Field(None, ge=0)
    clue_time: float | None = Field(None, ge=0)
    test_info: list[_ClueTest] = Field(min_length=1)


def choice_prompt(question: str, options: list[str]) -> str:
    """The multiple-choice prompt: question, lettered options, answer with the letter only."""
    lettered = "; ".join(f"{chr(65 + i)}. {o}" for i, o in enumerate(options))
    return f"Question: {question}\nOptions: {lettered}\nAnswer with only the letter of the correct option."


def count_prompt(activity: str) -> str:
    """REC: count the repetitions of an activity so far, answering with one number."""
    return (
        f"People in this video may repeat an action. How many times did they {activity} so far, in total? "
        "One complete motion counts as one. Answer with a single number."
    )


def step_prompt(step: str) -> str:
    """SSR: is this tutorial step being performed right now (Yes/No)."""
    return f"This tutorial has several steps. Is the person performing this step right now: {step}? Answer Yes or No."


def clue_prompt(question: str) -> str:
    """CRR: do the latest frames give enough information to answer the question (Yes/No)."""
    return (
        f"{question}\nDo the frames so far, especially the latest ones, give enough information to answer "
        "this question? Answer Yes or No."
    )


class OVOBench(Benchmark):
    """OVO-Bench: backward tracing, real-time perception, forward active responding."""

    name = "ovo"
    categories: ClassVar[dict[str, str]] = CATEGORIES

    def load(self, annotations: list[Path], video_root: Path) -> LoadResult:
        """Items from ``ovo_bench_new.json`` (one or more files); bad rows are reported with their index."""
        result, seen = LoadResult(), set()
        for path in annotations:
            build_items(path, enumerate(load_json_list(path)), lambda i, r: [self._item(r, video_root)], result, seen)
        return result

    def _item(self, row: dict[str, Any], root: Path) -> Item:
        task = row.get("task")
        if task in BACKWARD or task in REALTIME:
            a = _Choice.model_validate(row)
            if a.gt >= len(a.options):
                raise ValueError(f"gt {a.gt} is out of range for {len(a.options)} options")
            prompt = choice_prompt(a.question, a.options)
            return Item(
                id=str(a.id), benchmark=self.name, task=a.task, category=CATEGORIES[a.task],
                video=resolve_video(root, a.video),
                probes=[Probe(key="0", time=a.realtime, prompt=prompt)],
                injections=[Injection(key="0", time=a.realtime, text=prompt)],
                gold={"letter": chr(65 + a.gt)},
            )
        if task == "REC":
            r = _Rec.model_validate(row)
            prompt = count_prompt(r.activity)
            times = [t.realtime for t in r.test_info]
            return self._forward(r.id, "REC", r.video, root, [prompt] * len(times), times,
                                 {"counts": [t.count for t in r.test_info], "times": times})
        if task == "SSR":
            s = _Ssr.model_validate(row)
            times = [t.realtime for t in s.test_info]
            return self._forward(s.id, "SSR", s.video, root, [step_prompt(t.step) for t in s.test_info], times,
                                 {"types": [t.type for t in s.test_info], "times": times})
        if task == "CRR":
            c = _Crr.model_validate(row)
            times = [t.realtime for t in c.test_info]
            ask = c.ask_time if c.ask_time is not None else min(times)
            item = self._forward(c.id, "CRR", c.video, root, [clue_prompt(c.question)] * len(times), times,
                                 {"types": [t.type for t in c.test_info], "times": times, "clue_time": c.clue_time})
            # stream mode: the question is asked once; the model should speak when the clue appears
            item.injections = [Injection(key="ask", time=ask, text=c.question)]
            item.horizon = max(times)
            return item
        raise ValueError(f"unknown task {task!r} (expected one of {', '.join(CATEGORIES)})")

    def _forward(self, id_: Any, task: str, video: str, root: Path, prompts: list[str], times: list[float],
                 gold: dict[str, Any]) -> Item:
        pairs = list(enumerate(zip(times, prompts, strict=True)))
        probes = [Probe(key=str(j), time=t, prompt=p) for j, (t, p) in pairs]
        injections = [Injection(key=str(j), time=t, text=p) for j, (t, p) in pairs]
        return Item(id=str(id_), benchmark=self.name, task=task, category="forward", video=resolve_video(root, video),
                    probes=probes, injections=injections, gold=gold)

    # ------------------------------------------------------------------ scoring
    def score_row(self, row: dict[str, Any], judge: Judge) -> ItemScore:
        """Protocol rows use each probe's reply; stream rows the first reply after each injection.

        Stream CRR: a test time before the clue (type 0) is right while the model has said nothing
        since its acknowledgement; after the clue (type 1) once it has spoken. Time error: first
        such reply minus ``clue_time``; false alarms: replies before ``clue_time``.
        """
        task, gold, stream = row["task"], row.get("gold") or {}, row.get("mode") == "stream"
        out = ItemScore(item_id=str(row["item_id"]), task=task, category=category_of(task, CATEGORIES))

        def said(key: str) -> str | None:
            return stream_answer(row, key) if stream else probe_response(row, key)

        if task in BACKWARD or task in REALTIME:
            out.units = [float(ovo_choice_correct(said("0"), gold["letter"]))]
        elif task == "REC":
            out.units = [float(ovo_count_correct(said(str(j)), c)) for j, c in enumerate(gold["counts"])]
        elif task == "SSR":
            out.units = [float(ovo_yes_no_correct(said(str(j)), ty)) for j, ty in enumerate(gold["types"])]
        elif task == "CRR" and stream:
            asked = injection_times(row).get("ask", 0.0)
            for ty, t in zip(gold["types"], gold["times"], strict=True):
                spoke = first_response(row, asked, float(t), after=True) is not None
                out.units.append(float(spoke if ty == 1 else not spoke))
            first = first_response(row, asked, float("inf"), after=True)
            clue = gold.get("clue_time")
            if first is not None and clue is not None:
                out.time_errors = [first[0] - float(clue)]
                out.false_alarms = sum(1 for t, _ in _after(row, asked) if t < float(clue))
        elif task == "CRR":
            out.units = [float(ovo_yes_no_correct(said(str(j)), ty)) for j, ty in enumerate(gold["types"])]
        else:
            raise AnnotationError(f"row {row.get('item_id')}: unknown OVO task {task!r}")
        return out

    def aggregate(self, scores: list[ItemScore]) -> dict[str, Any]:
        """Per-task accuracy; category = mean of its tasks; overall = mean of the category means.

        ``task_mean`` (the plain mean of all task scores) is the earlier official scorer's total,
        reported so older tables can be compared too.
        """
        tasks = micro_accuracy(scores)
        cats: dict[str, float] = {}
        for cat in ("backward", "realtime", "forward"):
            m = mean([v["score"] for t, v in tasks.items() if CATEGORIES.get(t) == cat])
            if m is not None:
                cats[cat] = m
        return {"tasks": tasks, "categories": cats, "overall": mean(list(cats.values())),
                "overall_rule": "mean of the category means (each the mean of its tasks)",
                "task_mean": mean([v["score"] for v in tasks.values()])}

    # ------------------------------------------------------------------ official results
    def looks_official(self, data: Any) -> bool:
        """Official results: ``{"backward": [...], "realtime": [...], "forward": [...]}``."""
        return isinstance(data, dict) and {"backward", "realtime", "forward"} <= set(data)

    def official_rows(self, data: Any, *, source: str, model: str | None = None, task: str | None = None) -> list[dict]:
        """Rows from an official results file (responses per item; forward ones per ``test_info``)."""
        if not self.looks_official(data):
            raise AnnotationError(f"{source}: not an OVO-Bench results file (needs backward/realtime/forward lists)")
        rows = []
        for part in ("backward", "realtime"):
            for i, r in enumerate(data[part] or []):
                if not isinstance(r, dict) or "ground_truth" not in r or "task" not in r:
                    raise AnnotationError(f"{source}: {part}[{i}] lacks task/ground_truth")
                rows.append(_official_row(r, {"letter": r["ground_truth"]}, [("0", r.get("response"))]))
        for i, r in enumerate(data["forward"] or []):
            if not isinstance(r, dict) or "test_info" not in r or "task" not in r:
                raise AnnotationError(f"{source}: forward[{i}] lacks task/test_info")
            tests = r["test_info"]
            gold: dict[str, Any] = {"times": [t.get("realtime") for t in tests]}
            if r["task"] == "REC":
                gold["counts"] = [t["count"] for t in tests]
            else:
                gold["types"] = [t["type"] for t in tests]
            rows.append(_official_row(r, gold, [(str(j), t.get("response")) for j, t in enumerate(tests)]))
        return rows


def _after(row: dict[str, Any], asked: float) -> list[tuple[float, str]]:
    return [(t, x) for t, x in transcript(row) if t > asked]


def _official_row(r: dict[str, Any], gold: dict[str, Any], responses: list[tuple[str, Any]]) -> dict[str, Any]:
    return {
        "benchmark": "ovo", "mode": "protocol", "item_id": str(r.get("id")), "task": r["task"],
        "category": CATEGORIES.get(r["task"], ""), "video": r.get("video", ""), "status": "ok", "gold": gold,
        "probes": [{"key": k, "response": v if isinstance(v, str) else None, "silent": not isinstance(v, str)}
                   for k, v in responses],
    }
