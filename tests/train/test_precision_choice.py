"""The measured choice of a CPU training precision: timing with an injected clock, the decision, its record."""

from __future__ import annotations

import pytest

from aura.train.precision_choice import (
    MIN_SPEEDUP,
    PrecisionChoice,
    choose_precision,
    paired_speedup,
    time_alternating,
)


class FakeClock:
    """A clock that a step advances by the seconds its precision is given."""

    def __init__(self, cost: dict[bool, list[float]]) -> None:
        self.now, self.cost, self.calls = 0.0, {k: list(v) for k, v in cost.items()}, []

    def __call__(self) -> float:
        return self.now

    def step(self, bf16: bool) -> None:
        self.calls.append(bf16)
        self.now += self.cost[bf16].pop(0)


def test_paired_timing_alternates_and_drops_the_warmup() -> None:
    clock = FakeClock({False: [9.0, 2.0, 2.2, 2.4], True: [9.0, 1.0, 1.0, 1.5]})
    times = time_alternating(clock.step, (False, True), repeats=3, warmup=1, clock=clock)
    assert times[False] == pytest.approx([2.0, 2.2, 2.4]) and times[True] == pytest.approx([1.0, 1.0, 1.5])
    assert clock.calls == [False, True, True, False, False, True, True, False]  # who goes first alternates
    with pytest.raises(ValueError):
        time_alternating(clock.step, (False, True), repeats=0, clock=clock)


def test_three_variants_rotate_and_speedups_pair_by_round() -> None:
    order: list[str] = []
    times = time_alternating(order.append, ("a", "b", "c"), repeats=2, warmup=0, clock=iter(range(100)).__next__)
    assert order == ["a", "b", "c", "c", "b", "a"] and all(len(t) == 2 for t in times.values())
    assert paired_speedup([4.0, 2.0, 9.0], [2.0, 2.0, 3.0]) == pytest.approx(2.0)  # median of 2, 1, 3
    assert paired_speedup([1.0], [0.0]) == 1.0  # no usable pair
    with pytest.raises(ValueError):
        paired_speedup([1.0], [1.0, 2.0])


def test_bf16_only_when_clearly_faster() -> None:
    fast = choose_precision([2.0, 2.2, 2.4], [1.0, 1.0, 1.5])
    assert fast.precision == "bf16" and fast.speedup == pytest.approx(2.0)
    assert fast.fp32_ms == pytest.approx(2200) and fast.bf16_ms == pytest.approx(1000) and fast.repeats == 3
    tie = choose_precision([1.0, 1.0, 1.0], [1.0 / 1.04] * 3)  # 4% faster: below the margin
    assert tie.precision == "no" and tie.speedup == pytest.approx(1.04)
    assert choose_precision([1.0] * 3, [1.0 / MIN_SPEEDUP] * 3).precision == "bf16"
    assert choose_precision([1.0, 1.0], [2.0, 0.5]).speedup == pytest.approx(1.25)  # median of the paired ratios
    assert choose_precision([1.0], [3.0]).precision == "no"
    for bad in (([], []), ([1.0], [1.0, 2.0])):
        with pytest.raises(ValueError):
            choose_precision(*bad)


def test_choice_round_trips_and_rejects_what_is_not_one() -> None:
    choice = choose_precision([2.0], [1.0])
    assert PrecisionChoice.from_json(choice.to_json()) == choice
    for bad in ({"precision": "bf16"}, {**choice.to_json(), "precision": "fp8"}, {**choice.to_json(), "x": 1}):
        with pytest.raises(ValueError):
            PrecisionChoice.from_json(bad)
