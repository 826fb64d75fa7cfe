"""Stage 5: keep a sample only if its target reply is supported by what the model will see.

Rule checks (no model): the target's evidence time lies inside the retained video window; an
answer does not merely repeat a reply already in the context. Then a judge (same API) sees the
retained window's frames and the text history and checks the target: correct, grounded,
temporally consistent, not hallucinated, and (proactive / multi-response) timed right. Accepted
samples are stored exactly as ``aura.stream.Sample`` rows; rejections keep their reasons.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from aura.data.config import VerifyConfig
from aura.data.prompts import load_prompt
from aura.data.runner import Outcome
from aura.data.schemas import JudgeOut
from aura.data.stages.common import ModelStage, fmt_time
from aura.stream.messages import is_silent, message_text, video_parts

STAGE = "verify"
EPS = 1e-6
_WORDS = re.compile(r"[a-z0-9]+")

JUDGE_FIELDS = {
    "correct": "incorrect",
    "grounded": "not grounded",
    "temporally_consistent": "temporally inconsistent",
    "not_hallucinated": "hallucinated",
    "timing_ok": "mistimed",
}


def window_span(messages: list[dict[str, Any]]) -> tuple[float, float] | None:
    """(start, end) of the video the sample keeps, or None if it keeps none."""
    parts = [p for m in messages for p in video_parts(m)]
    if not parts:
        return None
    return min(p["start"] for p in parts), max(p["end"] for p in parts)


def _norm(text: str) -> str:
    return " ".join(_WORDS.findall(text.lower()))


def rule_check(sample: dict[str, Any]) -> list[str]:
    """Reasons a sample fails the model-free checks (empty when it passes)."""
    reasons = []
    messages = sample["messages"]
    span = window_span(messages)
    ev = sample.get("evidence_time")
    if ev is not None:
        if span is None:
            reasons.append("rule: the sample keeps no video, so its evidence is not visible")
        elif not span[0] - EPS <= ev <= span[1] + EPS:
            reasons.append(f"rule: evidence at {ev:g}s lies outside the retained window "
                           f"{span[0]:g}-{span[1]:g}s")
    if sample.get("response_kind") != "ack":
        target = _norm(message_text(messages[-1]))
        for m in messages[:-1]:
            if m.get("role") == "assistant" and not is_silent(m) and _norm(message_text(m)) == target:
                reasons.append("rule: the answer is already in the history")
                break
    return reasons


def transcript(messages: list[dict[str, Any]]) -> str:
    """The sample's dialogue before the target as judge-readable lines (silent turns left out)."""
    lines = []
    for m in messages[1:-1]:
        text = message_text(m).strip()
        if m.get("role") == "assistant":
            if not is_silent(m) and text:
                lines.append(f"Assistant: {text}")
        elif m.get("role") == "user" and text:
            parts = video_parts(m)
            when = f" (at {parts[0]['start']:g}s)" if parts else " (history)"
            lines.append(f"User{when}: {text}")
    return "\n".join(lines) or "(none)"


def verify_sample(payload: dict[str, Any], env: ModelStage | None, cfg: VerifyConfig) -> Outcome:
    """Rule checks, then the judge; the sample goes to ``items`` if it passes, else to ``rejected``."""
    sample = payload["sample"]
    reasons = rule_check(sample)
    judged = None
    wants_judge = cfg.judge and env is not None and (sample.get("response_kind") != "ack" or cfg.judge_acks)
    if not reasons and wants_judge:
        assert env is not None
        messages = sample["messages"]
        span = window_span(messages) or (0.0, sample["anchor_time"])
        media = env.frames(sample["video"], start=span[0], until=span[1] - 1e-3) if sample.get("video") else []
        judged = env.client.ask(
            load_prompt("judge"), JudgeOut, media=media, segment_id=sample["video_id"],
            window_start=fmt_time(span[0]), window_end=fmt_time(span[1]),
            reply_time=fmt_time(sample["anchor_time"]), kind=sample.get("qa_type") or "unknown",
            history=transcript(messages), question=payload.get("question") or "(unknown)",
            target=message_text(messages[-1]),
        )
        bad = [label for f, label in JUDGE_FIELDS.items() if not getattr(judged, f)]
        if bad:
            reasons.append(f"judge: {', '.join(bad)}"
                           + (f" ({judged.reason})" if judged.reason else ""))
    if reasons:
        return Outcome(rejected=[{"id": sample["id"], "video_id": sample["video_id"], "qa_type": sample.get("qa_type"),
                                  "response_kind": sample.get("response_kind"), "reasons": reasons}])
    return Outcome(items=[sample])


def make_processor(env: ModelStage | None, cfg: VerifyConfig) -> Callable[[dict[str, Any]], Outcome]:
    """The per-sample function of stage 5 for the runner (``env`` None: rule checks only)."""

    def process(payload: dict[str, Any]) -> Outcome:
        return verify_sample(payload, env, cfg)

    return process
