"""Throughput of video I/O and world rendering: ``python -m aura.video.bench``.

Prints seconds for: rendering + encoding a 2-minute world stream (2 FPS, 128 px) and decoding it
back, decoding the bundled sample to 2 FPS chunks, and decoding 20 s of 1080p30 H.264 to 2 FPS frames.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from aura.video import iter_chunks, iter_frames, write_mp4


def _timed(fn):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def main() -> None:
    """Run the measurements and print one line each."""
    from aura.world import Renderer, make_stream
    from aura.world.sample import assets_dir

    with tempfile.TemporaryDirectory() as tmp:
        stream = make_stream(9, duration=120)
        renderer = Renderer(stream.scene, 128, stream.style)
        frames, t_render = _timed(lambda: list(renderer.frames(2.0)))
        _, t_enc = _timed(lambda: write_mp4(Path(tmp) / "w.mp4", frames, 2.0, crf=stream.style.crf))
        h, w = frames[0].shape[:2]
        print(f"world: 120 s at 2 FPS, {w}x{h}: render {t_render:.2f} s + H.264 encode {t_enc:.2f} s")
        n, t_back = _timed(lambda: sum(1 for _ in iter_frames(Path(tmp) / "w.mp4", 2.0)))
        print(f"  decoded back to {n} RGB frames at 2 FPS (what training data does): {t_back:.2f} s")
        n, t_dec = _timed(lambda: sum(1 for _ in iter_chunks(assets_dir() / "sample.mp4")))
        print(f"decode sample.mp4 (80 s, 320x240, 10 FPS) to {n} 2 FPS chunks: {t_dec:.2f} s")
        base = np.linspace(0, 255, 1920 * 1080 * 3, dtype=np.float32).reshape(1080, 1920, 3).astype(np.uint8)
        big = Path(tmp) / "big.mp4"
        write_mp4(big, (np.roll(base, 8 * i, axis=1) for i in range(600)), 30.0, preset="ultrafast")
        n, t_big = _timed(lambda: sum(1 for _ in iter_frames(big, 2.0)))
        print(f"decode 20 s of 1080p30 H.264 to {n} frames at 2 FPS: {t_big:.2f} s ({20 / t_big:.1f}x real time)")
        n, t_small = _timed(lambda: sum(1 for _ in iter_frames(big, 2.0, max_side=256)))
        print(f"  the same with max_side=256: {t_small:.2f} s")


if __name__ == "__main__":
    main()
