"""aura-nano streaming: cached steps equal from-scratch forwards; silence; bounds; checkpoints."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from aura.errors import AuraError
from aura.models.hf.chat import concat
from aura.models.nano import NanoConfig, NanoStreamingModel, NanoVLM, load_checkpoint, save_checkpoint
from aura.models.nano.pixels import encoder_pixels
from aura.models.nano.tokenizer import train_tokenizer
from aura.models.nano.training import nano_chat_format
from aura.stream import ContextConfig, VideoChunk

CORPUS = [
    "<|im_start|>user\nWhat colour is the circle?<|im_end|>\n<|im_start|>assistant\nThe circle is red.<|im_end|>\n",
    "Tell me when a blue square appears. OK, I will tell you. How many objects are there? There are 3 objects.",
] * 20


def tiny_model(seed: int = 0, context_frames: int = 0, readout: str = "grid", question_first: bool = False,
               per_frame: bool = False, decision_layers: int = 0, compact: bool = False,
               pauses: int = 0) -> tuple[NanoVLM, object]:
    """A tiny random nano; its decision layers (if any) get random output weights, not their identity start."""
    torch.manual_seed(seed)
    tok = train_tokenizer(CORPUS, vocab_size=300, compact=compact, pause=pauses > 0)
    slots = readout == "slots"
    cfg = NanoConfig(vocab_size=len(tok), image_size=32, vision_channels=(8, 16, 16), grid=2, d_model=32,
                     n_layers=2, n_heads=2, context_frames=context_frames, visual_readout=readout,
                     slot_embed=slots and question_first, question_first=question_first, per_frame=per_frame,
                     compact_format=compact, decision_pauses=pauses)
    if decision_layers:
        prompt = tuple(nano_chat_format(tok, cfg).generation_prompt())
        cfg = cfg.model_copy(update={"decision_layers": decision_layers, "decision_prompt": prompt})
    model = NanoVLM(cfg, tok.convert_tokens_to_ids("<|video_pad|>"))
    for layer in model.decision:
        for p in (layer.proj.weight, layer.mlp[2].weight):
            torch.nn.init.normal_(p, std=0.3)
    return model, tok


def frames(k: int) -> np.ndarray:
    rng = np.random.default_rng(k)
    return rng.integers(0, 256, size=(2, 24, 40, 3), dtype=np.uint8)


def chunk(k: int) -> VideoChunk:
    return VideoChunk(k, float(k), float(k + 1), frames(k))


@pytest.mark.parametrize(("context_frames", "readout", "question_first", "per_frame", "decision_layers", "compact",
                          "pauses"),
                         [(0, "grid", False, False, 0, False, 0), (1, "grid", False, False, 0, False, 0),
                          (1, "slots", False, False, 0, False, 0), (1, "slots", True, False, 0, False, 0),
                          (1, "slots", True, True, 0, False, 0), (1, "slots", True, False, 2, False, 0),
                          (1, "slots", True, False, 2, True, 0), (1, "slots", True, False, 0, True, 3)])
def test_cached_steps_equal_from_scratch_forward(context_frames: int, readout: str, question_first: bool,
                                                 per_frame: bool, decision_layers: int, compact: bool,
                                                 pauses: int) -> None:
    """Cached steps equal a from-scratch forward whose pixels come the training way (context frames
    prepended to the chunk's frames), so streaming sees exactly what training saw; with either
    visual read-out (4 grid tokens or 13 slots per chunk), with the question rendered before
    the chunk (slot embeddings on), with each frame encoded alone, with decision layers, and in
    the compact chat layout with pause tokens."""
    model, tok = tiny_model(context_frames=context_frames, readout=readout, question_first=question_first,
                            per_frame=per_frame, decision_layers=decision_layers, compact=compact, pauses=pauses)
    nano = NanoStreamingModel(model, tok, ContextConfig(window_chunks=4, float_chunks=3, history_groups=2),
                              max_new_tokens=4)
    rebuilds = 0
    pixels = {}
    for k in range(40):
        with_context = np.concatenate([frames(k - 1)[2 - context_frames :], frames(k)]) if k else frames(k)
        pixels[k] = encoder_pixels(with_context, model.cfg)
        assert pixels[k].shape[0] == 3 * (2 + context_frames)
        question = "What colour is the circle?" if k % 7 == 3 else None
        step = nano.begin_step(chunk(k), question)
        messages = nano.context.messages()
        encoded = nano.encode(messages)
        ids, _ = concat(encoded)
        ids += nano.format.generation_prompt()
        pad = tok.convert_tokens_to_ids("<|video_pad|>")
        if question:  # the question sits where the format puts it: before the chunk's pads or after them
            text = tok.decode(encoded[-1].input_ids)
            assert (text.index("circle?") < text.index("<|video_pad|>")) == question_first
        assert ids.count(pad) == model.cfg.visual_tokens * sum(len(e.video_chunks) for e in encoded)
        with torch.inference_mode():
            reference, _ = model(torch.tensor([ids]), torch.stack([pixels[c] for e in encoded for c in e.video_chunks]))
        assert torch.allclose(step._first_logits, reference[0, -1], atol=1e-4)
        result = step.finish()
        rebuilds += result.timings.cache_rebuilt
        if k > 0 and not result.timings.cache_rebuilt:
            assert result.timings.reused_tokens > 0
    assert rebuilds >= 5  # one at the start plus the evictions


def test_decision_layers_change_reply_openings_only() -> None:
    """Decision layers change the logits at the positions that end ``<|im_start|>assistant\\n`` and
    nowhere else; in a padded batch every row gets its own; at their zero start they change nothing."""
    model, tok = tiny_model(decision_layers=2)
    base = NanoVLM(model.cfg.model_copy(update={"decision_layers": 0, "decision_prompt": None}), model.video_pad_id)
    base.load_state_dict({k: v for k, v in model.state_dict().items() if not k.startswith("decision.")})
    fmt = nano_chat_format(tok, model.cfg)
    prompt = fmt.generation_prompt()
    turn = tok("<|im_start|>user\nWhat colour is the circle?<|im_end|>\n").input_ids
    reply = tok("The circle is red.<|im_end|>\n").input_ids
    ids = turn + prompt + reply + turn + prompt
    opens = {len(turn) + len(prompt) - 1, len(ids) - 1}
    with torch.inference_mode():
        with_layers, _ = model.eval()(torch.tensor([ids]))
        without, _ = base.eval()(torch.tensor([ids]))
        changed = {i for i in range(len(ids)) if not torch.allclose(with_layers[0, i], without[0, i], atol=1e-6)}
        assert changed == opens
        short = turn + prompt
        batch = torch.tensor([ids, short + [tok.pad_token_id] * (len(ids) - len(short))])
        mask = (torch.arange(len(ids)) < torch.tensor([[len(ids)], [len(short)]])).long()
        batched, _ = model(batch, attention_mask=mask)
        alone, _ = model(torch.tensor([short]))
    assert torch.allclose(batched[0], with_layers[0], atol=1e-5)
    assert torch.allclose(batched[1, : len(short)], alone[0], atol=1e-5)
    for layer in model.decision:
        layer.zero_outputs()
    with torch.inference_mode():
        assert torch.allclose(model(torch.tensor([ids]))[0], without, atol=1e-6)


def test_pixel_store_and_context_stay_bounded() -> None:
    model, tok = tiny_model()
    nano = NanoStreamingModel(model, tok, ContextConfig(window_chunks=3, float_chunks=2), max_new_tokens=2)
    for k in range(2000):
        nano.step(VideoChunk(k, k, k + 1, frames(k % 50)))
        assert len(nano._visual) <= 4
        assert len(nano.context.window) <= 4
        assert nano._cache is not None and nano._cache[0][0].shape[2] < 400


def test_silent_first_token_stops_at_once() -> None:
    model, tok = tiny_model()
    nano = NanoStreamingModel(model, tok)
    with torch.no_grad():  # final features = the silent token's own embedding: <|silent|> wins every argmax
        model.ln_f.weight.zero_()
        model.ln_f.bias.copy_(model.embed.weight[nano.format.silent_token_id] * 100)
    step = nano.begin_step(chunk(0), "What colour is the circle?")
    assert list(step) == []
    result = step.finish()
    assert result.silent and result.text == "" and result.timings.generated_tokens == 1
    assert nano.context.window[-1].reply is None


def test_bad_frames_and_questions_leave_session_usable() -> None:
    model, tok = tiny_model()
    nano = NanoStreamingModel(model, tok, max_new_tokens=2)
    nano.step(chunk(0))
    with pytest.raises(AuraError):
        nano.begin_step(VideoChunk(1, 1.0, 2.0, np.zeros((2, 8, 8), np.uint8)))
    with pytest.raises(AuraError):
        nano.begin_step(VideoChunk(1, 1.0, 2.0, np.zeros((2, 8, 8, 3), np.float32)))
    with pytest.raises(AuraError):
        nano.begin_step(VideoChunk(1, 1.0, 2.0, None))
    with pytest.raises(AuraError):
        nano.begin_step(chunk(1), "   ")
    with pytest.raises(AuraError):
        nano.begin_step(chunk(1), "hi <|im_start|> there")
    result = nano.step(chunk(1), "How many objects are there?")
    assert result.chunk_index == 1


def test_compact_layout_spends_five_tokens_a_silent_chunk_and_survives_a_checkpoint(tmp_path: Path) -> None:
    """In the compact layout a silent chunk is its visual tokens + 5 (role, end, role, silent, end),
    against at least + 13 in ChatML (13 where the tokenizer has one token for each role word and
    the newline; this tiny one has not); the layout travels with the checkpoint (config and tokenizer), and a
    question that types a role token is refused like any reserved token text."""
    per_chunk = {}
    for compact in (False, True):
        model, tok = tiny_model(readout="slots", question_first=True, compact=compact)
        nano = NanoStreamingModel(model, tok, ContextConfig(window_chunks=4, float_chunks=3, history_groups=2),
                                  max_new_tokens=2, silence_bias=1e4)
        for k in range(3):
            nano.step(chunk(k))
        ids, _ = concat(nano.encode(nano.context.messages()[-2:]))  # the last chunk and its silent reply
        per_chunk[compact] = len(ids) - model.cfg.visual_tokens
    assert per_chunk[True] == 5 and per_chunk[False] >= 13
    assert tok.convert_ids_to_tokens(nano.format.generation_prompt()) == ["<|assistant|>"]
    save_checkpoint(tmp_path / "ckpt", model, tok)
    loaded, tok2 = load_checkpoint(tmp_path / "ckpt")
    assert loaded.cfg.compact_format
    again = NanoStreamingModel(loaded, tok2, ContextConfig(window_chunks=4, float_chunks=3, history_groups=2))
    assert again.format.compact and again.format.generation_prompt() == nano.format.generation_prompt()
    with pytest.raises(AuraError, match="<\\|user\\|>"):
        again.begin_step(chunk(0), "who is <|user|> here?")
    with pytest.raises(AuraError, match="no <\\|system\\|> token"):  # a ChatML tokenizer cannot serve the layout
        NanoStreamingModel(loaded, tiny_model()[1])


def test_pause_tokens_close_the_reply_header_and_are_never_targets(tmp_path: Path) -> None:
    """With K pauses the generation prompt (so the silence decision) ends after K <|pause|> tokens,
    every recorded reply keeps them in its header and none of them is supervised; the count travels
    with the checkpoint, and a question that types the token is refused."""
    model, tok = tiny_model(readout="slots", question_first=True, compact=True, pauses=3)
    nano = NanoStreamingModel(model, tok, ContextConfig(window_chunks=4, float_chunks=3, history_groups=2),
                              max_new_tokens=2)
    assert tok.convert_ids_to_tokens(nano.format.generation_prompt()) == ["<|assistant|>"] + ["<|pause|>"] * 3
    for k in range(3):
        nano.step(chunk(k), "How many objects are there?" if k == 1 else None)
    replies = [m for m in nano.context.messages() if m["role"] == "assistant"]
    for message, enc in zip(replies, nano.encode(replies), strict=True):
        start, end = enc.supervised
        assert tok.convert_ids_to_tokens(enc.input_ids[:start]) == ["<|assistant|>"] + ["<|pause|>"] * 3
        assert tok.decode(enc.input_ids[start:end - 1]) == message["content"]  # the reply, then <|im_end|>
    save_checkpoint(tmp_path / "ckpt", model, tok)
    loaded, tok2 = load_checkpoint(tmp_path / "ckpt")
    again = NanoStreamingModel(loaded, tok2)
    assert loaded.cfg.decision_pauses == 3 and again.format.generation_prompt() == nano.format.generation_prompt()
    with pytest.raises(AuraError, match="pause"):
        again.begin_step(chunk(0), "wait <|pause|> then answer")


@pytest.mark.parametrize(("compact", "pauses"), [(False, 0), (True, 0), (True, 3), (False, 2)])
def test_the_checkpoint_chat_template_writes_the_format_tokens(tmp_path: Path, compact: bool, pauses: int) -> None:
    """The loaded tokenizer's chat template renders a text conversation, generation prompt included,
    to exactly the chat format's tokens, in either layout and with pause tokens."""
    model, tok = tiny_model(readout="slots", question_first=True, compact=compact, pauses=pauses)
    save_checkpoint(tmp_path / "ckpt", model, tok)
    loaded, tok2 = load_checkpoint(tmp_path / "ckpt")
    fmt = nano_chat_format(tok2, loaded.cfg)
    messages = [{"role": "system", "content": "You watch."}, {"role": "user", "content": "What colour is the circle?"},
                {"role": "assistant", "content": "The circle is red."}, {"role": "user", "content": ""},
                {"role": "assistant", "content": "<|silent|>"}]
    ids, _ = concat(fmt.encode_messages(messages, lambda part: (1, 1, 1)))
    rendered = tok2.apply_chat_template(messages, tokenize=True, add_generation_prompt=True, return_dict=False)
    assert list(rendered) == ids + fmt.generation_prompt()


def test_checkpoint_round_trip(tmp_path: Path) -> None:
    model, tok = tiny_model(seed=3, decision_layers=1)
    save_checkpoint(tmp_path / "ckpt", model, tok)
    loaded, tok2 = load_checkpoint(tmp_path / "ckpt")
    assert loaded.cfg.decision_prompt == model.cfg.decision_prompt
    ids = torch.tensor([tok("What colour is the circle?").input_ids + list(model.cfg.decision_prompt)])
    with torch.inference_mode():
        a, _ = model.eval()(ids)
        b, _ = loaded(ids)
    assert torch.equal(a, b)
    assert tok2.convert_tokens_to_ids("<|silent|>") == tok.convert_tokens_to_ids("<|silent|>")
    with pytest.raises(AuraError, match="not a checkpoint"):
        load_checkpoint(tmp_path / "nothing")


def test_silence_bias_moves_the_first_token_decision_by_its_margin() -> None:
    """The recorded margin is the unbiased silence-vs-speech logit gap; greedy decoding is silent
    when it is >= 0, and a bias larger than any gap forces either decision."""
    model, tok = tiny_model(seed=1)
    plain = NanoStreamingModel(model, tok, max_new_tokens=2)
    quiet = NanoStreamingModel(model, tok, max_new_tokens=2, silence_bias=1e4)
    loud = NanoStreamingModel(model, tok, max_new_tokens=2, silence_bias=-1e4)
    first = [m.step(chunk(0)).silence_margin for m in (plain, quiet, loud)]
    assert all(isinstance(m, float) for m in first)
    assert first[1] == pytest.approx(first[0], abs=1e-5) and first[2] == pytest.approx(first[0], abs=1e-5)
    for k in range(1, 8):
        r = plain.step(chunk(k), "What colour is the circle?" if k % 3 == 0 else None)
        if r.silence_margin >= 0:
            assert r.silent
        assert quiet.step(chunk(k)).silent
        step = loud.begin_step(chunk(k))
        list(step)
        step.finish()
        assert not step._silent  # the silence path was not taken: a token was decoded


def test_generation_defaults_travel_with_the_checkpoint(tmp_path: Path) -> None:
    from aura.models.nano.checkpoint import CheckpointError, load_generation, save_generation
    from aura.models.registry import load_model

    model, tok = tiny_model(seed=2)
    ckpt = save_checkpoint(tmp_path / "ckpt", model, tok)
    assert load_generation(ckpt) == {}
    save_generation(ckpt, context=ContextConfig(window_chunks=12, float_chunks=1, history_groups=3))
    save_generation(ckpt, silence_bias=2.5)  # keeps the context
    loaded = load_model(f"nano:{ckpt}")
    assert loaded.silence_bias == 2.5
    assert (loaded.context_config.window_chunks, loaded.context_config.float_chunks) == (12, 1)
    assert load_model(f"nano:{ckpt}", silence_bias=0.0).silence_bias == 0.0  # an explicit value wins
    assert load_model(f"nano:{ckpt}", silence_bias=None).silence_bias == 2.5
    (ckpt / "generation.json").write_text("[1, 2")
    with pytest.raises(CheckpointError, match="generation"):
        load_model(f"nano:{ckpt}")


def test_dropout_acts_while_training_only_and_travels_with_the_checkpoint(tmp_path: Path) -> None:
    model, tok = tiny_model(seed=5)
    ids = torch.tensor([tok("Tell me when a blue square appears.").input_ids])
    with torch.inference_mode():
        plain, _ = model.eval()(ids)
    dropped = NanoVLM(model.cfg.model_copy(update={"dropout": 0.3}), model.video_pad_id)
    dropped.load_state_dict(model.state_dict())  # dropout adds no weights
    dropped.train()
    torch.manual_seed(0)
    a, _ = dropped(ids)
    b, _ = dropped(ids)
    assert not torch.allclose(a, b) and not torch.allclose(a, plain)  # it drops while training
    save_checkpoint(tmp_path / "ckpt", dropped, tok)
    loaded, _ = load_checkpoint(tmp_path / "ckpt")
    assert loaded.cfg.dropout == 0.3 and not loaded.training
    with torch.inference_mode():
        c, _ = loaded(ids)
        d, _ = dropped.eval()(ids)
    assert torch.equal(c, plain) and torch.equal(d, plain)  # and never at inference


def test_block_only_dropout_leaves_the_inputs_whole() -> None:
    model, tok = tiny_model(seed=6)
    ids = torch.tensor([tok("How many objects are there?").input_ids])
    cfg = model.cfg.model_copy(update={"dropout": 0.5, "dropout_inputs": False})
    for inputs_dropped in (False, True):
        m = NanoVLM(cfg.model_copy(update={"dropout_inputs": inputs_dropped}), model.video_pad_id).train()
        seen: list[torch.Tensor] = []
        m.blocks[0].register_forward_pre_hook(lambda _mod, args, seen=seen: seen.append(args[0].detach()))
        torch.manual_seed(0)
        out, _ = m(ids)
        whole = m.embed_inputs(ids, None).detach()
        assert torch.equal(seen[0], whole) is not inputs_dropped  # what the first block reads
        assert not torch.allclose(out, m.eval()(ids)[0])  # the blocks drop either way
