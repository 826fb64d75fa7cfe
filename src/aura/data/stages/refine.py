"""Stage 3: make questions harder and more varied, and insert acknowledgements.

Real-time: the MLLM writes 4 harder variants at the same moment (level 1 perception ... level 4
reasoning); one of the 5 (original + 4) is drawn with ``variant_weights`` and, if a variant was
drawn, re-answered from the video up to that moment. Proactive and multi-response: the question
is rewritten following a randomly drawn phrasing template; a rewrite that loses an entity or a
number of the original is refused (the original is kept, with the reason). Both get an
acknowledgement. Draws are seeded by (seed, QA id): the same on every machine and every re-run.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable

from aura.data.config import RefineConfig
from aura.data.prompts import load_prompt, load_templates
from aura.data.runner import Outcome
from aura.data.schemas import QA, Answer, AnswerOut, RewriteOut, SegmentQAs, VariantsOut
from aura.data.stages.common import ModelStage, fmt_time

STAGE = "refine"
_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def rng_for(seed: int, key: str) -> random.Random:
    """A random generator that depends only on ``seed`` and ``key``."""
    return random.Random(f"{seed}:{key}")


def kept_everything(original: str, rewritten: str, entities: list[str]) -> str | None:
    """None if ``rewritten`` keeps every entity (named in ``original``) and number; else what it lost."""
    low_o, low_r = original.lower(), rewritten.lower()
    for e in entities:
        e_low = e.strip().lower()
        if e_low and e_low in low_o and e_low not in low_r:
            return f"lost entity {e!r}"
    for num in _NUMBER.findall(original):
        if num not in _NUMBER.findall(rewritten):
            return f"lost time/number {num}"
    return None


def refine_segment(seg: SegmentQAs, env: ModelStage, cfg: RefineConfig) -> SegmentQAs:
    """The segment's QAs after variant selection, template rewriting and acknowledgements."""
    p_var, p_ans, p_rw = load_prompt("variants"), load_prompt("answer"), load_prompt("rewrite")
    templates = load_templates(cfg.templates)
    base = {"segment_id": seg.segment.id, "duration": fmt_time(seg.segment.duration)}
    out: list[QA] = []
    for qa in seg.qas:
        rng = rng_for(cfg.seed, qa.id)
        if qa.type == "realtime":
            t = qa.question_time
            media = env.seen_by(seg.segment.path, t)
            variants = env.client.ask(p_var, VariantsOut, media=media, question=qa.question,
                                      answer=qa.answers[0].text, time=fmt_time(t), **base).variants
            pick = rng.choices(range(5), weights=cfg.variant_weights)[0]
            if pick == 0:
                out.append(qa.model_copy(update={"origin": {**qa.origin, "variant": 0}}))
                continue
            question = variants[pick - 1].question.strip()
            answer = env.client.ask(p_ans, AnswerOut, media=media, question=question, time=fmt_time(t), **base)
            out.append(qa.model_copy(update={
                "question": question,
                "answers": [Answer(text=answer.answer.strip(), time=t)],
                "origin": {**qa.origin, "variant": pick, "original": qa.question},
            }))
            continue
        choices = [tpl for tpl in templates if tpl["kind"] == qa.type]
        ack = rng.choice(cfg.acks)
        if not choices:
            out.append(qa.model_copy(update={"ack": ack}))
            continue
        tpl = rng.choice(choices)
        new = env.client.ask(p_rw, RewriteOut, kind=qa.type, question=qa.question,
                             entities=", ".join(qa.entities) or "(none listed)", template=tpl["template"]).question
        new = new.strip()
        lost = kept_everything(qa.question, new, qa.entities)
        origin = {**qa.origin, "template": tpl["id"]}
        if lost:
            origin["rewrite_refused"] = lost
            new = qa.question
        else:
            origin["original"] = qa.question
        out.append(qa.model_copy(update={"question": new, "ack": ack, "origin": origin}))
    prompts = {**seg.prompts, "variants": p_var.id, "answer": p_ans.id, "rewrite": p_rw.id, "templates": cfg.templates}
    return seg.model_copy(update={"qas": out, "prompts": prompts})


def make_processor(env: ModelStage, cfg: RefineConfig) -> Callable[[SegmentQAs], Outcome]:
    """The per-segment function of stage 3 for the runner."""

    def process(seg: SegmentQAs) -> Outcome:
        return Outcome(items=[refine_segment(seg, env, cfg).model_dump(mode="json")])

    return process
