"""Runner internals with an injected chunk source: windows, lookahead, and bounds over thousands of chunks."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from aura.errors import AuraError
from aura.eval import EvalConfig, Injection, Item, Probe, Runner
from aura.eval import runner as runner_mod
from aura.eval.runner import RESULTS, SESSIONS, chunk_of, with_lookahead
from aura.stream import ContextConfig, VideoChunk
from tests.eval.doubles import ScriptedModel


def synthetic(n: int, *, fail_at: int | None = None):
    """A chunk source of ``n`` one-second chunks (red = 10 x second mod 250); optionally failing at ``fail_at``."""

    def source(path: str, config: ContextConfig) -> Iterator[VideoChunk]:
        for k in range(n):
            if k == fail_at:
                raise AuraError(f"{path}: corrupt at {k}s")
            frames = np.zeros((2, 2, 2, 3), dtype=np.uint8)
            frames[..., 0] = (10 * k) % 250
            yield VideoChunk(k, float(k), float(k + 1), frames)

    return source


class Chatty(ScriptedModel):
    """TEST DOUBLE that replies "tick" at every step once it has been asked anything."""

    asked = False

    def _decide(self, chunk: VideoChunk, question: str | None) -> str | None:
        self.asked = self.asked or bool(question)
        return "tick" if self.asked else None


def test_chunk_of_and_lookahead() -> None:
    assert [chunk_of(t) for t in (0, 0.5, 1.0, 1.01, 10.5, 215)] == [0, 0, 0, 1, 10, 214]
    got = list(with_lookahead(synthetic(5)("v", ContextConfig()), 2))
    assert [c.index for c, _ in got] == [0, 1, 2, 3, 4]
    assert [d for _, d in got] == [None, None, None, 5.0, 5.0]  # known for the last n chunks
    seen = []
    with pytest.raises(AuraError, match="corrupt at 3s"):
        for chunk, duration in with_lookahead(synthetic(9, fail_at=3)("v", ContextConfig()), 8):
            seen.append((chunk.index, duration))
    assert seen == [(0, 3.0), (1, 3.0), (2, 3.0)]  # what decoded is still delivered


def test_protocol_windows_stay_bounded_over_thousands_of_chunks(tmp_path: Path) -> None:
    model = ScriptedModel()
    probes = [Probe(key=str(t), time=t, prompt="Options: a b c d") for t in range(100, 2000, 100)]
    probes.append(Probe(key="end", time=3, from_end=True, prompt="Options: a b c d"))
    item = Item(id="long", benchmark="t", task="T", video="v.mp4", probes=probes, injections=[])
    Runner(lambda: model, EvalConfig(), chunk_source=synthetic(2000)).run([item], tmp_path, progress=False)
    row = json.loads((tmp_path / RESULTS).read_text())
    assert row["status"] == "ok"
    got = {p["key"]: p["chunk"] for p in row["probes"]}
    assert got["100"] == 99 and got["1900"] == 1899 and got["end"] == 1996
    assert max(model.window_sizes) == 30 and len(model.window_sizes) == len(probes)


def test_stream_session_keeps_a_bounded_transcript(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner_mod, "MAX_TRANSCRIPT", 50)
    model = Chatty()
    item = Item(id="pa", benchmark="t", task="PA", video="v.mp4", probes=[], to_end=True,
                injections=[Injection(key="0", time=0, text="Tell me everything.")])
    Runner(lambda: model, EvalConfig(mode="stream"), chunk_source=synthetic(3000)).run([item], tmp_path,
                                                                                     progress=False)
    row = json.loads((tmp_path / RESULTS).read_text())
    session = json.loads((tmp_path / SESSIONS).read_text())
    assert session["chunks"] == 3000 and session["codes"].count("s") == 0
    assert 0 < len(row["transcript"]) <= 50 and row["transcript"][-1][0] == 3000.0
    assert len(model.context.window) <= model.config.max_window_chunks


def test_stream_stops_decoding_once_every_item_is_done(tmp_path: Path) -> None:
    pulled = []

    def source(path: str, config: ContextConfig) -> Iterator[VideoChunk]:
        for c in synthetic(500)(path, config):
            pulled.append(c.index)
            yield c

    item = Item(id="q", benchmark="t", task="T", video="v.mp4", probes=[],
                injections=[Injection(key="0", time=10, text="Options: a b c d")])
    Runner(ScriptedModel, EvalConfig(mode="stream", patience_s=5), chunk_source=source).run(
        [item], tmp_path, progress=False)
    assert max(pulled) < 30  # asked at 10 s, patience 5 s, lookahead 8 chunks


def test_a_failing_video_gives_errors_only_for_unfinished_items(tmp_path: Path) -> None:
    items = [Item(id=f"i{t}", benchmark="t", task="T", video="v.mp4", injections=[],
                  probes=[Probe(key="0", time=t, prompt="Options: a")]) for t in (2, 20)]
    Runner(ScriptedModel, EvalConfig(), chunk_source=synthetic(30, fail_at=12)).run(items, tmp_path, progress=False)
    rows = {r["item_id"]: r for r in map(json.loads, (tmp_path / RESULTS).read_text().splitlines())}
    assert rows["i2"]["status"] == "ok"
    assert rows["i20"]["status"] == "error" and rows["i20"]["error"] == "v.mp4: corrupt at 12s"


class Picky(ScriptedModel):
    """TEST DOUBLE that fails on one particular question (like a backend rejecting an input)."""

    def begin_step(self, chunk: VideoChunk, question: str | None = None):
        if question and "boom" in question:
            raise AuraError("the backend rejected this question")
        return super().begin_step(chunk, question)


def test_a_failing_query_fails_only_its_item(tmp_path: Path) -> None:
    items = [Item(id=name, benchmark="t", task="T", video="v.mp4", injections=[],
                  probes=[Probe(key="0", time=5, prompt=f"Options: {name}")]) for name in ("boom", "fine")]
    Runner(Picky, EvalConfig(), chunk_source=synthetic(10)).run(items, tmp_path, progress=False)
    rows = {r["item_id"]: r for r in map(json.loads, (tmp_path / RESULTS).read_text().splitlines())}
    assert rows["boom"]["error"] == "the backend rejected this question"
    assert rows["fine"]["status"] == "ok" and rows["fine"]["probes"][0]["response"] == "A."  # chunk 4 -> A


def test_long_questions_are_cut_or_deferred_to_fit_the_model(tmp_path: Path) -> None:
    limit = ScriptedModel().config.max_question_chars
    long_text = "x" * (limit - 100) + " Options: a b c d"
    items = [Item(id=f"i{j}", benchmark="t", task="T", video="v.mp4", probes=[],
                  injections=[Injection(key="0", time=3, text=long_text)]) for j in range(2)]
    Runner(ScriptedModel, EvalConfig(mode="stream"), chunk_source=synthetic(20)).run(items, tmp_path / "s",
                                                                                   progress=False)
    rows = {r["item_id"]: r for r in map(json.loads, (tmp_path / "s" / RESULTS).read_text().splitlines())}
    assert [rows[i]["injections"][0]["chunk"] for i in ("i0", "i1")] == [2, 3]  # the second waits a chunk
    assert rows["i1"]["transcript"][0] == [4.0, "D."]
    item = Item(id="p", benchmark="t", task="T", video="v.mp4", injections=[],
                probes=[Probe(key="0", time=3, prompt="y" * (2 * limit) + " Options: a b c d")])
    Runner(ScriptedModel, EvalConfig(), chunk_source=synthetic(20)).run([item], tmp_path / "p", progress=False)
    row = json.loads((tmp_path / "p" / RESULTS).read_text())
    assert row["status"] == "ok" and row["probes"][0]["response"] == "C."


def test_a_model_reading_another_frame_rate_is_refused(tmp_path: Path) -> None:
    item = Item(id="a", benchmark="t", task="T", video="v.mp4", injections=[],
                probes=[Probe(key="0", time=3, prompt="Options: a")])
    Runner(lambda: ScriptedModel(ContextConfig(fps=4)), EvalConfig(), chunk_source=synthetic(5)).run(
        [item], tmp_path, progress=False)
    row = json.loads((tmp_path / RESULTS).read_text())
    assert row["status"] == "error" and "reads 4 fps" in row["error"]


@pytest.mark.parametrize("mode", ["protocol", "stream"])
def test_answer_placeholder_takes_the_previous_answer_or_says_there_was_none(tmp_path: Path, mode: str) -> None:
    def item(first: str) -> Item:
        questions = [(3.0, first), (6.0, "echo: ##ANSWER##")]
        return Item(id=first[:4], benchmark="t", task="MD", video="v.mp4",
                    probes=[Probe(key=str(j), time=t, prompt=q) for j, (t, q) in enumerate(questions)],
                    injections=[Injection(key=str(j), time=t, text=q) for j, (t, q) in enumerate(questions)])

    items = [item("User: just chatting"), item("What colour?")]  # silent to the first; "blue" to the second
    for run, its in (("a", items[:1]), ("b", items[1:])):
        Runner(ScriptedModel, EvalConfig(mode=mode), chunk_source=synthetic(12)).run(its, tmp_path / run,
                                                                                     progress=False)
    for run, expected in (("a", "(no answer)"), ("b", "blue")):
        row = json.loads((tmp_path / run / RESULTS).read_text())
        said = [p["response"] for p in row["probes"]] if mode == "protocol" else [x for _, x in row["transcript"]]
        assert said[-1] == expected
