"""Chat messages in the shape transformers chat templates and OpenAI-compatible APIs take.

A message is a plain dict: ``{"role": ..., "content": ...}``. Text-only content is a string;
a chunk's user turn is a list of parts, the video part first::

    {"type": "video", "chunk": 12, "start": 12.0, "end": 13.0}
    {"type": "text", "text": "What colour is the circle?"}

The video part names its chunk; a backend turns it into pixels (a processor input, a
``video_url`` data URI, ...). Messages hold only JSON values, so they compare, hash and
serialise exactly.
"""

from __future__ import annotations

from typing import Any

from aura.stream.config import SILENT_TOKEN

Message = dict[str, Any]


def system_message(text: str) -> Message:
    """The system prompt message."""
    return {"role": "system", "content": text}


def user_text_message(text: str) -> Message:
    """A text-only user message (history turns; ``""`` for a turn that had only video)."""
    return {"role": "user", "content": text}


def user_chunk_message(index: int, start: float, end: float, text: str | None) -> Message:
    """A chunk's user turn: its video part first, then the question text if any."""
    parts: list[dict[str, Any]] = [{"type": "video", "chunk": index, "start": start, "end": end}]
    if text:
        parts.append({"type": "text", "text": text})
    return {"role": "user", "content": parts}


def assistant_message(text: str | None) -> Message:
    """An assistant turn; None renders as the silent token."""
    return {"role": "assistant", "content": SILENT_TOKEN if text is None else text}


def is_silent(message: Message) -> bool:
    """True for an assistant message whose whole content is the silent token."""
    return message.get("role") == "assistant" and message.get("content") == SILENT_TOKEN


def video_parts(message: Message) -> list[dict[str, Any]]:
    """The video parts of a message, in order (empty for text-only content)."""
    content = message.get("content")
    if not isinstance(content, list):
        return []
    return [p for p in content if isinstance(p, dict) and p.get("type") == "video"]


def message_text(message: Message) -> str:
    """The text of a message with its video parts left out."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    return "".join(p.get("text", "") for p in content or [] if p.get("type") == "text")
