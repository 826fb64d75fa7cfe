"""Typed configuration of the stream context, with the paper's defaults."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

SILENT_TOKEN = "<|silent|>"
"""The literal assistant reply that means "nothing to say at this step"."""

SYSTEM_PROMPT = (
    "You are receiving a live video stream where the final frame is the present moment. "
    "Respond only when a response is needed based on the user's message or the visual context. "
    f"Otherwise, output {SILENT_TOKEN} to signify silence."
)
"""The system prompt of AURA's release (reference §1)."""

Policy = Literal["floating", "fifo", "unbounded"]


class ContextConfig(BaseModel):
    """How the stream context windows the stream.

    Defaults are the paper's: 2 FPS, 1-second chunks, a video window of N=30 chunks that floats
    up to N+N'=45 before the oldest N'=15 leave together, at most M=10 QA groups of text history,
    multi-answer groups capped at 4 rounds.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    fps: float = Field(2.0, gt=0, le=60)
    chunk_seconds: float = Field(1.0, gt=0, le=60)
    window_chunks: int = Field(30, ge=1, description="N: chunks that keep their video")
    float_chunks: int = Field(15, ge=1, description="N': chunks evicted together (floating policy)")
    history_groups: int = Field(10, ge=0, description="M: QA groups kept as text")
    multi_answer_cap: int = Field(4, ge=1, description="rounds a group keeps in the history")
    max_question_chars: int = Field(2000, ge=1)
    max_questions_per_chunk: int = Field(8, ge=1)
    policy: Policy = "floating"
    system_prompt: str = SYSTEM_PROMPT

    @model_validator(mode="after")
    def _frames_per_chunk_is_whole(self) -> ContextConfig:
        frames = self.fps * self.chunk_seconds
        if abs(frames - round(frames)) > 1e-9 or round(frames) < 1:
            raise ValueError(f"fps x chunk_seconds must be a whole number of frames >= 1, got {frames}")
        return self

    @property
    def frames_per_chunk(self) -> int:
        """Frames in one chunk (2 at the paper's settings)."""
        return round(self.fps * self.chunk_seconds)

    @property
    def max_window_chunks(self) -> int | None:
        """The most chunks the video window ever holds (None: unbounded)."""
        if self.policy == "unbounded":
            return None
        if self.policy == "fifo":
            return self.window_chunks
        return self.window_chunks + self.float_chunks - 1
