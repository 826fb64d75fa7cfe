import json

import pytest

from aura.cli.main import main
from aura.stream import Timeline
from aura.video import iter_frames, probe
from aura.world import make_stream
from aura.world.sample import SAMPLE_SECONDS, SAMPLE_SEED, assets_dir, sample_questions_json, write_camera_clip
from tests.world.pixels import objects_in


def test_generate_writes_videos_and_timelines_and_resumes(tmp_path, capsys):
    out = tmp_path / "w"
    args = [
        "world",
        "generate",
        "--split",
        "val",
        "--count",
        "3",
        "--out",
        str(out),
        "--seconds",
        "30-40",
        "--size",
        "64",
    ]
    assert main(args) == 0
    assert "3 generated, 0 already done" in capsys.readouterr().out
    for i in range(3):
        sid = f"world-{1_000_000 + i}"
        timeline = Timeline.model_validate_json((out / "timelines" / f"{sid}.json").read_text())
        assert timeline.video == f"videos/{sid}.mp4" and 30 <= timeline.duration <= 40
        info = probe(out / "videos" / f"{sid}.mp4")
        assert info.height == 64 and info.fps == 2.0 and abs(info.duration - timeline.duration) < 0.6
        full = json.loads((out / "streams" / f"{sid}.json").read_text())
        assert full["split"] == "val" and full["questions"]
    (out / "timelines" / "world-1000001.json").unlink()
    assert main(args) == 0
    assert "1 generated, 2 already done" in capsys.readouterr().out
    assert (
        main(["stream", "unroll", *map(str, sorted((out / "timelines").iterdir())), "-o", str(tmp_path / "s.jsonl")])
        == 0
    )


def test_show_prints_the_timeline(capsys):
    assert main(["world", "show", "7", "--seconds", "60"]) == 0
    text = capsys.readouterr().out
    stream = make_stream(7, duration=60)
    assert "world-7 (train" in text
    for q in stream.questions:
        assert q.text in text
    assert main(["world", "show", "7", "--seconds", "60", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["seed"] == 7


@pytest.mark.parametrize("seconds", ["abc", "10", "20-700", "90-60"])
def test_bad_seconds_is_a_one_line_error(tmp_path, capsys, seconds):
    code = main(["world", "generate", "--split", "train", "--count", "1", "--out", str(tmp_path), "--seconds", seconds])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("aura: error: --seconds") and err.count("\n") == 1


def test_bundled_sample_is_reproducible_and_true(tmp_path):
    bundled = assets_dir()
    questions = json.loads((bundled / "sample_questions.json").read_text())
    assert all(set(q) == {"time", "question"} for q in questions)
    stream = make_stream(SAMPLE_SEED, duration=SAMPLE_SECONDS, phrasing="train")
    assert {q.type for q in stream.questions} == {"realtime", "proactive", "multi", "backward"}
    assert [q["question"] for q in questions] == [q.text for q in stream.questions]
    info = probe(bundled / "sample.mp4")
    assert info.duration == SAMPLE_SECONDS and (bundled / "sample.mp4").stat().st_size < 2_000_000
    for t, frame in iter_frames(bundled / "sample.mp4", 2.0, start=20.0, end=40.0):
        assert sorted(c for c, _ in objects_in(frame)) == sorted(o.colour for o in stream.scene.state(t))
    assert sample_questions_json() == (bundled / "sample_questions.json").read_text()
    write_camera_clip(tmp_path / "cam.y4m")
    assert (tmp_path / "cam.y4m").read_bytes() == (bundled / "sample_camera.y4m").read_bytes()


def test_show_rejects_bad_seeds_and_durations(capsys):
    assert main(["world", "show", "-5"]) == 2
    assert main(["world", "show", "3", "--seconds", "2"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and all(line.startswith("aura: error: ") for line in err)
