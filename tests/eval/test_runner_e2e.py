"""End to end: fixture files in each benchmark's schema + synthetic videos, through both modes.

The model is the deterministic TEST DOUBLE of ``doubles.py`` (not a product model); every
expected number is derived in ``fixtures.py`` from its rules and the videos' pixels.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aura.eval import EvalConfig, MatchJudge, Runner, get_benchmark, write_report
from aura.eval.runner import RESULTS
from tests.eval.doubles import ScriptedModel
from tests.eval.fixtures import omnimmi_fixture, ovo_fixture, sb_fixture


def _run(bench_name: str, files: list[Path], videos: Path, out: Path, mode: str, workers: int = 1) -> dict:
    bench = get_benchmark(bench_name)
    loaded = bench.load(files, videos)
    Runner(ScriptedModel, EvalConfig(mode=mode, workers=workers)).run(
        loaded.items, out, progress=False, meta={"benchmark": bench.name})
    return write_report(out, bench, MatchJudge(), load_errors=loaded.errors, meta={"model": "test-double"})


@pytest.mark.parametrize("mode", ["protocol", "stream"])
def test_ovo_end_to_end(tmp_path: Path, mode: str) -> None:
    anno, videos = ovo_fixture(tmp_path)
    s = _run("ovo", [anno], videos, tmp_path / mode, mode)
    scores = {t: round(v["score"], 2) for t, v in s["tasks"].items()}
    assert scores == {"EPM": 100.0, "HLD": 100.0, "STU": 0.0, "OCR": 100.0, "REC": 100.0, "SSR": 66.67, "CRR": 100.0}
    assert s["categories"] == pytest.approx({"backward": 100.0, "realtime": 50.0, "forward": 800 / 9})
    assert s["overall"] == pytest.approx((100 + 50 + 800 / 9) / 3)
    assert (s["items"], s["scored"], s["errors"], s["annotation_errors"]) == (8, 7, 1, 4)
    assert [e["index"] for e in s["load_errors"]] == [7, 8, 9, 10]
    assert "missing.mp4" in s["item_errors"][0]["error"] and s["item_errors"][0]["item_id"] == "11"
    report = (tmp_path / mode / "report.md").read_text()
    assert "item `11`" in report and "ovo_bench_new.json row 7: gt 9 is out of range" in report
    for png in ("accuracy_per_task.png", "response_time_error.png", "silence_over_time.png"):
        assert (tmp_path / mode / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if mode == "stream":
        # CRR: acknowledged at t=2, announced at t=10, one second after the clue at t=9
        assert s["timing"]["time_error_s"]["mean"] == pytest.approx(1.0)
        assert s["stream"]["chunks"] > 0 and 0 < s["stream"]["silent_rate"] < 1
    else:
        rows = [json.loads(line) for line in (tmp_path / mode / RESULTS).read_text().splitlines()]
        ocr = next(r for r in rows if r["item_id"] == "3")
        assert ocr["probes"][0]["clamped"] and ocr["probes"][0]["chunk"] == 19
        assert s["latency"]["query_s"]["n"] == 4 + 3 + 3 + 3  # one per probe
        assert all(p["query_s"] >= p["step_s"] > 0 for r in rows if r["status"] == "ok" for p in r["probes"])


@pytest.mark.parametrize("mode", ["protocol", "stream"])
def test_streamingbench_end_to_end(tmp_path: Path, mode: str) -> None:
    files, videos = sb_fixture(tmp_path)
    s = _run("streamingbench", files, videos, tmp_path / mode, mode)
    assert s["categories"] == pytest.approx({"real": 50.0, "omni": 100.0, "sqa": 100.0, "proactive": 50.0})
    assert s["overall"] == pytest.approx(100 * 5 / 7)
    assert s["annotation_errors"] == 2 and s["errors"] == 0
    # proactive: one answer 1 s after the truth (right), one 3 s after (wrong)
    errors = s["timing"]["time_error_s"]
    assert errors["n"] == 2 and errors["mean"] == pytest.approx(2.0) and errors["max"] == pytest.approx(3.0)


@pytest.mark.parametrize("mode", ["protocol", "stream"])
def test_omnimmi_end_to_end(tmp_path: Path, mode: str) -> None:
    files, videos = omnimmi_fixture(tmp_path)
    s = _run("omnimmi", files, videos, tmp_path / mode, mode)
    scores = {t: round(v["score"], 2) for t, v in s["tasks"].items()}
    assert scores == {"AP": 100.0, "SI": 50.0, "SG": 66.67, "MD": 100.0, "PA": 100.0, "PT": 100.0}
    assert s["tasks"]["SG"]["steps"] == [100.0, 100.0, 0.0]
    assert s["overall"] == pytest.approx((100 + 50 + 200 / 3 + 100 + 100 + 100) / 6)
    assert s["avg_wo_p"] == pytest.approx((200 / 3 + 100 + 100 + 50) / 4)
    assert s["judge"] == "match" and s["annotation_errors"] == 2
    report = (tmp_path / mode / "report.md").read_text()
    assert "- SG: first k turns all correct, k = 1..3: 100.0 / 100.0 / 0.0" in report
    assert "(offline match, not the official LLM judge)" in report
    assert s["timing"]["time_error_s"]["mean"] == pytest.approx(1.0)  # PA: announced at t=6, span starts at 5


def test_resume_skips_finished_items_and_reruns_the_rest(tmp_path: Path) -> None:
    anno, videos = ovo_fixture(tmp_path)
    bench = get_benchmark("ovo")
    items = bench.load([anno], videos).items
    out = tmp_path / "run"
    first = Runner(ScriptedModel, EvalConfig()).run(items, out, progress=False, meta={"benchmark": "ovo"})
    assert first == {"items": 8, "skipped": 0, "done": 7, "errors": 1}
    full = write_report(out, bench, MatchJudge())
    lines = (out / RESULTS).read_text().splitlines()
    (out / RESULTS).write_text("\n".join(lines[:3]) + "\n" + lines[3][:20])  # killed mid-write
    made: list[ScriptedModel] = []

    def factory() -> ScriptedModel:
        made.append(ScriptedModel())
        return made[-1]

    again = Runner(factory, EvalConfig()).run(items, out, progress=False, meta={"benchmark": "ovo"})
    ok_before = sum(json.loads(line)["status"] == "ok" for line in lines[:3])
    assert again["skipped"] == ok_before and again["done"] + again["errors"] == 8 - ok_before
    assert write_report(out, bench, MatchJudge())["tasks"] == full["tasks"]
    third = Runner(factory, EvalConfig()).run(items, out, progress=False, meta={"benchmark": "ovo"})
    assert third["skipped"] == 7 and third["done"] == 0  # only the missing-video item is retried


def test_parallel_workers_give_the_same_results(tmp_path: Path) -> None:
    files, videos = sb_fixture(tmp_path)
    one = _run("streamingbench", files, videos, tmp_path / "w1", "stream", workers=1)
    three = _run("streamingbench", files, videos, tmp_path / "w3", "stream", workers=3)
    assert one["tasks"] == three["tasks"] and one["overall"] == three["overall"]


def test_a_run_directory_holds_one_benchmark_and_mode(tmp_path: Path) -> None:
    anno, videos = ovo_fixture(tmp_path)
    items = get_benchmark("ovo").load([anno], videos).items[:1]
    Runner(ScriptedModel, EvalConfig()).run(items, tmp_path / "r", progress=False, meta={"benchmark": "ovo"})
    from aura.eval import EvalError

    with pytest.raises(EvalError, match="holds a ovo protocol run of"):
        Runner(ScriptedModel, EvalConfig(mode="stream")).run(items, tmp_path / "r", progress=False,
                                                            meta={"benchmark": "ovo"})
