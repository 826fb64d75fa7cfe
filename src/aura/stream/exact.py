"""Exact-context samples: every turn of a timeline trained in the context inference renders at it.

``aura.stream.unroll`` anchors one sample at each reply. Its silent turns are supervised only
inside some later reply's context, and once the window has evicted between the two, that is
not the context inference renders at the silent chunk (the chunks before it are gone, the
history has changed). ``unroll_exact`` covers the timeline instead with one sample per
*stretch*: the chunks between two evictions of the video window. Within a stretch the history
is fixed and the window only grows, so the context at each of its chunks is a prefix of the
context at its last one. A stretch's sample is that last context plus its reply, and it
supervises exactly the stretch's own turns (``"supervise": true``), silent or not; the older
turns of the window and the history are marked ``"supervise": false`` (context only). Every
chunk of the timeline is thus supervised once, in its exact inference context.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from aura.stream.config import ContextConfig
from aura.stream.context import StreamContext
from aura.stream.events import AssistantResponse, Silence
from aura.stream.messages import Message, assistant_message
from aura.stream.timeline import Timeline, replay


def _stretch_messages(ctx: StreamContext, reply: str | None, first: int) -> list[Message]:
    """``ctx``'s messages plus ``reply`` for its open turn, each assistant turn marked supervised
    when its chunk index is at least ``first`` (the history's replies never are)."""
    messages = ctx.messages()
    closed = [turn.chunk.index for turn in ctx.window if turn.closed]
    n_window = len(ctx.window) + len(closed)
    head, window = messages[: len(messages) - n_window], messages[len(messages) - n_window:]
    out = [dict(m, supervise=False) if m["role"] == "assistant" else m for m in head]
    chunks = iter(closed)
    for m in window:
        out.append(dict(m, supervise=next(chunks) >= first) if m["role"] == "assistant" else m)
    out.append(dict(assistant_message(reply), supervise=True))
    return out


def unroll_exact(timeline: Timeline, config: ContextConfig | None = None) -> Iterator[dict[str, Any]]:
    """One sample per stretch of chunks between evictions, in time order (module docstring).

    Each sample is a dict with ``id``, ``video_id``, ``video``, ``anchor_chunk`` (the stretch's
    last chunk), ``first_chunk`` (its first), ``anchor_time`` and ``messages``; its last
    message may be ``<|silent|>``. Raises ``TimelineError`` (naming the video) if the timeline
    does not fit the stream rules.
    """
    config = config or ContextConfig()
    last: dict[str, Any] | None = None
    evictions, first = 0, 0
    for ctx, event, _ in replay(timeline, config):
        if not isinstance(event, (Silence, AssistantResponse)):
            continue
        k = ctx.window[-1].chunk.index
        if ctx.evictions != evictions:  # this chunk's arrival evicted older turns: a new stretch
            if last is not None:
                yield last
            evictions, first = ctx.evictions, k
        reply = event.text.strip() if isinstance(event, AssistantResponse) else None
        last = {"id": f"{timeline.video_id}#x{k}", "video_id": timeline.video_id, "video": timeline.video,
                "anchor_chunk": k, "first_chunk": first, "anchor_time": event.time,
                "messages": _stretch_messages(ctx, reply, first)}
    if last is not None:
        yield last
