"""Small benchmark fixtures in each benchmark's exact annotation schema, with synthetic videos.

Every expected score below follows from the test double's rules (``doubles.ScriptedModel``) and
the videos' pixels; the comments give the reasoning so a failing number can be traced.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.eval.doubles import make_video


def _write(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data, indent=1))
    return path


def ovo_fixture(root: Path) -> tuple[Path, Path]:
    """``ovo_bench_new.json`` + videos. Malformed rows at indexes 7-10; item 11's video is missing."""
    videos = root / "videos"
    make_video(videos / "Ego4D/clips/mc.mp4", 20)
    make_video(videos / "COIN/rec.mp4", 16, event=(8, 12))
    make_video(videos / "COIN/ssr.mp4", 12, event=(4, 8))
    make_video(videos / "MovieNet/crr.mp4", 16, event=(9, 16))
    opts = ["red", "green", "blue", "white"]
    rows = [
        # the double answers the letter of (question chunk % 4); the chunk for time t is ceil(t) - 1
        {"id": 0, "task": "EPM", "video": "Ego4D/clips/mc.mp4", "realtime": 6, "question": "What?", "options": opts,
         "gt": 1},  # chunk 5 -> B: right
        {"id": 1, "task": "HLD", "video": "Ego4D/clips/mc.mp4", "realtime": 9, "question": "Which?", "options": opts,
         "gt": 0},  # chunk 8 -> A: right
        {"id": 2, "task": "STU", "video": "Ego4D/clips/mc.mp4", "realtime": 11, "question": "Where?", "options": opts,
         "gt": 3},  # chunk 10 -> C: wrong
        {"id": 3, "task": "OCR", "video": "Ego4D/clips/mc.mp4", "realtime": 30, "question": "Text?", "options": opts,
         "gt": 3},  # after the end: asked at the last chunk 19 -> D: right
        {"id": 4, "task": "REC", "video": "COIN/rec.mp4", "activity": "jump",
         "test_info": [{"realtime": 5, "count": 0}, {"realtime": 10, "count": 2}, {"realtime": 15, "count": 4}]},
        {"id": 5, "task": "SSR", "video": "COIN/ssr.mp4", "tutorial": "T", "all_steps": ["open"], "start_time": [4],
         "end_time": [8],
         "test_info": [{"realtime": 3, "step": "open", "type": 0}, {"realtime": 6, "step": "open", "type": 1},
                       {"realtime": 10, "step": "open", "type": 1}]},  # No. Yes. No. -> 2 of 3
        {"id": 6, "task": "CRR", "video": "MovieNet/crr.mp4", "question": "What does he do next?", "answer": "Leaves.",
         "ask_time": 2, "clue_time": 9,
         "test_info": [{"realtime": 4, "type": 0}, {"realtime": 11, "type": 1}, {"realtime": 14, "type": 1}]},
        {"id": 7, "task": "EPM", "video": "Ego4D/clips/mc.mp4", "realtime": 3, "question": "Q", "options": opts,
         "gt": 9},
        {"id": 8, "task": "XYZ", "video": "Ego4D/clips/mc.mp4"},
        "not an object",
        {"id": 10, "task": "REC", "video": "COIN/rec.mp4", "activity": "jump"},
        {"id": 11, "task": "ASI", "video": "Ego4D/clips/missing.mp4", "realtime": 4, "question": "Q", "options": opts,
         "gt": 0},
    ]
    return _write(root / "ovo_bench_new.json", rows), videos


def sb_fixture(root: Path) -> tuple[list[Path], Path]:
    """``questions_real/omni/sqa/proactive.json`` + videos. Bad rows: real index 1 and 2."""
    videos = root / "videos"
    make_video(videos / "sample_1_real.mp4", 20)
    make_video(videos / "sample_2_proactive.mp4", 16, event=(10, 14))
    make_video(videos / "sample_3_proactive.mp4", 12, event=(6, 9))
    q = "Which option is right?"
    real = [
        {"time": "[0:00:00 - 0:00:20]", "video_categories": "x", "video_path": "./videos/sample_1_real.mp4",
         "questions": [
             {"task_type": "Object Recognition", "question": q, "time_stamp": "00:00:06", "answer": "B",
              "options": ["A. a", "B. b", "C. c", "D. d"], "required_ability": "working memory"},  # chunk 5: B right
             {"task_type": "Causal Reasoning", "question": q, "time_stamp": "0:00:13", "answer": "B",
              "options": ["a", "b", "c", "d"], "required_ability": "episodic memory"},  # chunk 12: A wrong
         ]},
        {"time": "x", "questions": [{"task_type": "T", "question": q, "time_stamp": "00:00:01", "answer": "A",
                                     "options": ["a", "b"]}]},  # no video_path
        {"time": "x", "video_path": "./videos/sample_1_real.mp4",
         "questions": [{"task_type": "T", "question": q, "time_stamp": "soon", "answer": "A", "options": ["a", "b"]}]},
    ]
    omni = [{"time": "x", "video_path": "./videos/sample_1_real.mp4", "questions": [
        {"task_type": "Source Discrimination", "question": q, "time_stamp": "00:00:17", "answer": "A",
         "options": ["a", "b", "c", "d"]}]}]  # chunk 16: A right
    sqa = [[
        {"time": "x", "video_path": "./videos/sample_1_real.mp4", "questions": [
            {"task_type": "Related Context Understanding", "question": q, "time_stamp": "00:00:03", "answer": "C",
             "options": ["a", "b", "c", "d"]}]},  # chunk 2: C right
        {"time": "x", "video_path": "./videos/sample_1_real.mp4", "questions": [
            {"task_type": "Related Context Understanding", "question": "And now?", "time_stamp": "00:00:09",
             "answer": "A", "options": ["a", "b", "c", "d"]}]},  # chunk 8: A right
    ]]
    proactive = [
        {"time": "x", "video_path": "./videos/sample_2_proactive.mp4", "questions": [
            {"task_type": "Active Output", "question": 'When the light turns green, output "Goal".',
             "time_stamp": "00:00:03", "ground_truth_time_stamp": "00:00:10", "ground_truth_output": "Goal"}]},
        # the event starts in second 10 (chunk 10): answered at t=11, 1 s late: right
        {"time": "x", "video_path": "./videos/sample_3_proactive.mp4", "questions": [
            {"task_type": "Active Output", "question": 'When the light turns green, output "Save".',
             "time_stamp": "00:00:02", "ground_truth_time_stamp": "00:00:04", "ground_truth_output": "Save"}]},
        # the event starts in second 6: answered at t=7, 3 s after the truth: wrong
    ]
    files = [_write(root / "questions_real.json", real), _write(root / "questions_omni.json", omni),
             _write(root / "questions_sqa.json", sqa), _write(root / "questions_proactive.json", proactive)]
    return files, videos


def omnimmi_fixture(root: Path) -> tuple[list[Path], Path]:
    """The six OmniMMI task files + videos. Bad rows: SG index 1 (turns out of order), PA index 1."""
    videos = root / "videos"
    make_video(videos / "ap.mp4", 10, event=(7, 10))
    make_video(videos / "si.mp4", 10)
    make_video(videos / "sg.mp4", 12, event=(6, 12))
    make_video(videos / "pa.mp4", 12, event=(5, 9))
    make_video(videos / "pt.mp4", 10)
    files = [
        _write(root / "action_prediction.json", [
            {"video": "ap.mp4", "question": "Which step comes now?", "answer": "red", "vocab": ["red", "blue"]},
        ]),  # asked at the end (event on): "red": right
        _write(root / "speaker_identification.json", [
            {"video": "si.mp4", "question": "Who speaks?", "answer": "Blue.", "timestamp": 4.5},  # "blue": right
            {"video": "si.mp4", "question": "Who laughs?", "answer": "Green", "timestamp": 7.0},  # "blue": wrong
        ]),
        _write(root / "dynamic_state_grounding.json", [
            {"video": "sg.mp4", "qa": [
                {"question": "What colour?", "answer": "blue", "timestamp": "1.0 -- 3.0"},  # t=2: blue, right
                {"question": "What colour?", "answer": "red", "timestamp": "7.0 -- 9.0"},  # t=8: red, right
                {"question": "What colour?", "answer": "blue", "timestamp": "9.5 -- 11.5"},  # t=10.5: red, wrong
            ]},
            {"video": "sg.mp4", "qa": [
                {"question": "Q", "answer": "a", "timestamp": "5 -- 6"},
                {"question": "Q", "answer": "a", "timestamp": "1 -- 2"},
            ]},
        ]),
        _write(root / "multiturn_dependency_reasoning.json", [
            {"video": "sg.mp4", "qa": [
                {"question": "What colour?", "answer": "blue", "timestamp": "0.0 -- 2.0"},  # t=1: blue
                {"question": "echo: ##ANSWER##", "answer": "blue", "timestamp": "3.0 -- 5.0"},  # echoes "blue"
            ]},
        ]),
        _write(root / "proactive_alerting.json", [
            {"video": "pa.mp4", "question": "Notify me when the light turns green.", "answer": [5, 9]},
            {"video": "pa.mp4", "question": "Notify me.", "answer": [9]},
        ]),  # first announcement at t=6 (chunk 5): inside [5, 9]: right
        _write(root / "proactive_turntaking.json", [
            {"video": "pt.mp4", "conversation": [
                {"human": "What is on the table?", "assistant": "A cup."},
                {"human": "I guess that is how it goes."},
            ]},
        ]),  # the double stays silent on overheard conversation: right
    ]
    return files, videos
