"""The question-state read-out's targets: what each stream context leaves open, read from tokens."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from aura.models.nano.paraphrase import REWORDINGS
from aura.models.nano.question_state import (
    MULTI_KINDS,
    PAIRS,
    STATE_SIZE,
    QuestionStateReader,
    message_states,
    parse_question,
    sample_states,
)
from aura.stream import ContextConfig, StreamContext
from aura.stream.events import AssistantResponse, Silence
from aura.stream.timeline import timeline_events
from aura.world import make_stream
from aura.world.phrasing import QUESTIONS, fill
from aura.world.questions import matches, target_text

CONFIG = ContextConfig(window_chunks=8, float_chunks=4, history_groups=10)


def _bits(state: np.ndarray) -> tuple[set[str], set[tuple[str, str]]]:
    kinds = {k for k, b in zip(MULTI_KINDS, state[: len(MULTI_KINDS)], strict=True) if b}
    pairs = {p for p, b in zip(PAIRS, state[len(MULTI_KINDS):], strict=True) if b}
    return kinds, pairs


def test_every_wording_of_the_waiting_questions_is_recognised_and_nothing_else() -> None:
    for target in ({"colour": "red", "shape": "triangle"}, {"colour": "blue"}, {"shape": "circle"}):
        for template in [t for t, _ in QUESTIONS["proactive"]] + REWORDINGS["proactive"]:
            assert parse_question(fill(template, target=target_text(target))) == ("proactive", target)
    for kind in MULTI_KINDS:
        for template in [t for t, _ in QUESTIONS[f"multi_{kind}"]] + REWORDINGS[f"multi_{kind}"]:
            assert parse_question(template) == ("multi", {"event": kind})
    for kind in ("colour_of_shape", "count", "exists", "last_appeared", "first_appeared_colour"):
        for template, _ in QUESTIONS[kind]:
            assert parse_question(fill(template, colour="red", shape="square")) is None
    assert parse_question("") is None and parse_question("Tell me when a purple hexagon appears.") is None


def test_a_proactive_target_waits_until_a_reply_names_it_and_multi_questions_stay_open() -> None:
    messages = [
        ("user", "Tell me when a red object appears."),
        ("assistant", "Got it, I'm watching for a red object."),  # its own acknowledgement names it: still waiting
        ("user", "Tell me every time an object disappears."),
        ("assistant", "Sure, I will tell you each time."),
        ("user", ""),
        ("assistant", "The blue circle disappeared."),  # names another object: still waiting
        ("user", ""),
        ("assistant", ""),
        ("user", ""),
        ("assistant", "A red square just appeared."),  # the answer
        ("user", ""),
        ("assistant", ""),
    ]
    states = [_bits(s) for s in message_states(messages)]
    red = {("red", s) for s in ("circle", "square", "triangle")}
    assert states[0] == (set(), red)
    assert states[1] == ({"disappear"}, red)
    assert states[2] == ({"disappear"}, red)
    assert states[3] == ({"disappear"}, red)
    assert states[4] == ({"disappear"}, red)  # the turn that answers still had it open
    assert states[5] == ({"disappear"}, set())


def test_states_match_what_the_world_owes_in_every_stream_context() -> None:
    """Played through the real stream context, every owed report or proactive answer comes at a
    turn whose state holds its question open, and a turn before any such question holds nothing."""
    checked = {"multi": 0, "proactive": 0, "empty": 0}
    for seed in (3, 11):
        stream = make_stream(seed, duration=240.0, config=CONFIG)
        timeline = stream.to_timeline(video="v.mp4")
        qs = {q.id: q for q in stream.questions}
        first_open = min((q.time for q in stream.questions if q.type in ("proactive", "multi")), default=1e9)
        owed = {(r.question_id, math.floor(r.time)) for r in stream.responses if r.kind != "ack"}
        ctx = StreamContext(CONFIG)
        for event, _ in timeline_events(timeline, CONFIG):
            if isinstance(event, (Silence, AssistantResponse)):
                kinds, waiting = _bits(sample_states([*ctx.messages(), {"role": "assistant", "content": ""}])[-1])
                if isinstance(event, AssistantResponse) and event.question_id in qs:
                    q = qs[event.question_id]
                    chunk = round(event.time) - 1  # a turn closes at its chunk's end
                    if (q.id, chunk) in owed and q.type == "multi":
                        assert q.target["event"] in kinds
                        checked["multi"] += 1
                    elif (q.id, chunk) in owed and q.type == "proactive":
                        assert any(matches(q.target, *p) for p in waiting)
                        checked["proactive"] += 1
                if event.time < first_open:
                    assert not kinds and not waiting
                    checked["empty"] += 1
            ctx.feed(event)
    assert all(checked.values()), checked


def test_reader_finds_each_assistant_turn_in_the_tokens_and_the_readout_trains() -> None:
    from aura.models.nano.checkpoint import bundled_checkpoint, load_checkpoint
    from aura.models.nano.training import NanoForTraining, nano_chat_format

    nano, tok = load_checkpoint(bundled_checkpoint())
    fmt = nano_chat_format(tok, nano.cfg)
    messages = [
        {"role": "system", "content": "Watch."},
        {"role": "user", "content": [{"type": "video", "chunk": 0},
                                     {"type": "text", "text": "Report every new object."}]},
        {"role": "assistant", "content": "OK, I'll report every one."},
        {"role": "user", "content": [{"type": "video", "chunk": 1}]},
        {"role": "assistant", "content": "<|silent|>"},
        {"role": "user", "content": [{"type": "text", "text": "Notify me when a green triangle shows up."},
                                     {"type": "video", "chunk": 2}]},
        {"role": "assistant", "content": "Got it, I'm watching for a green triangle."},
    ]
    ids = [i for e in fmt.encode_messages(messages, lambda part: nano.cfg.token_grid) for i in e.input_ids]
    reader = QuestionStateReader(tok)
    positions, states = reader.states(ids)
    assert len(positions) == 3 and states.shape == (3, STATE_SIZE)
    assert all(tok.convert_ids_to_tokens(ids[p - 1]) == "assistant" for p in positions)
    assert _bits(states[0]) == ({"appear"}, set())  # a held-out wording is still read for what it asks
    assert _bits(states[2]) == ({"appear"}, {("green", "triangle")})

    wrapper = NanoForTraining(nano, features=True, question_state=reader, state_weight=0.5).eval()
    batch = torch.tensor([ids])
    features = torch.zeros(3, nano.cfg.visual_tokens, nano.vision.feature_dim)
    wrapper(batch, pixel_values_videos=features)
    assert wrapper.auxiliary_loss(batch) is None  # nothing kept outside training
    wrapper.train()
    wrapper(batch, pixel_values_videos=features)
    assert not nano.blocks[1]._forward_hooks  # the hook lives for one forward only
    loss = wrapper.auxiliary_loss(batch)
    assert loss is not None and loss.item() > 0
    loss.backward()
    assert wrapper.state_head.weight.grad is not None
    # the read-out's gradient reaches the blocks up to its layer and no further
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in nano.blocks[0].parameters())
    assert all(p.grad is None for p in nano.blocks[-1].parameters())
    assert wrapper.auxiliary_loss(batch) is None  # the kept hidden state is used once


def test_the_readout_is_not_saved_and_a_bad_layer_is_refused(tmp_path) -> None:
    from safetensors.torch import load_file

    from aura.models.nano.checkpoint import bundled_checkpoint, load_checkpoint
    from aura.models.nano.training import NanoForTraining

    nano, tok = load_checkpoint(bundled_checkpoint())
    wrapper = NanoForTraining(nano, question_state=QuestionStateReader(tok), state_weight=1.0, state_layer=4)
    wrapper.save_pretrained(str(tmp_path))
    keys = set(load_file(str(tmp_path / "model.safetensors")))
    assert keys and not any("state_head" in k for k in keys)
    assert keys == {k for k in nano.state_dict() if k != "head.weight"}
    with pytest.raises(ValueError, match="state_layer"):
        NanoForTraining(nano, question_state=QuestionStateReader(tok), state_weight=1.0, state_layer=9)
    assert NanoForTraining(nano, question_state=QuestionStateReader(tok), state_weight=0.0).auxiliary_loss(
        torch.zeros(1, 3, dtype=torch.long)) is None
