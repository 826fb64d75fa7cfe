import tracemalloc
from fractions import Fraction

import av
import numpy as np
import pytest

from aura.video import (
    EncodeError,
    NotAVideoError,
    decode_mp4_bytes,
    encode_mp4_bytes,
    frame_rate,
    iter_chunks,
    iter_frames,
    probe,
    write_mp4,
)
from tests.video.clips import index_frame, make_clip, read_index


def test_write_mp4_is_h264_yuv420p_and_pads_odd_sizes(tmp_path):
    frames = [index_frame(i, 45, 77) for i in range(20)]
    out = tmp_path / "sub" / "v.mp4"
    assert write_mp4(out, frames, 10) == 20
    info = probe(out)
    assert (info.codec, info.width, info.height, info.fps) == ("h264", 78, 46, 10.0)
    with av.open(str(out)) as c:
        assert c.streams.video[0].codec_context.pix_fmt == "yuv420p"
    got = [read_index(f[:45, :77]) for _, f in iter_frames(out, 10.0)]
    assert got == list(range(20))
    assert [p.name for p in out.parent.iterdir()] == ["v.mp4"]  # no temp file left


def test_write_mp4_failure_leaves_no_file(tmp_path):
    def frames():
        yield np.zeros((16, 16, 3), np.uint8)
        yield np.zeros((8, 8, 3), np.uint8)

    with pytest.raises(EncodeError, match="first was"):
        write_mp4(tmp_path / "v.mp4", frames(), 2)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(EncodeError, match="no frames"):
        write_mp4(tmp_path / "v.mp4", [], 2)
    with pytest.raises(EncodeError, match="uint8"):
        write_mp4(tmp_path / "v.mp4", [np.zeros((8, 8, 3), np.float32)], 2)
    with pytest.raises(EncodeError, match="frame rate"):
        write_mp4(tmp_path / "v.mp4", [np.zeros((8, 8, 3), np.uint8)], 0)
    assert list(tmp_path.iterdir()) == []


def test_crf_changes_quality_and_size(tmp_path):
    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)
    frames = [np.roll(base, i, axis=1) for i in range(10)]
    sizes, errors = [], []
    for crf in (10, 40):
        path = write_mp4(tmp_path / f"{crf}.mp4", frames, 2, crf=crf) and tmp_path / f"{crf}.mp4"
        sizes.append(path.stat().st_size)
        decoded = np.stack([f for _, f in iter_frames(path, 2.0)])
        errors.append(np.abs(decoded.astype(int) - np.stack(frames)).mean())
    assert sizes[0] > sizes[1] and errors[0] < errors[1]


def test_bytes_round_trip_one_second_chunk():
    frames = np.stack([index_frame(i, 32, 48) for i in range(2)])
    data = encode_mp4_bytes(frames, 2.0)
    assert data[4:8] == b"ftyp"
    back = decode_mp4_bytes(data)
    assert back.shape == (2, 32, 48, 3) and back.dtype == np.uint8
    assert [read_index(f) for f in back] == [0, 1]
    with pytest.raises(NotAVideoError):
        decode_mp4_bytes(b"")
    with pytest.raises(NotAVideoError):
        decode_mp4_bytes(b"\x00" * 1000)


def test_frame_rate_is_exact():
    assert frame_rate(29.97) == Fraction(30000, 1001)
    assert frame_rate(23.976) == Fraction(24000, 1001)
    assert frame_rate(2) == 2 and frame_rate(2.5) == Fraction(5, 2)
    assert frame_rate(59.94) == Fraction(60000, 1001)


def test_decoding_a_long_video_stays_bounded(tmp_path):
    path = make_clip(tmp_path / "long.mp4", rate=1, frames=1500, size=(32, 48))  # 25 minutes
    tracemalloc.start()
    count = 0
    for chunk in iter_chunks(path):
        count += 1
        assert chunk.frames.shape == (2, 32, 48, 3)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert count == 1500
    assert peak < 5_000_000
