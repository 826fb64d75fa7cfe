"""The session driving a real backend: the tiny random Qwen3-VL through aura.models.hf (weights built in code)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from aura.models.hf.backend import HFStreamingModel
from aura.models.hf.tiny import build_tiny_checkpoint
from aura.serve.session import CancelEvent, ManualClock, ResponseEndEvent, SessionConfig, SessionCore
from aura.stream import ContextConfig

torch.set_num_threads(1)
CFG = ContextConfig(window_chunks=8, float_chunks=4, history_groups=3)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return build_tiny_checkpoint(tmp_path_factory.mktemp("tiny") / "qwen3_vl", "qwen3_vl")


def frame(k: int) -> np.ndarray:
    return np.random.default_rng(k).integers(0, 256, (56, 56, 3), dtype=np.uint8)


def test_real_backend_streams_answers_cancels_and_stays_bounded(tiny) -> None:
    model = HFStreamingModel.from_pretrained(tiny, CFG, max_new_tokens=12, temperature=1.0, seed=3)
    clock = ManualClock()
    core = SessionCore(model, SessionConfig(max_events_queued=256), clock=clock)
    cancelled_said = None
    for k in range(120):
        core.push_frame(frame(2 * k), k * 1.0)
        core.push_frame(frame(2 * k + 1), k * 1.0 + 0.5)
        clock.advance(1.0)
        if k % 6 == 0:
            core.ask(f"What happens at second {k}?")
        plan = core.take_step()
        if plan is None:
            continue
        gen = core.begin(plan)
        interrupt = k % 12 == 6
        for i, piece in enumerate(gen):
            clock.advance(0.01)
            if not core.on_piece(plan, piece):
                gen.cancel()
                break
            if interrupt and i == 1:
                core.ask("Wait, another question")  # reaches the decoder through gen.cancel()
        result = gen.finish()
        core.end(plan, result)
        if interrupt and plan.first_piece_at is not None and len(plan.text) > 0:
            assert result.cancelled and result.timings.generated_tokens < 12  # stopped before max_new_tokens
            cancelled_said = plan.text
        assert len(model.context.window) <= CFG.max_window_chunks
        assert len(model.pixels) <= CFG.max_window_chunks
    events = core.drain_events()
    c = core.metrics.counters
    assert c["steps"] >= 100 and c["responses"] > 0 and c["tokens"] > 0
    assert c["reused_tokens"] > c["prefill_tokens"]  # the prefix cache is reused between evictions
    assert cancelled_said is not None and c["cancellations"] > 0
    assert any(isinstance(e, CancelEvent) for e in events)
    assert any(isinstance(e, ResponseEndEvent) and e.cancelled for e in events)
