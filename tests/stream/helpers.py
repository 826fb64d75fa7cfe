"""Helpers for stream tests: drive a context from a compact per-chunk script."""

from __future__ import annotations

from aura.stream import AssistantResponse, ContextConfig, Silence, StreamContext, UserQuestion, VideoChunk

S = "<|silent|>"


def play(
    script: dict[int, tuple[list[tuple[str, str]], tuple[str, str] | None]],
    n_chunks: int,
    config: ContextConfig,
) -> StreamContext:
    """Feed chunks 0..n-1; ``script[k] = ([(qid, text)...], (reply, qid) or None)``."""
    ctx = StreamContext(config)
    for k in range(n_chunks):
        ctx.feed(VideoChunk(k, float(k), float(k + 1)))
        questions, reply = script.get(k, ([], None))
        for qid, text in questions:
            ctx.feed(UserQuestion(text, k + 0.5, qid))
        if reply is None:
            ctx.feed(Silence(k + 1.0))
        else:
            ctx.feed(AssistantResponse(reply[0], k + 1.0, reply[1]))
    return ctx


def summarize(messages: list[dict]) -> list[tuple[str, object]]:
    """Messages as (role, text) with video parts shown as 'V<k>'."""
    out: list[tuple[str, object]] = []
    for m in messages:
        content = m["content"]
        if isinstance(content, str):
            out.append((m["role"], content))
        else:
            bits = []
            for p in content:
                bits.append(f"V{p['chunk']}" if p["type"] == "video" else p["text"])
            out.append((m["role"], " ".join(bits)))
    return out
