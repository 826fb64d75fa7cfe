import math

import pytest

from aura.video.errors import CorruptVideoError
from aura.video.resample import resample


def _frames(times, dur):
    return [(t, dur, i) for i, t in enumerate(times)]


def expected(times, s):
    """The index of the last frame whose time is <= s."""
    return max(i for i, t in enumerate(times) if t <= s + 1e-9)


@pytest.mark.parametrize("src_fps", [25, 30, 30000 / 1001, 60, 1.0, 0.5, 2.0, 7.3])
def test_constant_rate_picks_the_frame_on_screen(src_fps):
    n = int(12 * src_fps) + 1
    times = [i / src_fps for i in range(n)]
    out = list(resample(_frames(times, 1 / src_fps), 2.0))
    end = times[-1] + 1 / src_fps
    assert len(out) == math.ceil(end * 2 - 1e-6)
    for k, (s, idx) in enumerate(out):
        assert s == pytest.approx(k * 0.5)
        assert idx == expected(times, s)


def test_variable_frame_rate_and_long_gaps():
    times = [0.0, 0.1, 0.15, 2.7, 2.71, 5.0, 9.99]
    out = list(resample(_frames(times, 0.04), 2.0))
    assert [s for s, _ in out] == [k * 0.5 for k in range(21)]  # the last frame lasts to 10.03
    assert [i for _, i in out] == [expected(times, s) for s, _ in out]


def test_start_and_end_window():
    times = [i / 10 for i in range(100)]
    out = list(resample(_frames(times, 0.1), 2.0, start=3.2, end=5.0))
    assert [s for s, _ in out] == pytest.approx([3.2, 3.7, 4.2, 4.7])
    assert [i for _, i in out] == [32, 37, 42, 47]


def test_backwards_timestamps_do_not_go_back_in_time():
    out = list(resample([(0.0, 0.1, "a"), (1.0, 0.1, "b"), (0.4, 0.1, "c"), (2.0, 0.1, "d")], 2.0))
    assert [s for s, _ in out] == [0.0, 0.5, 1.0, 1.5, 2.0]
    # "c" is stamped before "b": it is taken as shown at b's time, replacing b (the later one wins).
    assert [f for _, f in out] == ["a", "a", "c", "c", "d"]


def test_corruption_yields_what_decoded_then_raises():
    def frames():
        for i in range(10):
            yield i * 0.25, 0.25, i
        raise CorruptVideoError("broken")

    got = []
    with pytest.raises(CorruptVideoError) as info:
        for item in resample(frames(), 2.0):
            got.append(item)
    assert [s for s, _ in got] == [0.0, 0.5, 1.0, 1.5, 2.0]
    assert info.value.decoded_until == pytest.approx(2.5)
    assert info.value.frames == 5


def test_conversion_runs_once_per_source_frame():
    calls = []
    out = list(resample(_frames([0.0, 3.0], 1.0), 4.0, convert=lambda f: calls.append(f) or f))
    assert len(out) == 16
    assert calls == [0, 1]
