"""Per-session metrics of the real-time assistant, and their Prometheus text rendering.

Everything is bounded: summaries keep a fixed-size window of recent observations for quantiles
(plus an exact count and sum); counters and gauges are single numbers.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

SUMMARY_WINDOW = 512
"""Recent observations a summary keeps for its quantiles."""


class Summary:
    """Count, sum and quantiles over the last ``window`` observations (seconds, usually)."""

    def __init__(self, window: int = SUMMARY_WINDOW) -> None:
        self.count = 0
        self.total = 0.0
        self.recent: deque[float] = deque(maxlen=window)

    def observe(self, value: float) -> None:
        """Record one observation (non-finite values are ignored)."""
        if not math.isfinite(value):
            return
        self.count += 1
        self.total += value
        self.recent.append(value)

    def quantile(self, q: float) -> float | None:
        """The q-quantile (nearest rank) of the recent observations; None when there are none."""
        if not self.recent:
            return None
        ordered = sorted(self.recent)
        rank = min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))
        return ordered[rank]

    @property
    def mean(self) -> float | None:
        """Mean over every observation; None when there are none."""
        return self.total / self.count if self.count else None

    def snapshot(self) -> dict[str, float | int | None]:
        """count, mean, p50, p90 and the last value, for the page."""
        return {
            "count": self.count,
            "mean": self.mean,
            "p50": self.quantile(0.5),
            "p90": self.quantile(0.9),
            "last": self.recent[-1] if self.recent else None,
        }


COUNTERS = {
    "frames_in": "frames accepted from the client",
    "frames_dropped": "frames dropped (replaced within a slot, out of order, or chunk queue overflow)",
    "chunks_in": "1-second chunks completed by ingestion",
    "chunks_dropped": "chunks dropped because the model fell too far behind",
    "steps": "model steps run",
    "catchup_steps": "steps that merged several waiting chunks because the model fell behind",
    "chunks_merged": "chunks folded into a catch-up step beyond the first",
    "questions": "questions accepted (typed or spoken)",
    "cancellations": "responses cancelled by a new question",
    "responses": "non-silent responses",
    "tokens": "text pieces generated",
    "sentences": "sentences sent to speech synthesis",
    "sentences_dropped": "sentences dropped because the speech queue was full",
    "audio_chunks": "audio chunks sent",
    "utterances": "spoken utterances cut by the VAD",
    "out_dropped": "outgoing messages dropped because the client did not keep up",
    "bad_messages": "client messages refused (malformed, too large, too fast)",
    "prefill_tokens": "prompt tokens prefilled",
    "reused_tokens": "prompt tokens reused from the KV cache",
}
SUMMARIES = {
    "step_latency_seconds": "time of one model step (prefill + decode)",
    "ttft_seconds": "step start to first generated piece",
    "asr_latency_seconds": "end of user speech to transcript",
    "tts_first_audio_seconds": "sentence ready to its first audio chunk",
    "e2e_seconds": "end of user speech (or typed question) to the first audio byte (first token without TTS)",
    "question_to_first_token_seconds": "question accepted to the first token of its answer",
}
GAUGES = {
    "frame_buffer": "frames of the chunk being filled",
    "ready_chunks": "completed chunks waiting for the model",
    "tts_queue": "sentences waiting for speech synthesis",
    "out_queue": "messages waiting to be sent to the client",
    "pending_questions": "questions waiting for the next chunk",
}


@dataclass
class SessionMetrics:
    """The numbers one session exposes (page and ``/metrics``)."""

    counters: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTERS, 0))
    summaries: dict[str, Summary] = field(default_factory=lambda: {k: Summary() for k in SUMMARIES})
    gauges: dict[str, float] = field(default_factory=lambda: dict.fromkeys(GAUGES, 0.0))
    first_chunk_time: float | None = None
    last_chunk_time: float | None = None

    def inc(self, name: str, by: int = 1) -> None:
        """Add to a counter."""
        self.counters[name] += by

    def observe(self, name: str, value: float) -> None:
        """Record one observation of a summary."""
        self.summaries[name].observe(value)

    def set(self, name: str, value: float) -> None:
        """Set a gauge."""
        self.gauges[name] = value

    def chunk_completed(self, now: float) -> None:
        """Count one ingested chunk at clock time ``now``."""
        self.inc("chunks_in")
        if self.first_chunk_time is None:
            self.first_chunk_time = now
        self.last_chunk_time = now

    @property
    def chunks_per_second(self) -> float:
        """Chunks the model consumed per second of clock time since the first chunk arrived."""
        if self.first_chunk_time is None or self.last_chunk_time is None:
            return 0.0
        span = self.last_chunk_time - self.first_chunk_time
        consumed = self.counters["steps"] + self.counters["chunks_merged"]
        return consumed / span if span > 0 else 0.0

    @property
    def cache_reuse(self) -> float:
        """Share of prompt tokens reused from the KV cache (0 when nothing was prefilled)."""
        reused, prefilled = self.counters["reused_tokens"], self.counters["prefill_tokens"]
        return reused / (reused + prefilled) if reused + prefilled else 0.0

    def snapshot(self) -> dict[str, object]:
        """A JSON-friendly view for the page's latency panel."""
        return {
            "counters": dict(self.counters),
            "gauges": dict(self.gauges),
            "latency": {k: v.snapshot() for k, v in self.summaries.items()},
            "chunks_per_second": self.chunks_per_second,
            "cache_reuse": self.cache_reuse,
        }


def _fmt(value: float) -> str:
    return repr(float(value)) if math.isfinite(value) else ("+Inf" if value > 0 else "NaN")


def render_prometheus(sessions: Mapping[str, SessionMetrics], server: Mapping[str, float] | None = None) -> str:
    """Prometheus text exposition (format 0.0.4): server gauges, then every metric per session label."""
    lines: list[str] = []
    for name, value in (server or {}).items():
        lines += [f"# TYPE aura_{name} gauge", f"aura_{name} {_fmt(value)}"]

    def family(name: str, kind: str, help_text: str, rows: Iterable[str]) -> None:
        lines.extend([f"# HELP aura_{name} {help_text}", f"# TYPE aura_{name} {kind}", *rows])

    items = sorted(sessions.items())
    for key, help_text in COUNTERS.items():
        family(f"{key}_total", "counter", help_text,
               [f'aura_{key}_total{{session="{sid}"}} {m.counters[key]}' for sid, m in items])
    for key, help_text in GAUGES.items():
        family(key, "gauge", help_text, [f'aura_{key}{{session="{sid}"}} {_fmt(m.gauges[key])}' for sid, m in items])
    family("chunks_per_second", "gauge", "chunks consumed by the model per second",
           [f'aura_chunks_per_second{{session="{sid}"}} {_fmt(m.chunks_per_second)}' for sid, m in items])
    family("cache_reuse_ratio", "gauge", "share of prompt tokens reused from the KV cache",
           [f'aura_cache_reuse_ratio{{session="{sid}"}} {_fmt(m.cache_reuse)}' for sid, m in items])
    for key, help_text in SUMMARIES.items():
        rows = []
        for sid, m in items:
            s = m.summaries[key]
            for q in (0.5, 0.9):
                v = s.quantile(q)
                rows.append(f'aura_{key}{{session="{sid}",quantile="{q}"}} {_fmt(v if v is not None else math.nan)}')
            rows.append(f'aura_{key}_sum{{session="{sid}"}} {_fmt(s.total)}')
            rows.append(f'aura_{key}_count{{session="{sid}"}} {s.count}')
        family(key, "summary", help_text, rows)
    return "\n".join(lines) + "\n"
