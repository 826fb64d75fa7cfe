"""The hf backend: cached incremental logits == from-scratch forward, at every step, both archs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from aura.errors import StreamError
from aura.models.hf.backend import HFStreamingModel
from aura.models.hf.preprocess import FrameError
from aura.stream import ContextConfig, VideoChunk

CFG = ContextConfig(window_chunks=8, float_chunks=4, history_groups=3)
QUESTIONS = {1: "What is on the table?", 5: "Tell me when the dog appears.", 13: "How many birds are there?",
             22: "What colour is the square?", 31: "Describe the scene.", 38: "Is the light green?"}


def frames(k: int, size: int = 56) -> np.ndarray:
    rng = np.random.default_rng(k)
    return rng.integers(0, 256, (2, size, size, 3), dtype=np.uint8)


def chunk(k: int) -> VideoChunk:
    return VideoChunk(k, float(k), float(k + 1), frames(k))


@pytest.fixture(scope="module", params=["qwen3_vl", "qwen2_5_vl"])
def model(request, tiny_dirs):
    return HFStreamingModel.from_pretrained(tiny_dirs[request.param], CFG, max_new_tokens=3)


def test_cached_logits_equal_from_scratch_forward(model):
    model.reset()
    evictions = rebuilt_steps = 0
    worst = 0.0
    for k in range(44):
        gen = model.begin_step(chunk(k), QUESTIONS.get(k))
        ref = model.engine.forward_from_scratch(model.engine.messages, model.pixels)[-1]
        got = gen.decoder.first_logits
        worst = max(worst, float((got - ref).abs().max()))
        assert torch.allclose(got, ref, atol=1e-4, rtol=0), f"step {k}"
        result = gen.finish()
        t = result.timings
        if t.cache_rebuilt:
            rebuilt_steps += 1
        elif k > 0:
            # only the new turn (previous reply + this chunk's user turn + generation prompt) is prefilled
            assert t.reused_tokens > 0
            assert t.prefill_tokens < t.reused_tokens
        evictions = model.context.evictions
    assert evictions >= 1 and rebuilt_steps == evictions
    assert worst < 1e-4
    assert len(model.pixels) <= CFG.max_window_chunks


def test_wrong_positions_would_be_caught(model, monkeypatch):
    """Teeth: text-only rotary positions for appended tokens break the equality the test checks."""
    model.reset()
    def text_positions(enc):
        return torch.arange(len(enc.input_ids)).view(1, -1).expand(3, -1)

    monkeypatch.setattr(model.engine, "_positions", text_positions)
    worst = 0.0
    for k in range(6):
        gen = model.begin_step(chunk(k), QUESTIONS.get(k))
        ref = model.engine.forward_from_scratch(model.engine.messages, model.pixels)[-1]
        worst = max(worst, float((gen.decoder.first_logits - ref).abs().max()))
        gen.finish()
    assert worst > 1e-4


def test_bad_input_leaves_session_usable(model):
    model.reset()
    model.step(chunk(0))
    with pytest.raises(FrameError, match="uint8"):
        model.begin_step(VideoChunk(1, 1.0, 2.0, frames(1).astype(np.float32)))
    with pytest.raises(FrameError, match="empty"):
        model.begin_step(VideoChunk(1, 1.0, 2.0, np.zeros((0, 56, 56, 3), np.uint8)))
    with pytest.raises(FrameError, match="shape"):
        model.begin_step(VideoChunk(1, 1.0, 2.0, np.zeros((2, 56, 56), np.uint8)))
    with pytest.raises(StreamError):
        model.begin_step(chunk(5))  # a gap: nothing changes
    # a failure inside the prefill: the turn is closed, the cache dropped and rebuilt next step
    real = model.engine._prefill

    def boom(*a, **k):
        raise RuntimeError("simulated failure")

    model.engine._prefill = boom
    with pytest.raises(RuntimeError):
        model.begin_step(chunk(1))
    model.engine._prefill = real
    assert model.engine.cache is None
    gen = model.begin_step(chunk(2), "What is it?")
    ref = model.engine.forward_from_scratch(model.engine.messages, model.pixels)[-1]
    assert torch.allclose(gen.decoder.first_logits, ref, atol=1e-4)
    assert gen.finish().timings.reused_tokens == 0


def test_cancel_keeps_what_was_said(tiny_dirs):
    m = HFStreamingModel.from_pretrained(tiny_dirs["qwen3_vl"], CFG, max_new_tokens=20)
    said = ""
    for k in range(30):
        gen = m.begin_step(chunk(k), "What is it?" if k % 5 == 0 else None)
        if gen.decoder.silent:
            assert gen.finish().silent
            continue
        pieces = []
        for piece in gen:
            pieces.append(piece)
            if len("".join(pieces).strip()) >= 2:
                gen.cancel()
        result = gen.finish()
        said = "".join(pieces).strip()
        assert result.cancelled
        assert result.timings.generated_tokens < 20
        if said:
            assert result.text == said
            break
    assert said, "the random model never spoke within 30 chunks"


def test_temperature_sampling_is_seeded(tiny_dirs):
    a = HFStreamingModel.from_pretrained(tiny_dirs["qwen2_5_vl"], CFG, temperature=1.0, seed=7, max_new_tokens=6)
    texts = [a.step(chunk(k), "What?" if k == 0 else None).text for k in range(4)]
    a.reset()
    assert [a.step(chunk(k), "What?" if k == 0 else None).text for k in range(4)] == texts
    greedy = HFStreamingModel(a.loaded, CFG, max_new_tokens=6)
    assert [greedy.step(chunk(k), "What?" if k == 0 else None).text for k in range(4)] != texts


def test_missing_silent_token_is_added(tmp_path):
    from aura.models.hf.tiny import build_tiny_checkpoint

    path = build_tiny_checkpoint(tmp_path / "ck", "qwen2_5_vl", add_silent_token=False)
    m = HFStreamingModel.from_pretrained(path, CFG)
    assert m.loaded.added_silent_token
    tok = m.loaded.tokenizer
    sid = tok.convert_tokens_to_ids("<|silent|>")
    assert tok.encode("<|silent|>", add_special_tokens=False) == [sid]
    assert m.loaded.model.get_input_embeddings().weight.shape[0] > sid
    assert m.step(chunk(0)).chunk_index == 0


def test_bad_checkpoints(tmp_path):
    from aura.models.hf.loader import CheckpointError

    with pytest.raises(CheckpointError, match="does not exist"):
        HFStreamingModel.from_pretrained(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match=r"config\.json"):
        HFStreamingModel.from_pretrained(tmp_path / "empty")
    (tmp_path / "llama").mkdir()
    (tmp_path / "llama" / "config.json").write_text('{"model_type": "llama"}')
    with pytest.raises(CheckpointError, match="unsupported architecture 'llama'"):
        HFStreamingModel.from_pretrained(tmp_path / "llama")


def test_bounded_over_thousands_of_chunks(tiny_dirs):
    """Cache length, frame store and cached messages stay bounded by the window over 2,000 chunks."""
    cfg = ContextConfig(window_chunks=4, float_chunks=2, history_groups=2)
    m = HFStreamingModel.from_pretrained(tiny_dirs["qwen3_vl"], cfg, max_new_tokens=1)
    tiny = np.zeros((1, 32, 32, 3), dtype=np.uint8)
    peak_cache = peak_msgs = peak_pixels = 0
    for k in range(2000):
        m.step(VideoChunk(k, float(k), float(k + 1), tiny), "What is it?" if k % 7 == 0 else None)
        peak_cache = max(peak_cache, m.engine.cache.get_seq_length())
        peak_msgs = max(peak_msgs, len(m.engine.messages))
        peak_pixels = max(peak_pixels, len(m.pixels))
        if k == 100:
            early = (peak_cache, peak_msgs)
    assert peak_pixels <= cfg.max_window_chunks
    assert peak_msgs <= 1 + 4 * cfg.history_groups * cfg.multi_answer_cap + 2 * cfg.max_window_chunks
    assert (peak_cache, peak_msgs) == early  # nothing grew after the first hundred chunks


def test_vision_tower_encodes_each_chunk_once(model):
    """Rebuilds reuse the cached vision features: the tower sees every chunk exactly once."""
    model.reset()
    seen = []

    def count(mod, args, kwargs):
        seen.append(int(kwargs["grid_thw"].shape[0]) if "grid_thw" in kwargs else int(args[1].shape[0]))

    hook = model.engine.model.model.visual.register_forward_pre_hook(count, with_kwargs=True)
    try:
        for k in range(20):
            model.step(chunk(k), QUESTIONS.get(k))
    finally:
        hook.remove()
    assert model.context.evictions >= 2
    assert sum(seen) == 20
    assert len(model.engine._features) <= CFG.max_window_chunks
