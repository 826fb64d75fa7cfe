"""Scoring results files in each benchmark's official format (so published results can be re-scored)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aura.eval import AnnotationError, MatchJudge, get_benchmark, read_results, summarize


def _score(bench_name: str, path: Path, **kw: str) -> dict:
    bench = get_benchmark(bench_name)
    rows, fmt = read_results(bench, path, **kw)
    assert fmt == "official"
    summary, _, _ = summarize(bench, rows, MatchJudge())
    return summary


def test_ovo_official_results(tmp_path: Path) -> None:
    results = {
        "backward": [
            {"id": 1, "video": "v.mp4", "task": "EPM", "question": "q", "response": "B", "ground_truth": "B"},
            {"id": 2, "video": "v.mp4", "task": "EPM", "question": "q", "response": None, "ground_truth": "A"},
        ],
        "realtime": [
            {"id": 3, "video": "v.mp4", "task": "OCR", "question": "q", "response": "The answer is C.",
             "ground_truth": "C"},
        ],
        "forward": [
            {"id": 4, "video": "v.mp4", "task": "REC", "activity": "jump", "test_info": [
                {"realtime": 3, "count": 3, "response": "3 times"}, {"realtime": 5, "count": 4, "response": "5"}]},
            {"id": 5, "video": "v.mp4", "task": "SSR", "test_info": [
                {"realtime": 1, "step": "s", "type": 1, "response": "Yes."},
                {"realtime": 2, "step": "s", "type": 0, "response": "N"}]},
            {"id": 6, "video": "v.mp4", "task": "CRR", "question": "q", "answer": "a", "test_info": [
                {"realtime": 1, "type": 0, "response": "yes"}]},
        ],
    }
    path = tmp_path / "Model_EPM_offline_1.json"
    path.write_text(json.dumps(results))
    s = _score("ovo", path)
    assert {t: v["score"] for t, v in s["tasks"].items()} == {
        "CRR": 0.0, "EPM": 50.0, "OCR": 100.0, "REC": 50.0, "SSR": 100.0}
    assert s["categories"] == {"backward": 50.0, "realtime": 100.0, "forward": 50.0}
    assert s["overall"] == pytest.approx(200 / 3)
    assert s["task_mean"] == pytest.approx((0 + 50 + 100 + 50 + 100) / 5)  # the earlier scorer's total


def test_streamingbench_official_outputs(tmp_path: Path) -> None:
    real = [{"time": "x", "video_path": "./videos/a.mp4", "questions": [
        {"task_type": "Object Recognition", "question": "q", "time_stamp": "00:00:05", "answer": "B",
         "options": ["a", "b", "c", "d"], "MiniCPM-V": "B. a cat"},
        {"task_type": "Object Recognition", "question": "q", "time_stamp": "00:00:09", "answer": "A",
         "options": ["a", "b", "c", "d"], "MiniCPM-V": "C"},
    ]}]
    (tmp_path / "real_output_MiniCPM-V.json").write_text(json.dumps(real))
    s = _score("streamingbench", tmp_path / "real_output_MiniCPM-V.json")
    assert s["tasks"]["Object Recognition"]["score"] == 50.0 and s["categories"] == {"real": 50.0}

    def pro(answered: object, text: str) -> dict:
        history = [{"role": "user", "content": "q", "time": 4}, {"role": "assistant", "content": text, "time": 4}]
        return {"task_type": "Active Output", "question": 'output "Goal"', "time_stamp": "00:00:03",
                "ground_truth_time_stamp": "00:00:10", "ground_truth_output": "Goal",
                "M": {"answered": answered, "dialog_history": history}}

    proactive = [{"time": "x", "video_path": "v.mp4", "questions": [
        pro(12, "Goal!"), pro(13, "Goal"), pro(False, "no"), pro(10, "Save"), pro(6, "Goal")]}]
    (tmp_path / "proactive_output_M.json").write_text(json.dumps(proactive))
    s = _score("streamingbench", tmp_path / "proactive_output_M.json")
    assert s["tasks"]["Active Output"]["score"] == 20.0  # only the first: 2 s late with the output
    assert s["timing"]["false_alarms"] == 1  # the answer 4 s before the truth
    assert s["timing"]["time_error_s"]["n"] == 4


def test_streamingbench_needs_the_model_key_when_ambiguous(tmp_path: Path) -> None:
    data = [{"time": "x", "video_path": "v.mp4", "questions": [
        {"task_type": "T", "question": "q", "time_stamp": "1", "answer": "A", "options": ["a", "b"],
         "M1": "A", "M2": "B"}]}]
    (tmp_path / "questions_real.json").write_text(json.dumps(data))
    bench = get_benchmark("streamingbench")
    with pytest.raises(AnnotationError, match="pass --model"):
        read_results(bench, tmp_path / "questions_real.json")
    rows, _ = read_results(bench, tmp_path / "questions_real.json", model="M2")
    assert summarize(bench, rows, MatchJudge())[0]["overall"] == 0.0


def test_omnimmi_official_prediction_lines(tmp_path: Path) -> None:
    pa = tmp_path / "pa_VideoOnline_0.json"
    pa.write_text('{"video": "x.mp4", "question": "q", "answer": [5, 9], "pred": [6, 7, 20]}\n'
                  "{'video': 'y.mp4', 'question': 'q', 'answer': [5, 9], 'pred': []}\n")
    s = _score("omnimmi", pa)
    assert s["tasks"]["PA"]["score"] == 50.0
    assert s["tasks"]["PA"]["precision"] == pytest.approx(100 * (2 / 3) / 2)
    pt = tmp_path / "pt_VideoOnline_0.json"
    pt.write_text('{"video": "a.mp4", "conversation": [], "pred": 1}\n'
                  '{"video": "b.mp4", "conversation": [], "pred": 0}\n'
                  '{"video": "c.mp4", "conversation": [], "pred": "<2> noise"}\n')
    assert _score("omnimmi", pt)["tasks"]["PT"]["score"] == pytest.approx(200 / 3)
    md = tmp_path / "preds.jsonl"
    md.write_text(json.dumps({"video": "m.mp4", "qa": [
        {"question": "What task?", "answer": "Cook Omelet", "timestamp": "0 -- 4", "pred": "They cook an omelet."},
        {"question": "First step of ##ANSWER##?", "answer": "pour the egg", "timestamp": "5 -- 6",
         "pred": "Whisk it."},
    ]}) + "\n")
    s = _score("omnimmi", md, task="MD")
    assert s["tasks"]["MD"]["steps"] == [100.0, 0.0]  # articles are ignored: "cook omelet" matches; turn 2 misses
    ap = tmp_path / "ap_M_0.json"
    ap.write_text(json.dumps({"video": "a.mp4", "question": "next?", "answer": "hold bowl", "vocab": ["hold bowl"],
                              "pred": "I would hold bowl now."}) + "\n")
    s = _score("omnimmi", ap)
    assert s["tasks"]["AP"]["score"] == 100.0 and s["judge"] == "match"


def test_our_rows_are_recognised_and_other_files_rejected(tmp_path: Path) -> None:
    bench = get_benchmark("ovo")
    row = {"benchmark": "ovo", "mode": "protocol", "item_id": "1", "task": "EPM", "status": "ok",
           "gold": {"letter": "A"}, "probes": [{"key": "0", "response": "A", "silent": False}]}
    path = tmp_path / "results.jsonl"
    path.write_text(json.dumps({**row, "probes": []}) + "\n" + json.dumps(row) + "\n")
    rows, fmt = read_results(bench, tmp_path)
    assert fmt == "aura" and len(rows) == 1 and summarize(bench, rows, MatchJudge())[0]["overall"] == 100.0
    with pytest.raises(AnnotationError, match="holds ovo rows, not omnimmi"):
        read_results(get_benchmark("omnimmi"), path)
    (tmp_path / "junk.json").write_text(json.dumps({"hello": 1}))
    with pytest.raises(AnnotationError, match="neither"):
        read_results(bench, tmp_path / "junk.json")
    with pytest.raises(AnnotationError, match="no such results file"):
        read_results(bench, tmp_path / "nope.json")


def test_video_paths_resolve_in_each_official_layout(tmp_path: Path) -> None:
    from aura.eval.benchmarks.base import resolve_video

    (tmp_path / "videos").mkdir()
    (tmp_path / "videos" / "a.mp4").write_bytes(b"x")
    assert resolve_video(tmp_path, "./videos/a.mp4") == str(tmp_path / "videos" / "a.mp4")  # StreamingBench
    assert resolve_video(tmp_path / "videos", "./videos/a.mp4") == str(tmp_path / "videos" / "a.mp4")
    assert resolve_video(tmp_path, "a.mp4") == str(tmp_path / "videos" / "a.mp4")  # OmniMMI
    assert resolve_video(tmp_path, "b.mp4") == str(tmp_path / "b.mp4")  # missing: reported later, per item
