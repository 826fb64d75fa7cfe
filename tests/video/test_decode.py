import math
import threading
from fractions import Fraction

import av
import numpy as np
import pytest

import aura.video.source as source_mod
from aura.stream import ContextConfig
from aura.video import (
    CorruptVideoError,
    EmptyVideoError,
    NotAVideoError,
    NoVideoStreamError,
    PushSource,
    PushSourceError,
    UnsupportedCodecError,
    VideoNotFoundError,
    VideoTooLargeError,
    VideoTooShortError,
    iter_chunks,
    iter_frames,
    probe,
    write_mp4,
)
from tests.video.clips import index_frame, make_audio_only, make_clip, read_index

CASES = [
    # codec, container suffix, rate, (height, width)
    ("libx264", "mp4", 25, (64, 96)),
    ("libx264", "mkv", Fraction(30000, 1001), (72, 128)),
    ("mpeg4", "avi", 30, (64, 96)),
    ("mjpeg", "avi", 60, (63, 97)),
    ("libvpx-vp9", "webm", 24, (61, 95)),
    ("libx264", "mov", 5, (64, 96)),
]


@pytest.mark.parametrize(("codec", "suffix", "rate", "size"), CASES)
def test_decode_resamples_by_timestamp(tmp_path, codec, suffix, rate, size):
    n = math.ceil(3.2 * rate)
    path = make_clip(tmp_path / f"clip.{suffix}", codec=codec, rate=rate, frames=n, size=size)
    info = probe(path)
    assert info.has_video and (info.height, info.width) == size
    assert info.fps == pytest.approx(float(rate), rel=1e-3)
    assert info.duration == pytest.approx(n / rate, abs=0.1)
    out = list(iter_frames(path, 2.0))
    end = n / float(rate)
    assert [t for t, _ in out] == pytest.approx([k * 0.5 for k in range(math.ceil(end * 2 - 1e-6))])
    for t, frame in out:
        assert frame.dtype == np.uint8 and frame.shape == (*size, 3)
        assert read_index(frame) == min(math.floor(t * float(rate) + 1e-6), n - 1), (codec, t)


def test_variable_frame_rate_file(tmp_path):
    tb = Fraction(1, 1000)
    pts = [0, 100, 150, 900, 2600, 2610, 2620, 4000]
    path = make_clip(tmp_path / "vfr.mkv", pts=pts, frames=len(pts), rate=25, time_base=tb)
    out = list(iter_frames(path, 2.0))
    times_ms = pts
    for t, frame in out:
        want = max(i for i, p in enumerate(times_ms) if p <= t * 1000 + 1e-6)
        assert read_index(frame) == want, t
    assert out[-1][0] == 4.0


def test_start_end_and_max_side(tmp_path):
    path = make_clip(tmp_path / "c.mp4", frames=250, rate=25, size=(120, 200))
    out = list(iter_frames(path, 2.0, start=6.0, end=8.0, max_side=50))
    assert [t for t, _ in out] == [6.0, 6.5, 7.0, 7.5]
    assert all(f.shape == (30, 50, 3) for _, f in out)
    assert [read_index(f) for _, f in out] == [150, 162, 175, 187]
    near = list(iter_frames(path, 4.0, start=1.0, end=2.0))
    assert [read_index(f) for _, f in near] == [25, 31, 37, 43]


@pytest.mark.parametrize("max_side", [None, 50])
def test_frames_are_pyav_rgb_conversion_of_each_frame(tmp_path, max_side):
    """The shared converter gives exactly what PyAV's own per-frame conversion gives."""
    rng = np.random.default_rng(0)
    path = tmp_path / "noise.mp4"
    write_mp4(path, list(rng.integers(0, 255, (8, 90, 120, 3), dtype=np.uint8)), 2.0)
    ours = [frame for _, frame in iter_frames(path, 2.0, max_side=max_side)]
    with av.open(str(path)) as container:
        kwargs = {} if max_side is None else {"width": 50, "height": 38, "interpolation": "AREA"}  # fit_size
        theirs = [f.to_ndarray(format="rgb24", **kwargs) for f in container.decode(video=0)]
    assert len(ours) == len(theirs) == 8
    for a, b in zip(ours, theirs, strict=True):
        assert a.shape == b.shape
        assert np.array_equal(a, b)


def test_chunks_have_fixed_frame_count_and_pad_the_tail(tmp_path):
    path = make_clip(tmp_path / "c.mp4", frames=62, rate=25)  # 2.48 s -> samples 0,.5,...,2.0
    chunks = list(iter_chunks(path, ContextConfig()))
    assert [(c.index, c.start, c.end) for c in chunks] == [(0, 0.0, 1.0), (1, 1.0, 2.0), (2, 2.0, 2.5)]
    assert all(c.frames.shape == (2, 64, 96, 3) and c.frames.dtype == np.uint8 for c in chunks)
    assert [read_index(f) for f in chunks[2].frames] == [50, 50]  # padded by repeating
    four = list(iter_chunks(path, ContextConfig(fps=4, chunk_seconds=0.5)))
    assert all(c.frames.shape[0] == 2 for c in four) and len(four) == 5


def test_video_shorter_than_a_chunk(tmp_path):
    path = make_clip(tmp_path / "short.mp4", frames=10, rate=25)  # 0.4 s: a single 2 FPS sample
    with pytest.raises(VideoTooShortError, match="shorter than one"):
        list(iter_chunks(path))


def test_truncated_file_streams_the_good_part_then_raises(tmp_path):
    frames = [np.random.default_rng(i).integers(0, 255, (48, 64, 3), dtype=np.uint8) for i in range(250)]
    full = tmp_path / "full.mp4"
    write_mp4(full, frames, 25)
    data = full.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * 0.6)])
    got = []
    with pytest.raises(CorruptVideoError, match="truncated") as info:
        for item in iter_frames(cut):
            got.append(item)
    assert 3 <= len(got) <= 15
    assert info.value.decoded_until == pytest.approx(len(got) * 0.5, abs=0.5)
    chunks = []
    with pytest.raises(CorruptVideoError):
        for c in iter_chunks(cut):
            chunks.append(c)
    assert len(chunks) == math.ceil(len(got) / 2)


@pytest.mark.parametrize(("codec", "suffix"), [("libx264", "mkv"), ("libvpx-vp9", "webm")])
def test_truncated_matroska_is_reported(tmp_path, codec, suffix):
    path = make_clip(tmp_path / f"c.{suffix}", codec=codec, frames=250, rate=25)
    data = path.read_bytes()
    cut = tmp_path / f"cut.{suffix}"
    cut.write_bytes(data[: int(len(data) * 0.6)])
    got = []
    with pytest.raises(CorruptVideoError, match=r"truncated: decoded \d+\.\ds of 10\.0s"):
        for item in iter_frames(cut):
            got.append(item)
    assert len(got) >= 4
    assert [read_index(f) for _, f in got] == [math.floor(t * 25 + 1e-6) for t, _ in got]


def test_header_without_frames_is_truncated(tmp_path):
    path = write_mp4_frames(tmp_path / "f.mp4")
    data = path.read_bytes()
    cut = tmp_path / "h.mp4"
    cut.write_bytes(data[: data.find(b"mdat") + 4])
    for call in (probe, lambda s: list(iter_frames(s)), lambda s: list(iter_chunks(s))):
        with pytest.raises(CorruptVideoError, match="no frame"):
            call(cut)


def write_mp4_frames(path):
    write_mp4(path, [index_frame(i, 32, 32) for i in range(20)], 10)
    return path


def test_unreachable_url_is_a_clear_error():
    with pytest.raises(NotAVideoError, match="cannot open"):
        probe("http://127.0.0.1:9/video.mp4")


def test_mp4_without_its_index_is_reported_as_damaged(tmp_path):
    path = make_clip(tmp_path / "c.mp4", frames=100)  # index at the end (no faststart)
    data = path.read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptVideoError, match="damaged or truncated"):
        probe(tmp_path / "cut.mp4")


def test_corrupted_middle_still_decodes(tmp_path):
    path = make_clip(tmp_path / "c.mkv", frames=125, rate=25)
    data = bytearray(path.read_bytes())
    rng = np.random.default_rng(0)
    for pos in rng.integers(len(data) // 3, len(data) // 2, 40):
        data[pos] ^= 0xFF
    (tmp_path / "bad.mkv").write_bytes(bytes(data))
    got = []
    try:
        for item in iter_frames(tmp_path / "bad.mkv"):
            got.append(item)
    except CorruptVideoError as exc:
        assert exc.decoded_until > 0
    assert len(got) >= 3
    assert all(f.shape == (64, 96, 3) for _, f in got)


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda p: p / "missing.mp4", VideoNotFoundError, "no such file"),
        (lambda p: p, VideoNotFoundError, "not a regular file"),
        (lambda p: _write(p / "empty.mp4", b""), EmptyVideoError, "empty"),
        (lambda p: _write(p / "g.mp4", np.random.default_rng(1).bytes(20000)), NotAVideoError, "not a video"),
        (lambda p: _write(p / "t.txt", b"hello world\n" * 100), NotAVideoError, "not a video"),
        (lambda p: make_audio_only(p / "a.m4a"), NoVideoStreamError, "holds audio"),
    ],
)
def test_bad_inputs_fail_with_one_line_errors(tmp_path, make, error, match):
    path = make(tmp_path)
    for call in (probe, lambda s: list(iter_frames(s)), lambda s: list(iter_chunks(s))):
        with pytest.raises(error, match=match) as info:
            call(path)
        assert "\n" not in str(info.value)


def test_unknown_codec(tmp_path):
    path = make_clip(tmp_path / "m.avi", codec="mpeg4", frames=10)
    data = path.read_bytes()
    assert b"FMP4" in data
    (tmp_path / "u.avi").write_bytes(data.replace(b"FMP4", b"QZQZ"))
    with pytest.raises(UnsupportedCodecError, match="unknown video codec"):
        probe(tmp_path / "u.avi")


def test_absurd_frame_size(tmp_path, monkeypatch):
    path = make_clip(tmp_path / "c.mp4", frames=10)
    monkeypatch.setattr(source_mod, "MAX_SIDE", 80)
    with pytest.raises(VideoTooLargeError, match="too large"):
        probe(path)


def test_push_source_resamples_and_is_bounded():
    src = PushSource(capacity=8, timeout=5.0)

    def producer():
        for i in range(40):  # 10 FPS for 4 s
            src.push(index_frame(i, 32, 48), i / 10)
        src.close()

    thread = threading.Thread(target=producer)
    thread.start()
    out = list(iter_frames(src, 2.0, max_side=24))
    thread.join()
    assert [t for t, _ in out] == [k * 0.5 for k in range(8)]
    assert all(f.shape == (16, 24, 3) for _, f in out)
    assert src.pushed == 40 and len(src) == 0


def test_push_source_drops_oldest_when_full():
    src = PushSource(capacity=3)
    for i in range(10):
        src.push(index_frame(i, 16, 16), float(i))
    assert len(src) == 3 and src.dropped == 7
    src.close()
    assert [t for t, _ in src.frames()] == [7.0, 8.0, 9.0]


def test_push_source_rejects_bad_frames():
    src = PushSource()
    with pytest.raises(PushSourceError):
        src.push(np.zeros((4, 4), np.uint8), 0.0)
    with pytest.raises(PushSourceError):
        src.push(np.zeros((4, 4, 3), np.float32), 0.0)
    src.push(np.zeros((4, 4, 3), np.uint8), 1.0)
    with pytest.raises(PushSourceError, match="backwards"):
        src.push(np.zeros((4, 4, 3), np.uint8), 0.5)
    src.close()
    with pytest.raises(PushSourceError, match="closed"):
        src.push(np.zeros((4, 4, 3), np.uint8), 2.0)


def test_push_source_stays_bounded_over_thousands_of_frames():
    src = PushSource(capacity=16)
    for i in range(5000):
        src.push(np.zeros((8, 8, 3), np.uint8), i * 0.1)
        assert len(src) <= 16
    src.close()
    assert len(list(src.frames())) == 16


def test_push_chunks_stream_live(tmp_path):
    src = PushSource(capacity=100)
    for i in range(31):
        src.push(index_frame(i, 16, 32), i / 10)
    src.close()
    chunks = list(iter_chunks(src))
    # 31 frames at 10 FPS cover 0..3.1 s: 2 FPS samples at 0, 0.5, ..., 3.0 -> 4 chunks, the last padded.
    assert [(c.index, c.start, c.end) for c in chunks] == [(0, 0, 1), (1, 1, 2), (2, 2, 3), (3, 3, 3.5)]
    assert [read_index(f) for c in chunks for f in c.frames] == [0, 5, 10, 15, 20, 25, 30, 30]


def _write(path, data):
    path.write_bytes(data)
    return path


def test_windows_match_a_full_decode(tmp_path):
    path = write_mp4(tmp_path / "v.mp4", [index_frame(i, 32, 48) for i in range(120)], 2.0) and tmp_path / "v.mp4"
    full = dict(iter_frames(path, 2.0))
    for start in (0.0, 3.0, 4.5, 17.0, 33.5, 58.0):
        window = list(iter_frames(path, 2.0, start=start, end=start + 2.0))
        assert [t for t, _ in window] == [start + k * 0.5 for k in range(len(window))]
        assert len(window) == min(4, round((60 - start) * 2))
        for t, frame in window:
            assert read_index(frame) == read_index(full[t]) == round(t * 2)


def test_video_with_an_audio_track(tmp_path):
    path = tmp_path / "av.mp4"
    with av.open(str(path), mode="w") as out:
        video = out.add_stream("libx264", rate=25)
        video.width, video.height, video.pix_fmt = 96, 64, "yuv420p"
        audio = out.add_stream("aac", rate=16000)
        for i in range(75):
            frame = av.VideoFrame.from_ndarray(index_frame(i, 64, 96), format="rgb24")
            frame.pts = i
            for packet in video.encode(frame):
                out.mux(packet)
            samples = av.AudioFrame.from_ndarray(np.zeros((1, 640), np.float32), format="fltp", layout="mono")
            samples.sample_rate, samples.pts = 16000, i * 640
            for packet in audio.encode(samples):
                out.mux(packet)
        for stream in (video, audio):
            for packet in stream.encode(None):
                out.mux(packet)
    assert probe(path).duration == pytest.approx(3.0, abs=0.05)
    assert [read_index(f) for _, f in iter_frames(path)] == [0, 12, 25, 37, 50, 62]


def test_display_rotation_is_applied(tmp_path):
    path = tmp_path / "rot.mp4"
    with av.open(str(path), mode="w") as out:
        stream = out.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 96, 64, "yuv420p"
        stream.set_display_rotation(90)
        for i in range(10):
            frame = av.VideoFrame.from_ndarray(index_frame(i, 64, 96), format="rgb24")
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    info = probe(path)
    assert (info.width, info.height, info.rotation) == (64, 96, 90)
    (_, f0), (_, f1) = list(iter_frames(path, 2.0, max_side=48))
    assert f0.shape == (48, 32, 3)
    # Turned 90 degrees counter-clockwise: the bars that ran left to right now run bottom to top.
    assert read_index(np.rot90(f1, k=-1)) == 5
