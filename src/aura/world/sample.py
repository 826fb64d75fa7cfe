"""The bundled sample: one held-out world stream as an mp4, and a scripted list of questions.

``aura world sample`` regenerates ``assets/sample.mp4`` and ``assets/sample_questions.json``
(the format ``aura watch --questions`` reads: ``[{"time": 4.7, "question": "..."}]``), plus
``assets/sample_camera.y4m``, a short uncompressed clip a browser can use as a fake camera.
The ground truth of the sample is ``aura world show 2000195 --seconds 80 --phrasing train``.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import av

from aura.fileio import atomic_write_text
from aura.world.questions import make_stream
from aura.world.render import Renderer, render_video

SAMPLE_SEED = 2_000_195
"""A test-split seed (never trained on) whose first 80 s ask all four question types."""
SAMPLE_SECONDS = 80.0
SAMPLE_FPS = 10.0
SAMPLE_HEIGHT = 240
CAMERA_SECONDS, CAMERA_FPS, CAMERA_HEIGHT = 8.0, 10.0, 120


def assets_dir() -> Path:
    """The package's assets directory."""
    return Path(str(resources.files("aura") / "assets"))


def write_sample(out: str | Path | None = None) -> tuple[Path, Path]:
    """Write the sample video and its questions into ``out`` (default: the package assets)."""
    out = Path(out) if out else assets_dir()
    stream = make_stream(SAMPLE_SEED, duration=SAMPLE_SECONDS, phrasing="train")
    style = stream.style.model_copy(update={"crf": 26})
    video = render_video(stream.scene, out / "sample.mp4", fps=SAMPLE_FPS, height=SAMPLE_HEIGHT, style=style)
    qpath = out / "sample_questions.json"
    atomic_write_text(qpath, sample_questions_json())
    write_camera_clip(out / "sample_camera.y4m")
    return video, qpath


def sample_questions_json() -> str:
    """The sample's questions as ``[{"time": ..., "question": ...}]`` JSON, one per line."""
    stream = make_stream(SAMPLE_SEED, duration=SAMPLE_SECONDS, phrasing="train")
    lines = ",\n".join(" " + json.dumps({"time": q.time, "question": q.text}) for q in stream.questions)
    return "[\n" + lines + "\n]\n"


def write_camera_clip(path: Path) -> Path:
    """The first seconds of the sample at 160x120 as Y4M (yuv420p), for a browser fake camera."""
    stream = make_stream(SAMPLE_SEED, duration=SAMPLE_SECONDS, phrasing="train")
    renderer = Renderer(stream.scene, CAMERA_HEIGHT, stream.style)
    tmp = path.with_name(f".{path.name}.tmp")
    with av.open(str(tmp), mode="w", format="yuv4mpegpipe") as out:
        s = out.add_stream("rawvideo", rate=int(CAMERA_FPS))
        s.width, s.height, s.pix_fmt = renderer.width, renderer.height, "yuv420p"
        for i, frame in enumerate(renderer.frames(CAMERA_FPS, end=CAMERA_SECONDS)):
            vf = av.VideoFrame.from_ndarray(frame, format="rgb24")
            vf.pts = i
            for packet in s.encode(vf):
                out.mux(packet)
        for packet in s.encode(None):
            out.mux(packet)
    tmp.replace(path)
    return path
