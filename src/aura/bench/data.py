"""``aura bench prepare`` and ``aura bench structure``: data-engine throughput.

prepare: video-seconds processed per wall-second by stage 1 (probe, segment, resample to 2 FPS,
H.264 encode, decode-back verification, checksum) against a plain PyAV loop over the same files
that only decodes, keeps one frame per 0.5 s and encodes with the same encoder settings. Runs
alternate (plain, engine, plain, ...) so drift on a shared machine hits both alike; the report
gives medians and the median of the paired ratios.

structure: samples per second of stage 4 (merge + ``aura.stream.unroll``) on synthetic segments
with QAs of all three types, in memory and through the stage runner (JSONL writes included).
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

from aura.bench import machine
from aura.data.config import PrepareConfig, StructureConfig
from aura.data.runner import Item, run_items
from aura.data.schemas import QA, Answer, SegmentQAs, SegmentRecord
from aura.data.shard import Shard
from aura.data.stages.prepare import prepare_source
from aura.data.stages.structure import make_processor, structure_segment
from aura.data.store import StageStore
from aura.stream import ContextConfig


def make_input(path: Path, seconds: float, fps: int, width: int, height: int, seed: int = 0) -> Path:
    """A camera-like synthetic H.264 input: a textured scene panning steadily, plus sensor noise.

    Texture, motion and noise give the decoder real work (motion-compensated P/B frames with
    residuals), unlike a flat test card that decodes almost for free.
    """
    rng = np.random.default_rng(seed)
    tex = rng.integers(0, 256, (height // 4 + 64, width // 4 + 64, 3), dtype=np.uint8).repeat(4, 0).repeat(4, 1)
    with av.open(str(path), mode="w") as out:
        s = out.add_stream("libx264", rate=Fraction(fps))
        s.width, s.height, s.pix_fmt = width, height, "yuv420p"
        s.options = {"preset": "ultrafast", "crf": "23"}
        for i in range(round(seconds * fps)):
            dy, dx = (i * 2) % 256, (i * 3) % 256
            img = tex[dy : dy + height, dx : dx + width]
            img = np.ascontiguousarray(img if img.shape[:2] == (height, width) else tex[:height, :width])
            img ^= rng.integers(0, 8, img.shape, dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts = i
            for p in s.encode(frame):
                out.mux(p)
        for p in s.encode(None):
            out.mux(p)
    return path


def plain_loop(src: Path, dst: Path, cfg: PrepareConfig) -> int:
    """The baseline: decode every frame, keep the frame on screen every 1/fps s, encode H.264 mp4.

    Written as anyone would, minus one trap: the output frames' ``time_base`` is set, without
    which PyAV rescales the new pts to ~0 and x264 writes a smaller, faster, broken 0.5 s file.
    """
    step = 1.0 / cfg.fps
    written = 0
    with av.open(str(src)) as inp, av.open(str(dst), mode="w") as out:
        vs = inp.streams.video[0]
        vs.thread_type = "AUTO"
        rate = Fraction(cfg.fps).limit_denominator(1001)
        enc = out.add_stream("libx264", rate=rate)
        enc.width, enc.height, enc.pix_fmt = vs.codec_context.width, vs.codec_context.height, "yuv420p"
        gop = str(max(1, round(cfg.gop_seconds * cfg.fps)))
        enc.options = {"crf": str(cfg.crf), "preset": cfg.preset, "g": gop, "keyint_min": gop}
        enc.codec_context.time_base = 1 / rate
        origin = None
        for frame in inp.decode(vs):
            origin = frame.time if origin is None else origin
            t = frame.time - origin
            while written * step <= t + 1e-6:
                f = frame.reformat(format="yuv420p")
                f.pts = written
                f.time_base = enc.codec_context.time_base  # else PyAV rescales pts to ~0: a broken file
                for p in enc.encode(f):
                    out.mux(p)
                written += 1
        for p in enc.encode(None):
            out.mux(p)
    return written


def run_prepare_bench(*, videos: int = 3, seconds: float = 60.0, fps: int = 30, width: int = 640, height: int = 360,
                      repeats: int = 3, inputs: list[str] | None = None) -> dict[str, Any]:
    """Time stage 1 and the plain loop on the same files; return the measurements."""
    cfg = PrepareConfig()
    with tempfile.TemporaryDirectory(prefix="aura-bench-prepare-") as tmp:
        root = Path(tmp)
        if inputs:
            files = [Path(p) for p in inputs]
        else:
            files = [make_input(root / f"in{i}.mp4", seconds, fps, width, height, seed=i) for i in range(videos)]
        durations = []
        for f in files:
            with av.open(str(f)) as c:
                s = c.streams.video[0]
                durations.append(float(s.duration * s.time_base) if s.duration else seconds)
        total = sum(durations)
        variants = {"plain": None, **{f"verify={m}": cfg.model_copy(update={"verify": m})
                                      for m in ("full", "ends", "demux")}}
        times: dict[str, list[float]] = {k: [] for k in variants}
        cpu: dict[str, list[float]] = {k: [] for k in variants}
        for r in range(repeats):
            names = list(variants)
            order = names[r % len(names):] + names[: r % len(names)]  # rotate who goes first
            for which in order:
                work = root / f"{which}{r}"
                work.mkdir()
                t0, c0 = time.perf_counter(), time.process_time()
                for i, f in enumerate(files):
                    c = variants[which]
                    if c is None:
                        plain_loop(f, work / f"{i}.mp4", cfg)
                    else:
                        prepare_source(f"v{i}", str(f), work, c)
                times[which].append(time.perf_counter() - t0)
                cpu[which].append(time.process_time() - c0)
    rate = {k: total / statistics.median(v) for k, v in times.items()}
    engines = [k for k in variants if k != "plain"]
    overhead = {k: statistics.median(a / b for a, b in zip(times[k], times["plain"], strict=True)) - 1.0
                for k in engines}
    cpu_overhead = {k: statistics.median(a / b for a, b in zip(cpu[k], cpu["plain"], strict=True)) - 1.0
                    for k in engines}
    return {
        "machine": machine(), "pyav": av.__version__, "files": len(files), "video_seconds": round(total, 1),
        "input": "given files" if inputs else f"{videos} x {seconds:g}s {width}x{height} @ {fps} fps H.264",
        "repeats": repeats, "times_s": times, "cpu_s": cpu, "rate": rate, "overhead": overhead,
        "cpu_overhead": cpu_overhead,
    }


def synthetic_segment(index: int, duration: float = 300.0, seed: int = 0) -> SegmentQAs:
    """A segment with QAs of all three types spread over ``duration`` seconds (one reply per chunk)."""
    rng = np.random.default_rng([seed, index])
    seg = SegmentRecord(id=f"bench-{index}_s000", source_id=f"bench-{index}", index=0, path="x.mp4", start=0,
                        end=duration, duration=duration, fps=2, frames=int(2 * duration), width=64, height=64,
                        codec="h264", sha256="0", bytes=0)
    qas: list[QA] = []
    t = 1.0
    k = 0
    while t < duration - 20:
        kind = ("realtime", "proactive", "multi")[k % 3]
        if kind == "realtime":
            qas.append(QA(id=f"q{k}", type="realtime", question=f"What is happening now ({k})?", question_time=t,
                          answers=[Answer(text=f"Something {k} happens.", time=t)]))
            t += float(rng.integers(2, 6))
        elif kind == "proactive":
            gap = float(rng.integers(3, 8))
            qas.append(QA(id=f"q{k}", type="proactive", question=f"Tell me when event {k} happens.", question_time=t,
                          ack="OK, I will let you know.",
                          answers=[Answer(text=f"Event {k} just happened.", time=t + gap)]))
            t += gap + 1
        else:
            times = [t + 2, t + 5, t + 9]
            qas.append(QA(id=f"q{k}", type="multi", question=f"Tell me each time thing {k} moves.", question_time=t,
                          ack="Sure.", answers=[Answer(text=f"It moved ({j}).", time=x) for j, x in enumerate(times)]))
            t += 10
        k += 1
    return SegmentQAs(id=seg.id, segment=seg, qas=qas)


def run_structure_bench(*, segments: int = 20, duration: float = 300.0, repeats: int = 3) -> dict[str, Any]:
    """Samples per second of stage 4, in memory and through the runner with JSONL writes."""
    cfg = StructureConfig(context=ContextConfig())
    segs = [synthetic_segment(i, duration) for i in range(segments)]
    n_samples = sum(len(structure_segment(s, cfg)["samples"]) for s in segs)
    mem: list[float] = []
    runner: list[float] = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for s in segs:
            structure_segment(s, cfg)
        mem.append(time.perf_counter() - t0)
        with tempfile.TemporaryDirectory(prefix="aura-bench-structure-") as tmp:
            store = StageStore(tmp, "structure", Shard())
            t0 = time.perf_counter()
            run_items(store, [Item(s.id, s) for s in segs], make_processor(cfg), progress=False)
            runner.append(time.perf_counter() - t0)
    return {
        "machine": machine(), "segments": segments, "segment_seconds": duration, "samples": n_samples,
        "repeats": repeats, "memory_s": mem, "runner_s": runner,
        "memory_rate": n_samples / statistics.median(mem), "runner_rate": n_samples / statistics.median(runner),
    }


def main_prepare(args: Any) -> int:
    """Run the prepare benchmark and print a report (or JSON)."""
    res = run_prepare_bench(videos=args.videos, seconds=args.seconds, fps=args.fps, width=args.width,
                            height=args.height, repeats=args.repeats, inputs=args.inputs or None)
    if args.json:
        print(json.dumps(res, indent=2))
        return 0
    print(f"machine: {res['machine']}; PyAV {res['pyav']}; input: {res['input']} ({res['video_seconds']} s)")
    rate, over, cover = res["rate"], res["overhead"], res["cpu_overhead"]
    print(f"{'variant':<44} {'video-s/s':>9} {'wall vs plain':>14} {'CPU vs plain':>13}")
    print(f"{'plain PyAV decode+encode loop':<44} {rate['plain']:>9.1f} {'':>14} {'':>13}")
    for k in over:
        label = f"aura data prepare ({k})" + (" [default]" if k == "verify=ends" else "")
        print(f"{label:<44} {rate[k]:>9.1f} {100 * over[k]:>+13.1f}% {100 * cover[k]:>+12.1f}%")
    print(f"medians of {res['repeats']} rotated repeats; goal: within 10% of the plain loop")
    return 0


def main_structure(args: Any) -> int:
    """Run the structure benchmark and print a report (or JSON)."""
    res = run_structure_bench(segments=args.segments, duration=args.seconds, repeats=args.repeats)
    if args.json:
        print(json.dumps(res, indent=2))
        return 0
    print(f"machine: {res['machine']}; {res['segments']} segments x {res['segment_seconds']:g} s, "
          f"{res['samples']} samples, N=30 N'=15 M=10")
    print(f"structure in memory:        {res['memory_rate']:.0f} samples/s (median of {res['repeats']})")
    print(f"structure via stage runner: {res['runner_rate']:.0f} samples/s (JSONL writes, fsync per segment)")
    return 0
