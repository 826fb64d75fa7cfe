"""AURA's stream context: events, the dual sliding window, rendering and sample unrolling.

Pure Python: no torch, no I/O. See ``docs/context.md`` for the rules it implements.
"""

from aura.stream.config import SILENT_TOKEN, SYSTEM_PROMPT, ContextConfig, Policy
from aura.stream.context import Rendered, StreamContext, Turn
from aura.stream.events import AssistantResponse, Event, Silence, UserQuestion, VideoChunk
from aura.stream.exact import unroll_exact
from aura.stream.history import QAGroup, TextHistory
from aura.stream.messages import Message, is_silent
from aura.stream.timeline import Sample, Timeline, TimelineQuestion, TimelineResponse, unroll

__all__ = [
    "SILENT_TOKEN",
    "SYSTEM_PROMPT",
    "AssistantResponse",
    "ContextConfig",
    "Event",
    "Message",
    "Policy",
    "QAGroup",
    "Rendered",
    "Sample",
    "Silence",
    "StreamContext",
    "TextHistory",
    "Timeline",
    "TimelineQuestion",
    "TimelineResponse",
    "Turn",
    "UserQuestion",
    "VideoChunk",
    "is_silent",
    "unroll",
    "unroll_exact",
]
