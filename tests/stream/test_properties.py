"""Property tests over random valid streams of up to 5,000 chunks."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aura.stream import ContextConfig, StreamContext, unroll

from .randomstream import live_run

PROPS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

configs = st.builds(
    ContextConfig,
    window_chunks=st.integers(1, 40),
    float_chunks=st.integers(1, 20),
    history_groups=st.integers(0, 12),
    multi_answer_cap=st.integers(1, 6),
    policy=st.sampled_from(["floating", "fifo"]),
)
lengths = st.one_of(st.integers(1, 300), st.integers(300, 5000))
seeds = st.integers(0, 2**32 - 1)


def bounds_check(ctx: StreamContext) -> None:
    cfg = ctx.config
    assert len(ctx.window) <= cfg.window_chunks + cfg.float_chunks
    assert len(ctx.window) <= (cfg.max_window_chunks or 10**9)
    assert len(ctx.history.groups) <= cfg.history_groups
    assert len(ctx.history.pending) <= cfg.history_groups
    for group in ctx.history.groups:
        assert len(group.rounds) <= cfg.multi_answer_cap
        times = [t for t, _ in group.rounds]
        assert times == sorted(times)  # answers stay in time order inside their group
    window_questions = sum(len(t.questions) for t in ctx.window)
    assert len(ctx.open_questions()) <= window_questions + 2 * cfg.history_groups


@PROPS
@given(n=lengths, seed=seeds, config=configs)
def test_windows_and_history_stay_bounded(n: int, seed: int, config: ContextConfig) -> None:
    live_run(n, seed, config, check=bounds_check)


@PROPS
@given(n=lengths, seed=seeds, config=configs)
def test_prefix_is_stable_between_evictions(n: int, seed: int, config: ContextConfig) -> None:
    run = live_run(n, seed, config)
    for k in range(1, n):
        prev, cur = run.renders[k - 1], run.renders[k]
        if not run.evicted[k]:
            assert run.stable[k] == len(prev)
            assert cur[: len(prev)] == prev
            assert len(cur) == len(prev) + 2  # the previous reply and the new chunk's user turn
        else:
            assert run.stable[k] < len(prev)


@PROPS
@given(n=st.integers(1, 600), seed=seeds, config=configs)
def test_rendering_is_deterministic(n: int, seed: int, config: ContextConfig) -> None:
    a = live_run(n, seed, config)
    b = live_run(n, seed, config)
    assert a.renders == b.renders
    assert a.context is not None
    assert a.context.messages() == a.context.messages()


@PROPS
@given(n=lengths, seed=seeds, config=configs)
def test_unrolling_reproduces_inference_context(n: int, seed: int, config: ContextConfig) -> None:
    run = live_run(n, seed, config)
    samples = list(unroll(run.timeline, config))
    assert len(samples) == len(run.timeline.responses)
    for sample, response in zip(samples, run.timeline.responses, strict=True):
        anchor = int(response.time)
        assert sample.anchor_chunk == anchor
        assert sample.messages[:-1] == run.renders[anchor]
        assert sample.messages[-1] == {"role": "assistant", "content": response.text}


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 300), seed=seeds)
def test_unbounded_policy_never_evicts(n: int, seed: int) -> None:
    run = live_run(n, seed, ContextConfig(policy="unbounded"))
    assert run.context is not None
    assert len(run.context.window) == n and run.context.evictions == 0
