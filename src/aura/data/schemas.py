"""Pydantic schemas: what the MLLM must return at each step, and the records stages exchange.

Model outputs ignore extra keys (models add them) but require every field the engine uses;
a reply that does not fit is retried, then rejected with the validation error as its reason.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

QAKind = Literal["realtime", "proactive", "multi"]


class _Out(BaseModel):
    model_config = ConfigDict(extra="ignore")


# ---- model outputs -------------------------------------------------------------------------

class Scene(_Out):
    """One scene description over a time interval (seconds of segment time)."""

    start: float = Field(ge=0)
    end: float = Field(ge=0)
    description: str = Field(min_length=1)


class ScenesOut(_Out):
    scenes: list[Scene] = Field(min_length=1)


class RealtimeCandidate(_Out):
    question: str = Field(min_length=1)
    answer: str = Field(min_length=1)
    time: float = Field(ge=0)
    entities: list[str] = Field(default_factory=list)


class ProactiveCandidate(_Out):
    question: str = Field(min_length=1)
    answer: str = Field(min_length=1)
    question_time: float = Field(ge=0)
    answer_time: float = Field(ge=0)
    entities: list[str] = Field(default_factory=list)


class CandidatesOut(_Out):
    realtime: list[RealtimeCandidate] = Field(default_factory=list)
    proactive: list[ProactiveCandidate] = Field(default_factory=list)


class CandidateCheck(_Out):
    """The MLLM's verdict on one candidate, seeing only the video up to the answer time."""

    reasonable: bool
    supported: bool
    timestamp_ok: bool
    natural: bool = True
    reason: str = ""


class MultiQuestion(_Out):
    question: str = Field(min_length=1)
    time: float = Field(ge=0)
    entities: list[str] = Field(default_factory=list)


class MultiQuestionsOut(_Out):
    questions: list[MultiQuestion] = Field(default_factory=list)


class MultiQuestionCheck(_Out):
    reasonable: bool
    repeatable: bool
    reason: str = ""


class TimedAnswer(_Out):
    text: str = Field(min_length=1)
    time: float = Field(ge=0)


class MultiAnswersOut(_Out):
    answers: list[TimedAnswer] = Field(default_factory=list)


class AnswerCheck(_Out):
    supported: bool
    timestamp_ok: bool
    reason: str = ""


class Variant(_Out):
    level: int = Field(ge=1, le=4)
    question: str = Field(min_length=1)


class VariantsOut(_Out):
    variants: list[Variant] = Field(min_length=4)

    @model_validator(mode="after")
    def _levels_one_to_four(self) -> VariantsOut:
        if sorted(v.level for v in self.variants) != [1, 2, 3, 4]:
            raise ValueError("variants must have levels 1, 2, 3 and 4, once each")
        self.variants.sort(key=lambda v: v.level)
        return self


class AnswerOut(_Out):
    answer: str = Field(min_length=1)


class RewriteOut(_Out):
    question: str = Field(min_length=1)


class JudgeOut(_Out):
    """The judge's verdict on a sample's target answer."""

    correct: bool
    grounded: bool
    temporally_consistent: bool
    not_hallucinated: bool
    timing_ok: bool = True
    reason: str = ""


# ---- records between stages ----------------------------------------------------------------

class _Rec(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SegmentRecord(_Rec):
    """One prepared segment: an H.264 mp4 at the stream rate, verified by decoding it back."""

    id: str
    source_id: str
    index: int
    path: str = Field(description="mp4 path relative to the work directory")
    start: float = Field(description="segment start in the source (s)")
    end: float = Field(description="segment end in the source (s)")
    duration: float
    fps: float
    frames: int
    width: int
    height: int
    codec: str
    sha256: str
    bytes: int


class SourceRecord(_Rec):
    """One source video of stage 1 (a manifest row): its facts and its segments."""

    id: str
    source: str
    duration: float
    width: int
    height: int
    src_fps: float | None
    src_codec: str
    segments: list[SegmentRecord]
    dropped_tail: float = 0.0
    declared_duration: float | None = Field(None, description="what the container claims")
    truncated: bool = Field(False, description="decoding stopped well before the declared duration")


class Answer(_Rec):
    text: str
    time: float


class QA(_Rec):
    """A verified QA of one segment: a question at a time and its timed answers."""

    id: str
    type: QAKind
    question: str
    question_time: float
    answers: list[Answer]
    entities: list[str] = Field(default_factory=list)
    ack: str | None = None
    origin: dict[str, str | int | float | None] = Field(default_factory=dict)


class Rejection(_Rec):
    """A candidate that did not survive, and why."""

    type: QAKind
    question: str
    reason: str


class SegmentQAs(_Rec):
    """Stage 2/3 output for one segment."""

    id: str
    segment: SegmentRecord
    scenes: list[Scene] = Field(default_factory=list)
    qas: list[QA] = Field(default_factory=list)
    rejected: list[Rejection] = Field(default_factory=list)
    prompts: dict[str, str] = Field(default_factory=dict, description="prompt versions used")
