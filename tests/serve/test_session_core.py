"""The session core driven synchronously with a manual clock and the scripted test double."""

from __future__ import annotations

import numpy as np
import pytest

from aura.serve.session import (
    CancelEvent,
    ManualClock,
    ResponseEndEvent,
    SessionConfig,
    SessionCore,
    SessionError,
    StepEvent,
)
from aura.stream import ContextConfig
from tests.serve.scripted import ScriptedModel

FRAME = np.zeros((8, 8, 3), dtype=np.uint8)


class Camera:
    """Pushes a frame every 1/fps seconds of clock time into the core (a simulated live camera)."""

    def __init__(self, core: SessionCore, clock: ManualClock, fps: float = 2.0) -> None:
        self.core, self.clock, self.fps = core, clock, fps
        self.sent = 0

    def catch_up(self) -> None:
        while self.sent / self.fps <= self.clock.now + 1e-9:
            frame = np.full((8, 8, 3), self.sent % 256, dtype=np.uint8)
            self.core.push_frame(frame, self.sent / self.fps)
            self.sent += 1


def make(script=None, **kw):
    clock = ManualClock()
    model = ScriptedModel(script) if script else ScriptedModel()
    core = SessionCore(model, SessionConfig(**kw), clock=clock)
    return clock, model, core


def test_frames_become_chunks_of_two_frames() -> None:
    _clock, model, core = make()
    for i in range(5):
        core.push_frame(np.full((8, 8, 3), i, np.uint8), i * 0.5)
    assert core.ready_chunks == 2  # chunks 0 and 1 are complete; chunk 2 is filling
    core.run_step()
    chunk, _question = model.seen[-1]
    assert chunk.frames.shape == (2, 8, 8, 3) and (chunk.start, chunk.end) == (0.0, 2.0)
    assert [int(f[0, 0, 0]) for f in chunk.frames] == [0, 3]  # merged catch-up: spread over, newest last
    assert core.metrics.counters["catchup_steps"] == 1 and core.metrics.counters["chunks_merged"] == 1


def test_bad_frames_and_questions_raise_one_line_errors() -> None:
    _, _, core = make()
    with pytest.raises(SessionError, match="uint8 RGB"):
        core.push_frame(np.zeros((8, 8), np.uint8), 0.0)
    core.push_frame(FRAME, 1.0)
    with pytest.raises(SessionError, match="goes back"):
        core.push_frame(FRAME, 0.5)
    with pytest.raises(SessionError, match="differs"):
        core.push_frame(np.zeros((4, 4, 3), np.uint8), 1.2)
    with pytest.raises(SessionError, match="empty"):
        core.ask("   ")
    with pytest.raises(SessionError, match="max 2000"):
        core.ask("x" * 2001)
    for i in range(8):
        core.ask(f"q{i}")
    with pytest.raises(SessionError, match="already wait"):
        core.ask("one too many")


def test_question_mid_generation_cancels_text_and_audio_and_goes_to_next_chunk() -> None:
    clock, model, core = make(lambda c, q: None if q is None else "One two three. Four five six seven eight nine ten.")
    asked = {"done": False}

    def on_cost(dt: float) -> None:
        clock.advance(dt)
        # the user interrupts once the third piece of the answer has been decoded
        if model.pieces_decoded == 3 and not asked["done"]:
            asked["done"] = True
            core.ask("What about now?")

    model.on_cost, model.piece_cost = on_cost, 0.1
    core.push_frame(FRAME, 0.0)
    core.ask("What is this?")
    core.push_frame(FRAME, 1.0)
    step = core.run_step()
    assert isinstance(step, StepEvent) and not step.silent
    events = core.drain_events()
    cancels = [e for e in events if isinstance(e, CancelEvent)]
    ends = [e for e in events if isinstance(e, ResponseEndEvent)]
    assert [c.response_id for c in cancels] == [1]
    assert ends[-1].cancelled and ends[-1].text == "One two three."
    assert model.pieces_decoded == 3  # decoding stopped at the interruption
    # the first sentence was queued for speech before the cancel, then dropped with it
    assert core.next_sentence() is None
    # what was said is what the context recorded; the new question rides on the next chunk
    assert model.context.window[-1].reply == "One two three."
    core.push_frame(FRAME, 2.0)
    core.run_step()
    assert model.seen[-1][1] == "What about now?"
    assert core.metrics.counters["cancellations"] == 1


def test_question_while_speaking_cancels_queued_audio() -> None:
    _clock, _model, core = make(lambda c, q: None if q is None else "First sentence. Second sentence. Third one.")
    core.push_frame(FRAME, 0.0)
    core.ask("Talk to me")
    core.push_frame(FRAME, 1.0)
    core.run_step()
    s1 = core.next_sentence()
    assert s1 is not None and s1.text == "First sentence."
    assert core.audio_sent(s1, 1.5, first=True)
    core.ask("Stop, another question")
    assert not core.audio_sent(s1, 0.5, first=False)  # the TTS task stops sending this response
    assert core.next_sentence() is None
    assert any(isinstance(e, CancelEvent) and e.response_id == s1.response_id for e in core.drain_events())


def test_sentences_are_released_while_decoding_continues() -> None:
    clock, model, core = make(lambda c, q: None if q is None else "Hello there. This is a longer second sentence.")
    seen_at: list[int] = []

    def on_cost(dt: float) -> None:
        clock.advance(dt)
        seen_at.append(len(core.sentences))

    model.on_cost, model.piece_cost = on_cost, 0.05
    core.push_frame(FRAME, 0.0)
    core.ask("hi")
    core.push_frame(FRAME, 1.0)
    core.run_step()
    # the first sentence was waiting for TTS before the last piece was decoded
    assert seen_at[-1] == 1
    assert [s.text for s in core.sentences] == ["Hello there.", "This is a longer second sentence."]


def test_ingestion_keeps_pace_while_generation_is_slow() -> None:
    """Every chunk takes 3 s of decoding; the camera never waits; the model catches up by merging."""
    clock = ManualClock()
    model = ScriptedModel(lambda c, q: "word " * 9 + "end.", piece_cost=0.3)
    core = SessionCore(model, SessionConfig(), clock=clock)
    camera = Camera(core, clock)
    model.on_cost = lambda dt: (clock.advance(dt), camera.catch_up())
    lags = []
    core.ask("Keep describing what you see.")  # one open question: every later reply answers it
    while clock.now < 300:
        camera.catch_up()
        if core.run_step() is None:
            clock.advance(0.05)
        else:
            lags.append(clock.now - model.seen[-1][0].end)
        assert core.ready_chunks <= 30 and core.metrics.gauges["frame_buffer"] <= 2
    c = core.metrics.counters
    assert c["frames_in"] == camera.sent and c["frames_dropped"] == 0  # ingestion never lost a frame
    assert c["catchup_steps"] > 50 and c["chunks_dropped"] == 0
    assert c["steps"] + c["chunks_merged"] + core.ready_chunks == c["chunks_in"]
    assert max(lags) < 3.0 + 2 * 1.0  # the model stays within one step (+ a chunk) of real time
    assert {len(chunk.frames) for chunk, _ in model.seen} == {2}


def test_queues_stay_bounded_over_2000_chunks() -> None:
    clock = ManualClock()
    rng = np.random.default_rng(0)

    def script(chunk, question):
        return None if question is None and rng.random() < 0.7 else "Sure. " * int(rng.integers(1, 6))

    model = ScriptedModel(script, piece_cost=0.02, config=ContextConfig())
    core = SessionCore(model, SessionConfig(max_ready_chunks=5, max_events_queued=64, max_sentences_queued=8),
                       clock=clock)
    camera = Camera(core, clock)
    model.on_cost = lambda dt: (clock.advance(dt), camera.catch_up())
    peak = dict.fromkeys(["ready", "sentences", "events", "window", "history", "e2e"], 0)
    for i in range(2000):
        clock.advance(1.0)
        camera.catch_up()
        if i % 7 == 0:
            core.ask(f"question {i}")
        if i % 50 == 0:  # a stall: the model is busy elsewhere for 12 s
            clock.advance(12.0)
            camera.catch_up()
        peak["ready"] = max(peak["ready"], core.ready_chunks)
        core.run_step()
        if i % 3 == 0:  # the TTS task takes some sentences; the client never drains events
            s = core.next_sentence()
            if s is not None:
                core.audio_sent(s, 0.2, first=True)
                core.sentence_done(s)
        peak["sentences"] = max(peak["sentences"], len(core.sentences))
        peak["events"] = max(peak["events"], len(core.events))
        peak["window"] = max(peak["window"], len(model.context.window))
        peak["history"] = max(peak["history"], len(model.context.history.groups))
        peak["e2e"] = max(peak["e2e"], len(core._e2e_pending))
    c = core.metrics.counters
    assert c["chunks_in"] > 2000
    assert peak == {"ready": 5, "sentences": 8, "events": 64, "window": 44, "history": 10, "e2e": peak["e2e"]}
    assert peak["e2e"] <= 65
    assert c["chunks_dropped"] > 0 and c["out_dropped"] > 0 and c["sentences_dropped"] > 0
    assert c["steps"] + c["chunks_merged"] + c["chunks_dropped"] + core.ready_chunks == c["chunks_in"]
    for summary in core.metrics.summaries.values():
        assert len(summary.recent) <= 512


def test_a_question_is_answered_now_not_at_the_next_chunk_boundary() -> None:
    _clock, model, core = make()
    core.push_frame(FRAME, 0.0)
    core.push_frame(FRAME, 0.5)
    core.push_frame(FRAME, 1.0)
    assert core.run_step() is not None  # chunk [0, 1)
    core.ask("What now?")  # at t=1.0, mid-chunk: the chunk ends at the newest frame
    assert core.ready_chunks == 1
    core.run_step()
    chunk, question = model.seen[-1]
    assert (chunk.start, chunk.end, question) == (1.0, 1.5, "What now?")
    core.push_frame(FRAME, 1.5)  # the rest of that second continues from where the early chunk ended
    core.push_frame(FRAME, 2.0)
    core.run_step()
    assert (model.seen[-1][0].start, model.seen[-1][0].end) == (1.5, 2.0)
    core.ask("And now?")  # the frame at 2.0 is buffered: its chunk ends at once
    core.run_step()
    assert (model.seen[-1][0].start, model.seen[-1][0].end, model.seen[-1][1]) == (2.0, 2.5, "And now?")
    core.ask("Still?")  # nothing buffered: the chunk ends at the next frame
    assert core.ready_chunks == 0
    core.push_frame(FRAME, 2.5)
    assert core.ready_chunks == 1
    core.run_step()
    assert (model.seen[-1][0].start, model.seen[-1][0].end, model.seen[-1][1]) == (2.5, 3.0, "Still?")


def test_the_assistant_does_not_talk_over_the_user() -> None:
    _, _, core = make(lambda c, q: "I keep talking.")
    core.push_frame(FRAME, 0.0)
    core.ask("Describe everything")
    core.push_frame(FRAME, 1.0)
    core.run_step()
    assert [s.text for s in core.sentences] == ["I keep talking."]
    core.set_user_talking(True)  # push-to-talk: what was queued is cancelled ...
    assert not core.sentences
    core.push_frame(FRAME, 2.0)
    core.run_step()
    assert not core.sentences  # ... and nothing new is spoken while the user talks (the text still streams)
    assert any(isinstance(e, ResponseEndEvent) and e.text == "I keep talking." for e in core.drain_events())
    core.set_user_talking(False)
    core.push_frame(FRAME, 3.0)
    core.run_step()
    assert [s.text for s in core.sentences] == ["I keep talking."]
