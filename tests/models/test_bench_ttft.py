"""``aura bench ttft`` end to end on a short stream (structure and cache accounting, not timings)."""

from __future__ import annotations

import json

from aura.bench.ttft import format_table, run, synthetic_stream


def test_synthetic_stream_is_deterministic():
    a, b = synthetic_stream(30, 32, seed=1), synthetic_stream(30, 32, seed=1)
    assert [(c.index, q) for c, q in a] == [(c.index, q) for c, q in b]
    assert all((x.frames == y.frames).all() for (x, _), (y, _) in zip(a, b, strict=True))
    assert sum(q is not None for _, q in a) == 2


def test_ttft_bench_accounting():
    result = run("hf", ["floating", "fifo", "unbounded"], 11, window=4, float_chunks=2, max_new_tokens=1, warmup=1)
    pol = result["policies"]
    assert {p["steps"] for p in pol.values()} == {11}
    # floating reuses its whole previous prompt between evictions: at least the ideal bound
    assert pol["floating"]["reused_vs_ideal"] >= 0.9
    assert pol["unbounded"]["rebuilds"] == 0 and pol["floating"]["rebuilds"] >= 2
    assert pol["fifo"]["rebuilds"] > pol["floating"]["rebuilds"]
    assert pol["fifo"]["prefill_tokens_mean"] > pol["floating"]["prefill_tokens_mean"]
    assert result["ratios"]["fifo/floating"]["prefill_tokens"] > 1
    table = format_table(result)
    assert table.count("\n| ") == 3 and "fifo/floating" in table
    json.dumps(result)
