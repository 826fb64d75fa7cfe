"""Metrics: bounded summaries with nearest-rank quantiles, and valid Prometheus text."""

from __future__ import annotations

import math
import re

from aura.serve.metrics import SessionMetrics, Summary, render_prometheus

LINE = re.compile(r'^aura_[a-z0-9_]+(\{session="[^"]+"(,quantile="0\.\d")?\})? (-?\d+(\.\d+)?(e[-+]\d+)?|NaN|\+Inf)$')


def test_summary_quantiles_and_bound() -> None:
    s = Summary(window=100)
    for v in range(1, 1001):
        s.observe(float(v))
    s.observe(math.nan)  # ignored
    assert s.count == 1000 and s.total == 500500.0 and len(s.recent) == 100
    assert s.quantile(0.5) == 950.0 and s.quantile(0.9) == 990.0  # over the last 100: 901..1000
    assert Summary().quantile(0.5) is None


def test_prometheus_text_is_well_formed() -> None:
    a, b = SessionMetrics(), SessionMetrics()
    a.inc("frames_in", 7)
    a.observe("e2e_seconds", 0.8)
    a.chunk_completed(1.0)
    a.chunk_completed(3.0)
    a.inc("steps", 3)
    text = render_prometheus({"s1": a, "s2": b}, {"sessions_active": 2})
    lines = text.strip().splitlines()
    for line in lines:
        assert line.startswith("# HELP ") or line.startswith("# TYPE ") or LINE.match(line), line
    assert 'aura_frames_in_total{session="s1"} 7' in lines
    assert 'aura_e2e_seconds{session="s1",quantile="0.5"} 0.8' in lines
    assert 'aura_e2e_seconds{session="s2",quantile="0.5"} NaN' in lines
    assert 'aura_chunks_per_second{session="s1"} 1.5' in lines
    assert "aura_sessions_active 2.0" in lines
