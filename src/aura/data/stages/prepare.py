"""Stage 1: probe each source video, split it into segments, resample to the stream rate by
timestamp, re-encode to H.264, verify each segment by decoding it back, and write the manifest.

One pass per source: frames are decoded once, resampled by presentation time, converted once
per output frame and streamed straight into the segment's encoder (nothing is buffered beyond
the frame on screen). Each segment file is written under a temporary name and renamed.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import av.error

from aura.data.config import PrepareConfig
from aura.data.errors import DataError, ItemFailure
from aura.data.ids import segment_id, source_id
from aura.data.runner import Item, Outcome
from aura.data.schemas import SegmentRecord, SourceRecord
from aura.video import probe
from aura.video.encode import frame_rate
from aura.video.errors import VideoError
from aura.video.resample import Resampled, resample
from aura.video.resize import fit_size
from aura.video.source import close_quietly, open_input, video_stream

log = logging.getLogger(__name__)

STAGE = "prepare"
VIDEO_DIR = "videos"
MAX_BAD_PACKETS = 32


def discover(inputs: list[str], extensions: list[str]) -> list[Item[tuple[str, str]]]:
    """Items with payload (id, path) for video files named directly, found under folders, or listed in ``@list.txt``.

    Files named directly are taken whatever their extension (a bad one becomes a recorded
    failure); folders are searched recursively for ``extensions``. Raises ``DataError`` for an
    input path that does not exist.
    """
    exts = {e.lower() for e in extensions}
    found: dict[str, str] = {}
    for raw in inputs:
        if raw.startswith("@"):
            listing = Path(raw[1:])
            try:
                lines = listing.read_text(encoding="utf-8").splitlines()
            except OSError as exc:
                raise DataError(f"{listing}: cannot read the list of videos ({exc.strerror or exc})") from None
            for line in lines:
                line = line.strip()
                if line and not line.startswith("#"):
                    p = Path(line) if Path(line).is_absolute() else listing.parent / line
                    sid = source_id(p.stem, line)
                    found.setdefault(sid, str(p))
            continue
        path = Path(raw)
        if path.is_dir():
            for p in sorted(path.rglob("*")):
                if p.is_file() and p.suffix.lower() in exts:
                    rel = p.relative_to(path).as_posix()
                    found.setdefault(source_id(p.stem, rel), str(p))
        elif path.exists():
            found.setdefault(source_id(path.stem, path.name), str(path))
        else:
            raise DataError(f"{raw}: no such file or folder")
    return [Item(k, (k, v)) for k, v in sorted(found.items())]


def _decode(container: Any, stream: Any, name: str, max_duration: float) -> Iterator[tuple[float, float, Any]]:
    """(time, duration, frame) for every decodable frame, times from the first frame."""
    origin: float | None = None
    rate = stream.average_rate or stream.guessed_rate
    nominal = 1.0 / float(rate) if rate and 0 < float(rate) < 1000 else 1.0 / 25
    last_t = 0.0
    bad = 0
    for packet in container.demux(stream):
        try:
            frames = packet.decode()
        except av.error.FFmpegError:
            bad += 1
            if bad > MAX_BAD_PACKETS:
                raise ItemFailure("video", f"{name}: corrupt after {last_t:.1f}s ({bad} undecodable packets)") from None
            continue
        for frame in frames:
            if origin is None:
                origin = frame.time if frame.time is not None else 0.0
            t = frame.time - origin if frame.time is not None else last_t + nominal
            last_t = max(last_t, t)
            if t > max_duration:
                raise ItemFailure("video", f"{name}: longer than the {max_duration:g}s limit (absurd duration)")
            yield t, nominal, frame


class _SegmentWriter:
    """Encodes one segment to a temporary mp4 and, on ``finish``, verifies and renames it."""

    def __init__(self, final: Path, fps: float, width: int, height: int, cfg: PrepareConfig) -> None:
        self.final = final
        self.tmp = final.with_name(f".{final.name}.tmp")
        self.fps, self.width, self.height = fps, width, height
        self.rate = frame_rate(fps)
        self.count = 0
        self.out = av.open(str(self.tmp), mode="w", format="mp4", options={"movflags": "+faststart"})
        s = self.out.add_stream("libx264", rate=self.rate)
        s.width, s.height, s.pix_fmt = width, height, "yuv420p"
        gop = max(1, round(cfg.gop_seconds * fps))
        s.options = {"crf": str(cfg.crf), "preset": cfg.preset, "g": str(gop), "keyint_min": str(gop)}
        s.codec_context.time_base = Fraction(1, 1) / self.rate
        self.stream = s

    def add(self, frame: Any) -> None:
        frame.pts = self.count
        frame.time_base = self.stream.codec_context.time_base
        for packet in self.stream.encode(frame):
            self.out.mux(packet)
        self.count += 1

    def close(self) -> None:
        for packet in self.stream.encode(None):
            self.out.mux(packet)
        self.out.close()

    def abort(self) -> None:
        close_quietly(self.out)
        self.tmp.unlink(missing_ok=True)


def verify_segment(path: Path, fps: float, frames: int, mode: str = "ends") -> tuple[str, int, int]:
    """Read ``path`` back and check codec H.264, frame rate ``fps`` and ``frames`` frames.

    Every mode counts the packets (one per frame). ``full`` also decodes every frame; ``ends``
    decodes the first and the last keyframe interval (the file is decodable where it starts and
    where it ends, e.g. not truncated) at a fraction of the cost; ``demux`` decodes nothing.
    Returns (codec, width, height). Raises ``ItemFailure`` naming the mismatch.
    """
    with av.open(str(path)) as c:
        if not c.streams.video:
            raise ItemFailure("encode", f"{path.name}: no video stream after encoding")
        s = c.streams.video[0]
        s.thread_type = "AUTO"
        codec = s.codec_context.name
        rate = float(s.average_rate or 0)
        if mode == "full":
            n = sum(1 for _ in c.decode(s))
        else:
            keys: list[tuple[int, int]] = []
            n = 0
            for packet in c.demux(s):
                if packet.size:
                    if packet.is_keyframe:
                        keys.append((n, packet.pts))
                    n += 1
            if mode == "ends" and keys and n == frames:
                _decode_ends(c, s, path, n, keys)
        w, h = s.codec_context.width, s.codec_context.height
    if codec != "h264":
        raise ItemFailure("encode", f"{path.name}: codec {codec}, expected h264")
    if abs(rate - fps) > 1e-3:
        raise ItemFailure("encode", f"{path.name}: frame rate {rate:g}, expected {fps:g}")
    if n != frames:
        raise ItemFailure("encode", f"{path.name}: {n} frames read back, {frames} written")
    return codec, w, h


def _decode_ends(c: Any, s: Any, path: Path, n: int, keys: list[tuple[int, int]]) -> None:
    """Decode the first and the last keyframe interval of an open container; raise on a shortfall."""
    first_len = keys[1][0] if len(keys) > 1 else n
    c.seek(0, stream=s)
    got = 0
    for _ in c.decode(s):
        got += 1
        if got >= first_len:
            break
    if got < first_len:
        raise ItemFailure("encode", f"{path.name}: the first {first_len} frames decode to {got}")
    last_idx, last_pts = keys[-1]
    s.codec_context.flush_buffers()
    c.seek(last_pts, stream=s, backward=True, any_frame=False)
    tail = sum(1 for _ in c.decode(s))
    if tail != n - last_idx:
        raise ItemFailure("encode", f"{path.name}: the last keyframe interval decodes to {tail} frames, "
                                    f"expected {n - last_idx}")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def prepare_source(src_id: str, path: str, work: Path, cfg: PrepareConfig) -> SourceRecord:
    """Turn one source video into verified 2-FPS H.264 segments; return its manifest row.

    Raises ``ItemFailure`` (or an ``aura.video`` error) for unreadable, empty, stream-less,
    absurd or corrupt input; segments already written for this source are then removed.
    """
    container = open_input(path)
    written: list[Path] = []
    writer: _SegmentWriter | None = None
    try:
        stream = video_stream(container, path)
        ctx = stream.codec_context
        width, height = int(ctx.width or 0), int(ctx.height or 0)
        if not width or not height:  # some containers only know the size once a frame decodes
            info = probe(path)
            width, height = info.width, info.height
        if max(width, height) > cfg.max_side or min(width, height) < cfg.min_side:
            raise ItemFailure("video", f"{path}: absurd frame size {width}x{height} "
                                       f"(allowed sides {cfg.min_side}..{cfg.max_side})")
        declared = _declared_duration(container, stream)
        if declared is not None and declared > cfg.max_duration_s:
            raise ItemFailure("video", f"{path}: absurd duration {declared:.0f}s (limit {cfg.max_duration_s:g}s)")
        out_h, out_w = fit_size(height, width, cfg.out_max_side)
        out_h, out_w = out_h + out_h % 2, out_w + out_w % 2
        per_seg = max(1, round(cfg.segment_seconds * cfg.fps))
        videos = work / STAGE / VIDEO_DIR
        videos.mkdir(parents=True, exist_ok=True)
        segments: list[tuple[Path, int]] = []

        def convert(frame: Any) -> Any:
            return frame.reformat(width=out_w, height=out_h, format="yuv420p")

        stats: Resampled[Any] = Resampled()
        resampled = resample(_decode(container, stream, path, cfg.max_duration_s), cfg.fps,
                             stats=stats, convert=convert)
        for k, (_, frame) in enumerate(resampled):
            if k % per_seg == 0:
                if writer is not None:
                    writer.close()
                    segments.append((writer.final, writer.count))
                    written.append(writer.tmp)
                final = videos / f"{segment_id(src_id, k // per_seg)}.mp4"
                writer = _SegmentWriter(final, cfg.fps, out_w, out_h, cfg)
            writer.add(frame)
        if writer is None:
            raise ItemFailure("video", f"{path}: the video stream holds no decodable frame")
        writer.close()
        segments.append((writer.final, writer.count))
        written.append(writer.tmp)
        writer = None
        duration = stats.last_end
        dropped = 0.0
        min_frames = math.ceil(cfg.min_segment_seconds * cfg.fps - 1e-9)
        if segments[-1][1] < min_frames:
            if len(segments) == 1:
                raise ItemFailure("video", f"{path}: too short ({duration:.2f}s < {cfg.min_segment_seconds:g}s)")
            dropped = segments[-1][1] / cfg.fps
            tail = segments.pop()
            tail[0].with_name(f".{tail[0].name}.tmp").unlink(missing_ok=True)
        records = []
        for i, (final, n) in enumerate(segments):
            tmp = final.with_name(f".{final.name}.tmp")
            codec, w, h = verify_segment(tmp, cfg.fps, n, cfg.verify)
            os.replace(tmp, final)
            written.append(final)
            start = i * per_seg / cfg.fps
            records.append(SegmentRecord(
                id=segment_id(src_id, i), source_id=src_id, index=i,
                path=final.relative_to(work).as_posix(), start=round(start, 6),
                end=round(start + n / cfg.fps, 6), duration=round(n / cfg.fps, 6), fps=cfg.fps, frames=n,
                width=w, height=h, codec=codec, sha256=_sha256(final), bytes=final.stat().st_size,
            ))
        return SourceRecord(
            id=src_id, source=str(path), duration=round(duration, 6), width=width, height=height,
            src_fps=float(stream.average_rate) if stream.average_rate else None, src_codec=str(ctx.name),
            segments=records, dropped_tail=round(dropped, 6),
            declared_duration=round(declared, 6) if declared is not None else None,
            truncated=declared is not None and duration < declared - max(1.0, 0.02 * declared),
        )
    except BaseException:
        if writer is not None:
            writer.abort()
        for p in written:
            p.unlink(missing_ok=True)
        raise
    finally:
        close_quietly(container)


def _declared_duration(container: Any, stream: Any) -> float | None:
    if stream.duration is not None and stream.time_base:
        value = float(stream.duration * stream.time_base)
        if value > 0:
            return value
    if container.duration:
        return container.duration / 1_000_000
    return None


def make_processor(work: Path, cfg: PrepareConfig) -> Callable[[tuple[str, str]], Outcome]:
    """The per-item function of stage 1 for the runner: ``(source id, path) -> manifest row``."""

    def process(payload: tuple[str, str]) -> Outcome:
        src_id, path = payload
        try:
            record = prepare_source(src_id, path, work, cfg)
        except VideoError as exc:
            raise ItemFailure("video", str(exc)) from None
        except av.error.FFmpegError as exc:
            raise ItemFailure("video", f"{path}: {type(exc).__name__}: {exc}") from None
        except OSError as exc:
            raise ItemFailure("io", f"{path}: {exc.strerror or exc}") from None
        return Outcome(items=[record.model_dump(mode="json")])

    return process
