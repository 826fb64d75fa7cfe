"""Judges for open-ended answers (OmniMMI AP, SI, SG, MD): is a prediction a match for the answer?

- ``MatchJudge``: offline normalised containment. Deterministic and free, but NOT the official
  metric; reports name it so numbers are never confused with published ones.
- ``OpenAIJudge``: the official protocol's LLM judge (a yes/no verdict plus a 0-5 score),
  through any OpenAI-compatible chat endpoint. The client is injected (tests pass a fake).
- ``CachedJudge``: remembers verdicts in a JSONL file so re-scoring never pays twice.
"""

from __future__ import annotations

import ast
import hashlib
import json
import logging
import threading
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel

from aura.eval.rules import normalize_answer
from aura.fileio import append_jsonl, iter_jsonl

log = logging.getLogger(__name__)


class Verdict(BaseModel):
    """A judge's decision on one (question, answer, prediction)."""

    correct: bool
    score: float = 0.0
    error: str | None = None


class Judge(Protocol):
    """Anything that decides whether a prediction matches the correct answer."""

    name: str

    def __call__(self, question: str, answer: str, pred: str) -> Verdict: ...


class MatchJudge:
    """Offline judge: correct when the normalised answer occurs in the normalised prediction."""

    name = "match"

    def __call__(self, question: str, answer: str, pred: str) -> Verdict:
        """Containment after lower-casing and dropping punctuation/articles; empty predictions fail."""
        a, p = normalize_answer(answer), normalize_answer(pred or "")
        ok = bool(a) and bool(p) and f" {a} " in f" {p} "
        return Verdict(correct=ok, score=5.0 if ok else 0.0)


JUDGE_SYSTEM = (
    "You judge whether a predicted answer to a question about a video means the same as the correct "
    "answer. Count synonyms and paraphrases as matches; judge meaning, not wording."
)


def judge_messages(question: str, answer: str, pred: str) -> list[dict[str, str]]:
    """The chat messages sent to an LLM judge (the official protocol's request, in our words)."""
    user = (
        f"Question: {question}\nCorrect answer: {answer}\nPredicted answer: {pred}\n\n"
        "Reply with only a Python dictionary with two keys: 'pred' ('yes' if the prediction matches "
        "the correct answer, else 'no') and 'score' (an integer from 0 to 5, 5 = perfect match). "
        "Example: {'pred': 'yes', 'score': 4}"
    )
    return [{"role": "system", "content": JUDGE_SYSTEM}, {"role": "user", "content": user}]


def parse_verdict(text: str) -> Verdict:
    """Read a judge reply like ``{'pred': 'yes', 'score': 4}``; anything unreadable is a failed verdict."""
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        return Verdict(correct=False, error=f"unreadable judge reply: {text[:80]!r}")
    blob = text[start : end + 1]
    try:
        data = json.loads(blob)
    except json.JSONDecodeError:
        try:
            data = ast.literal_eval(blob)
        except (ValueError, SyntaxError):
            return Verdict(correct=False, error=f"unreadable judge reply: {text[:80]!r}")
    if not isinstance(data, dict):
        return Verdict(correct=False, error=f"unreadable judge reply: {text[:80]!r}")
    pred = str(data.get("pred", "")).strip().lower()
    try:
        score = float(data.get("score", 0))
    except (TypeError, ValueError):
        score = 0.0
    return Verdict(correct="yes" in pred, score=score)


class OpenAIJudge:
    """An LLM judge behind an OpenAI-compatible chat API (client injected, or built from a URL)."""

    def __init__(self, model: str, *, client: Any = None, base_url: str | None = None, api_key: str = "none") -> None:
        if client is None:
            import openai

            client = openai.OpenAI(base_url=base_url, api_key=api_key)
        self.client = client
        self.model = model
        self.name = f"openai:{model}"

    def __call__(self, question: str, answer: str, pred: str) -> Verdict:
        """Ask the judge model; a transport or parse failure becomes a failed verdict with its reason."""
        try:
            reply = self.client.chat.completions.create(
                model=self.model, messages=judge_messages(question, answer, pred), temperature=0
            )
            text = reply.choices[0].message.content or ""
        except Exception as exc:  # the judge is remote: any failure is recorded, never fatal
            return Verdict(correct=False, error=f"judge call failed: {str(exc).splitlines()[0][:120]}")
        return parse_verdict(text)


class CachedJudge:
    """Wrap a judge with a verdict cache kept in memory and (optionally) appended to a JSONL file."""

    def __init__(self, judge: Judge, path: str | Path | None = None) -> None:
        self.judge = judge
        self.name = judge.name
        self.path = Path(path) if path else None
        self._lock = threading.Lock()
        self._cache: dict[str, Verdict] = {}
        if self.path and self.path.is_file():
            for _, row in iter_jsonl(self.path, skip_bad=True):
                if isinstance(row, dict) and "key" in row and "verdict" in row:
                    self._cache[row["key"]] = Verdict.model_validate(row["verdict"])

    def _key(self, question: str, answer: str, pred: str) -> str:
        raw = json.dumps([self.name, question, answer, pred], ensure_ascii=False)
        return hashlib.sha256(raw.encode()).hexdigest()[:32]

    def __call__(self, question: str, answer: str, pred: str) -> Verdict:
        """The cached verdict, or a fresh one (cached unless the judge itself failed)."""
        key = self._key(question, answer, pred)
        with self._lock:
            if key in self._cache:
                return self._cache[key]
        verdict = self.judge(question, answer, pred)
        if verdict.error is None:
            with self._lock:
                self._cache[key] = verdict
                if self.path:
                    append_jsonl(self.path, {"key": key, "verdict": verdict.model_dump()})
        return verdict
