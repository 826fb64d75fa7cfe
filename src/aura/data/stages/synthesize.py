"""Stage 2: per segment, an MLLM writes scene descriptions and candidate QAs of the three types,
then verifies each candidate seeing only the video up to its answer time (each answer, for
multi-response questions). Rule checks (times inside the segment, answers after questions, at
least two answers a chunk apart) run before any verification request. Every rejected candidate
keeps its reason.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from aura.data.config import SynthesizeConfig
from aura.data.prompts import load_prompt
from aura.data.runner import Outcome
from aura.data.schemas import (
    QA,
    Answer,
    AnswerCheck,
    CandidateCheck,
    CandidatesOut,
    MultiAnswersOut,
    MultiQuestionCheck,
    MultiQuestionsOut,
    Rejection,
    ScenesOut,
    SegmentQAs,
    SegmentRecord,
)
from aura.data.stages.common import ModelStage, fmt_time, scenes_text

STAGE = "synthesize"
PROMPTS = ("scenes", "candidates", "verify_candidate", "multi_questions", "verify_multi_question",
           "multi_answers", "verify_answer")
MAX_QUESTION_CHARS = 2000


def _failed_checks(check: CandidateCheck | AnswerCheck | MultiQuestionCheck, names: tuple[str, ...]) -> list[str]:
    return [n for n in names if not getattr(check, n)]


def _later_chunk(before: float, after: float, cfg: SynthesizeConfig) -> bool:
    """True when ``after`` is ``min_gap_s`` past ``before`` and falls in a later stream chunk."""
    c = cfg.chunk_seconds
    return after >= before + cfg.min_gap_s and math.floor(after / c + 1e-9) > math.floor(before / c + 1e-9)


def synthesize_segment(seg: SegmentRecord, env: ModelStage, cfg: SynthesizeConfig) -> SegmentQAs:
    """Scenes, then verified real-time, proactive and multi-response QAs for one segment.

    Raises ``ItemFailure`` when a request fails after its retries (the segment is retried on a
    later ``--retry-failed`` run).
    """
    p = {name: load_prompt(name) for name in PROMPTS}
    dur = seg.duration
    base = {"segment_id": seg.id, "duration": fmt_time(dur)}
    everything = env.frames(seg.path)
    scenes = env.client.ask(p["scenes"], ScenesOut, media=everything, **base).scenes
    scenes = [s.model_copy(update={"end": min(s.end, dur)}) for s in scenes if s.start < dur and s.end > s.start]
    text = scenes_text(scenes)
    cands = env.client.ask(p["candidates"], CandidatesOut, media=everything, scenes=text,
                           max_realtime=str(cfg.max_realtime), max_proactive=str(cfg.max_proactive), **base)
    qas: list[QA] = []
    rejected: list[Rejection] = []

    def reject(kind: str, question: str, reason: str) -> None:
        rejected.append(Rejection(type=kind, question=question, reason=reason))  # type: ignore[arg-type]

    def question_rule(q: str) -> str | None:
        if not q.strip():
            return "rule: empty question"
        if len(q) > MAX_QUESTION_CHARS:
            return f"rule: question longer than {MAX_QUESTION_CHARS} characters"
        return None

    for i, c in enumerate(cands.realtime[: cfg.max_realtime]):
        why = question_rule(c.question) or (f"rule: time {c.time:g}s outside the segment" if c.time >= dur else None)
        if why:
            reject("realtime", c.question, why)
            continue
        check = env.client.ask(p["verify_candidate"], CandidateCheck, media=env.seen_by(seg.path, c.time),
                               kind="realtime", question=c.question, answer=c.answer,
                               question_time=fmt_time(c.time), answer_time=fmt_time(c.time), **base)
        bad = _failed_checks(check, ("reasonable", "supported", "timestamp_ok"))
        if bad:
            reject("realtime", c.question, f"verify: not {', not '.join(bad)} ({check.reason})")
            continue
        qas.append(QA(id=f"{seg.id}-rt{i}", type="realtime", question=c.question.strip(), question_time=c.time,
                      answers=[Answer(text=c.answer.strip(), time=c.time)], entities=c.entities))

    for i, c in enumerate(cands.proactive[: cfg.max_proactive]):
        why = question_rule(c.question)
        if why is None and (c.question_time >= dur or c.answer_time >= dur):
            why = f"rule: time outside the segment ({c.question_time:g}s, {c.answer_time:g}s)"
        if why is None and not _later_chunk(c.question_time, c.answer_time, cfg):
            why = f"rule: answer at {c.answer_time:g}s is not in a chunk after the question's"
        if why:
            reject("proactive", c.question, why)
            continue
        check = env.client.ask(p["verify_candidate"], CandidateCheck,
                               media=env.seen_by(seg.path, c.answer_time), kind="proactive",
                               question=c.question, answer=c.answer, question_time=fmt_time(c.question_time),
                               answer_time=fmt_time(c.answer_time), **base)
        bad = _failed_checks(check, ("reasonable", "supported", "timestamp_ok", "natural"))
        if bad:
            reject("proactive", c.question, f"verify: not {', not '.join(bad)} ({check.reason})")
            continue
        qas.append(QA(id=f"{seg.id}-pa{i}", type="proactive", question=c.question.strip(),
                      question_time=c.question_time, answers=[Answer(text=c.answer.strip(), time=c.answer_time)],
                      entities=c.entities))

    if cfg.max_multi > 0:
        mqs = env.client.ask(p["multi_questions"], MultiQuestionsOut, media=everything, scenes=text,
                             max_multi=str(cfg.max_multi), **base).questions
        for i, q in enumerate(mqs[: cfg.max_multi]):
            why = question_rule(q.question)
            if why is None and q.time >= dur:
                why = f"rule: time {q.time:g}s outside the segment"
            if why:
                reject("multi", q.question, why)
                continue
            qcheck = env.client.ask(p["verify_multi_question"], MultiQuestionCheck, media=everything, scenes=text,
                                    question=q.question, question_time=fmt_time(q.time), **base)
            bad = _failed_checks(qcheck, ("reasonable", "repeatable"))
            if bad:
                reject("multi", q.question, f"verify: not {', not '.join(bad)} ({qcheck.reason})")
                continue
            answers = env.client.ask(p["multi_answers"], MultiAnswersOut, media=everything, question=q.question,
                                     question_time=fmt_time(q.time), max_answers=str(cfg.max_answers), **base).answers
            kept: list[Answer] = []
            notes: list[str] = []
            for a in answers[: cfg.max_answers]:
                last = kept[-1].time if kept else q.time
                if a.time >= dur or not _later_chunk(last, a.time, cfg):
                    notes.append(f"rule: answer at {a.time:g}s out of order or outside the segment")
                    continue
                acheck = env.client.ask(p["verify_answer"], AnswerCheck, media=env.seen_by(seg.path, a.time),
                                        question=q.question, question_time=fmt_time(q.time), answer=a.text,
                                        answer_time=fmt_time(a.time), **base)
                bad = _failed_checks(acheck, ("supported", "timestamp_ok"))
                if bad:
                    notes.append(f"verify: answer at {a.time:g}s not {', not '.join(bad)}")
                    continue
                kept.append(Answer(text=a.text.strip(), time=a.time))
            if len(kept) < 2:
                reject("multi", q.question, f"fewer than 2 verified answers ({'; '.join(notes) or 'none given'})")
                continue
            qas.append(QA(id=f"{seg.id}-mr{i}", type="multi", question=q.question.strip(), question_time=q.time,
                          answers=kept, entities=q.entities,
                          origin={"dropped_answers": len(notes)} if notes else {}))
    return SegmentQAs(id=seg.id, segment=seg, scenes=scenes, qas=qas, rejected=rejected,
                      prompts={name: pr.id for name, pr in p.items()})


def make_processor(env: ModelStage, cfg: SynthesizeConfig) -> Callable[[SegmentRecord], Outcome]:
    """The per-segment function of stage 2 for the runner."""

    def process(seg: SegmentRecord) -> Outcome:
        return Outcome(items=[synthesize_segment(seg, env, cfg).model_dump(mode="json")])

    return process
