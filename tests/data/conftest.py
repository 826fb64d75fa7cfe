"""Fixtures: test-pattern videos with ground truth, and the fake MLLM server on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from aura.data.config import ApiConfig
from tests.data.fake_mllm import FakeMLLM, ServerThread, Truth, build_app
from tests.data.patterns import Square, make_audio_only, make_pattern

SEGMENT_SECONDS = 8.0

GOOD = {
    "alpha": (14.0, [Square("red", 2, 5), Square("blue", 6, 9), Square("green", 10, 13)], "libx264", ".mp4"),
    "beta": (10.0, [Square("green", 1.5, 4), Square("red", 4.5, 7), Square("blue", 7.5, 9.5)], "mpeg4", ".mkv"),
    "flaky": (7.0, [Square("red", 2, 4), Square("blue", 4.5, 6.5)], "libx264", ".mp4"),
    "junkonce": (7.0, [Square("blue", 2, 4), Square("green", 4.5, 6.5)], "libx264", ".mp4"),
}
API_FAULTS = {"slowvid": "timeout", "badapi": "500", "garbage": "nonjson"}


def make_corpus(root: Path) -> Path:
    """A folder of good patterns, API-fault patterns, and bad files (empty, not a video, audio only)."""
    videos = root / "videos"
    videos.mkdir(parents=True)
    for name, (secs, squares, codec, ext) in GOOD.items():
        make_pattern(videos / f"{name}{ext}", secs, squares, codec=codec)
    for name in API_FAULTS:
        make_pattern(videos / f"{name}.mp4", 5.0, [Square("red", 1, 3)])
    (videos / "empty.mp4").write_bytes(b"")
    (videos / "notvideo.mp4").write_text("this is not a video\n" * 50)
    make_audio_only(videos / "voice.mp4")
    return videos


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_corpus(tmp_path_factory.mktemp("corpus"))


@pytest.fixture(scope="module")
def fake() -> FakeMLLM:
    recovering = {"flaky": "flaky", "junkonce": "junk_once"}  # one bad reply per request, then fine
    truths = {name: Truth(squares, recovering.get(name)) for name, (_, squares, _, _) in GOOD.items()}
    truths.update({name: Truth([Square("red", 1, 3)], fault) for name, fault in API_FAULTS.items()})
    return FakeMLLM(truths=truths, segment_seconds=SEGMENT_SECONDS, sleep_s=1.5)


@pytest.fixture(scope="module")
def server(fake: FakeMLLM) -> Iterator[str]:
    with ServerThread(build_app(fake)) as url:
        yield url


@pytest.fixture
def api(server: str) -> ApiConfig:
    return ApiConfig(api_base=server, model="fake-mllm", timeout_s=0.5, max_tries=2, backoff_s=0.0, concurrency=4)
