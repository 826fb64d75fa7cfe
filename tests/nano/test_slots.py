"""The ``slots`` visual read-out: one token per colour-shape pair and one for the scene, each
carrying the encoder's beliefs, laid out the way stage 0 trains them."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from aura.models.nano import NanoConfig, NanoVLM
from aura.models.nano.config import N_PAIRS
from aura.models.nano.model import FrameEncoder
from aura.models.nano.recipe import frames_to_pixels
from aura.models.nano.vision_pretrain import (
    EVENT_KINDS,
    N_EVENT_LABELS,
    VisionData,
    VisionHeads,
    pretrain_vision,
)
from aura.world.vocab import MAX_OBJECTS

CFG = NanoConfig(vocab_size=64, image_size=32, vision_channels=(8, 16, 16), grid=2, d_model=32, n_layers=1,
                 n_heads=2, context_frames=1, visual_readout="slots")


def test_slot_tokens_are_one_per_pair_plus_the_scene_and_carry_their_beliefs() -> None:
    torch.manual_seed(0)
    encoder = FrameEncoder(CFG).eval()
    pixels = torch.rand(3, 3 * CFG.input_frames, 32, 32)
    tokens, beliefs, feature_map = encoder.parts(pixels)
    assert CFG.visual_tokens == N_PAIRS + 1 == 13 and CFG.token_grid == (1, 1, 13)
    assert tokens.shape == (3, 13, 16 + CFG.slot_beliefs) and encoder.feature_dim == tokens.shape[-1]
    assert beliefs is not None and beliefs.shape == (3, 13, CFG.slot_beliefs)
    assert torch.allclose(tokens[..., 16:], torch.tanh(beliefs / 4.0))
    assert feature_map.shape == (3, 16, 8, 8)
    # different chunks give different tokens (nothing is constant by construction)
    assert (tokens[0] - tokens[1]).abs().max() > 1e-3
    model = NanoVLM(CFG, video_pad_id=3)
    assert model.encode_chunks(pixels).shape == (3 * 13, 32)


def test_pretraining_reads_each_label_from_its_slot() -> None:
    """Presence of pair k in frame f, its appearing and vanishing, the count and the event kinds
    come from the documented belief positions of the documented slots."""
    heads = VisionHeads(CFG)
    f_in = CFG.input_frames
    beliefs = (100.0 * torch.arange(13)[:, None] + torch.arange(CFG.slot_beliefs)[None, :])[None]
    feature_map = torch.zeros(1, 16, 8, 8)
    cells, count, presence, events = heads(torch.zeros(1, 13, 16 + CFG.slot_beliefs), beliefs, feature_map)
    assert cells.shape == (1, CFG.frames_per_chunk, 4, 13)
    assert events.shape == (1, N_EVENT_LABELS) and presence.shape == (1, f_in, N_PAIRS)
    for k in range(N_PAIRS):
        for f in range(f_in):
            assert presence[0, f, k] == 100 * k + f
        assert events[0, k] == 100 * k + f_in  # appeared
        assert events[0, N_PAIRS + k] == 100 * k + f_in + 1  # vanished
    assert count.tolist()[0] == [1200.0 + c for c in range(MAX_OBJECTS + 1)]
    for j in range(len(EVENT_KINDS)):
        assert events[0, 2 * N_PAIRS + j] == 1200 + MAX_OBJECTS + 1 + j


@pytest.mark.parametrize(("per_frame", "bf16"), [(False, False), (True, True)])
def test_slot_encoder_learns_which_pair_a_frame_shows(per_frame: bool, bf16: bool) -> None:
    """Stage 0 with slots on frames that each show one flat colour square: the slot of the pair
    shown learns to say so (held-out presence far above the 0% an untrained encoder gets), with
    the frames stacked on channels or encoded one by one, in float32 or under bfloat16 autocast."""
    cfg = CFG.model_copy(update={"per_frame": per_frame})
    rng = np.random.default_rng(0)
    colours = np.array([[215, 35, 35], [35, 175, 55], [40, 75, 225], [235, 215, 35]], dtype=np.uint8)

    def data(n: int) -> VisionData:
        frames = np.full((n, CFG.input_frames, 32, 32, 3), 128, dtype=np.uint8)
        presence = np.zeros((n, CFG.input_frames, N_PAIRS), dtype=np.float32)
        cells = np.zeros((n, CFG.frames_per_chunk, 4), dtype=np.int64)
        for i in range(n):
            c = int(rng.integers(4))
            y, x = rng.integers(0, 20, size=2)
            frames[i, :, y : y + 12, x : x + 12] = colours[c]
            presence[i, :, c * 3 + 1] = 1.0  # the square of colour c
        return VisionData(frames, cells, np.ones(n, dtype=np.int64), presence,
                          np.zeros((n, N_EVENT_LABELS), dtype=np.float32))

    encoder, report = pretrain_vision(cfg, data(256), data(64), epochs=20, batch_size=32, lr=3e-3,
                                      pixels=frames_to_pixels, progress=False, bf16=bf16)
    assert encoder.value.in_channels == 16 * (cfg.input_frames if per_frame else 1)
    assert report.presence_accuracy > 0.8
    assert report.count_accuracy > 0.9
    # the per-slot numbers agree with the exact one: most shown pairs found, few absent ones claimed
    assert report.presence_recall > 0.8 and report.presence_false_positive < 0.05


def _beside_plain(tok, update: dict, tmp_path) -> tuple[NanoVLM, torch.Tensor, torch.Tensor, NanoConfig]:
    """A model with ``update`` applied to ``CFG`` and the plain model's weights: (model, pixels, its tokens
    minus the plain model's (2, 13, d), the config its checkpoint round trip loads back). The round trip
    must give the same tokens."""
    from aura.models.nano.checkpoint import load_checkpoint, save_checkpoint

    torch.manual_seed(0)
    plain = NanoVLM(CFG.model_copy(update={"vocab_size": len(tok)}), video_pad_id=3).eval()
    model = NanoVLM(CFG.model_copy(update={"vocab_size": len(tok), **update}), video_pad_id=3).eval()
    model.load_state_dict(plain.state_dict(), strict=False)
    pixels = torch.rand(2, 3 * CFG.input_frames, 32, 32)
    save_checkpoint(tmp_path / "ck", model, tok)
    loaded, _ = load_checkpoint(tmp_path / "ck")
    with torch.no_grad():
        diff = (model.encode_chunks(pixels) - plain.encode_chunks(pixels)).view(2, 13, -1)
        assert torch.allclose(loaded.encode_chunks(pixels), model.encode_chunks(pixels), atol=1e-5)
    return model, pixels, diff, loaded.cfg


def test_slot_words_put_each_pair_words_into_its_slot(tmp_path) -> None:
    """With ``slot_words`` the pair slots' tokens are the plain ones plus the gain times their colour and
    shape word embeddings (the scene slot is unchanged); the ids survive a checkpoint round trip."""
    from pydantic import ValidationError

    from aura.models.nano.tokenizer import slot_word_ids, train_tokenizer
    from aura.world.vocab import COLOURS, SHAPES

    texts = [f"Is there a {c} {s}? Yes, there is a {c} {s}." for c in COLOURS for s in SHAPES] * 20
    tok = train_tokenizer(texts, vocab_size=400)
    ids = slot_word_ids(tok)
    assert len(ids) == N_PAIRS and ids[1] == (tok.encode(" red")[0], tok.encode(" square")[0])
    worded, _, diff, loaded_cfg = _beside_plain(tok, {"slot_words": ids}, tmp_path)
    with torch.no_grad():
        want = worded.embed.weight[torch.tensor(ids)].sum(1) * worded.slot_word_gain
    assert torch.allclose(diff[:, :N_PAIRS], want.expand(2, -1, -1), atol=1e-5)
    assert torch.equal(diff[:, N_PAIRS], torch.zeros_like(diff[:, N_PAIRS]))
    assert loaded_cfg.slot_words == ids
    with pytest.raises(ValidationError, match="slot_words"):
        NanoConfig(vocab_size=64, slot_words=ids[:3])
    with pytest.raises(ValueError, match="one"):
        slot_word_ids(train_tokenizer(["hello world"] * 5, vocab_size=280))


def test_slot_embed_gives_each_slot_an_identity_and_embeds_its_beliefs(tmp_path) -> None:
    """With ``slot_embed`` a token is the plain projection plus its slot's learnt identity plus a learnt
    embedding of its beliefs; the identities differ from the start, and a checkpoint keeps them."""
    from pydantic import ValidationError

    from aura.models.nano.tokenizer import train_tokenizer

    tok = train_tokenizer(["Is there a red circle? Yes."] * 20, vocab_size=280)
    embedded, pixels, diff, loaded_cfg = _beside_plain(tok, {"slot_embed": True}, tmp_path)
    with torch.no_grad():
        features = embedded.vision(pixels)
        want = embedded.belief_embed(features[..., -CFG.slot_beliefs:]) + embedded.slot_ids
    assert torch.allclose(diff, want, atol=1e-5)
    assert (embedded.slot_ids[0] - embedded.slot_ids[1]).norm() > 1.0  # told apart from the first step
    assert loaded_cfg.slot_embed
    with pytest.raises(ValidationError, match="slot_embed"):
        NanoConfig(vocab_size=64, slot_embed=True)


def test_frozen_encoder_features_give_the_same_logits_as_pixels() -> None:
    """The text stages feed a frozen encoder's output computed once per chunk (``nano_preprocess(...,
    features=True)``); the model must compute exactly what it computes from the pixels."""
    from aura.models.nano.training import NanoForTraining, nano_preprocess

    torch.manual_seed(0)
    cfg = CFG.model_copy(update={"slot_embed": True})
    model = NanoVLM(cfg, video_pad_id=3)
    for p in model.vision.parameters():
        p.requires_grad_(False)
    frames = [np.random.default_rng(i).integers(0, 255, (cfg.input_frames, 32, 32, 3), dtype=np.uint8)
              for i in range(2)]
    by_pixels, by_features = nano_preprocess(model), nano_preprocess(model, features=True)
    pixels = torch.from_numpy(np.concatenate([by_pixels(f)[0] for f in frames]))
    features = torch.from_numpy(np.concatenate([by_features(f)[0] for f in frames]))
    assert features.shape == (2, 13, model.vision.feature_dim)
    ids = torch.tensor([[5, *([3] * 13), 6, *([3] * 13), 7]])
    plain = NanoForTraining(model).train()
    cached = NanoForTraining(model, features=True).train()
    assert not model.vision.training  # a frozen encoder stays in eval mode while the rest trains
    want = plain(input_ids=ids, pixel_values_videos=pixels).logits
    got = cached(input_ids=ids, pixel_values_videos=features).logits
    assert torch.allclose(want, got, atol=1e-5)
    # and the features are what make the difference: other chunks, other logits
    other = cached(input_ids=ids, pixel_values_videos=features.flip(0)).logits
    assert (other - got).abs().max() > 1e-4
    model.vision.requires_grad_(True)
    with pytest.raises(ValueError, match="frozen"):
        by_features(frames[0])


def test_stem_reads_frames_at_twice_the_size_into_the_same_slot_tokens() -> None:
    cfg = CFG.model_copy(update={"image_size": 64, "stem_channels": 8})
    encoder = FrameEncoder(cfg).eval()
    tokens, _, feature_map = encoder.parts(torch.rand(2, 3 * cfg.input_frames, 64, 64))
    assert tokens.shape == (2, 13, 16 + cfg.slot_beliefs) and feature_map.shape == (2, 16, 8, 8)
    with pytest.raises(ValueError, match="multiple"):
        NanoConfig(image_size=68, stem_channels=8, visual_readout="slots")
    with pytest.raises(ValueError, match="slots"):
        NanoConfig(stem_channels=8)


def test_per_frame_encoder_sees_each_frame_alone() -> None:
    """With ``per_frame`` a frame's CNN features do not depend on the other frames of the chunk
    (with the frames stacked on channels they do), and the slot tokens still read every frame."""
    torch.manual_seed(0)
    pixels = torch.rand(2, 3 * CFG.input_frames, 32, 32)
    changed = pixels.clone()
    changed[:, -3:] = torch.rand(2, 3, 32, 32)  # another last frame
    for per_frame in (True, False):
        encoder = FrameEncoder(CFG.model_copy(update={"per_frame": per_frame})).eval()
        seen: list[torch.Tensor] = []
        encoder.net.register_forward_hook(lambda _m, _i, out, seen=seen: seen.append(out.detach()))
        tokens, _, _ = encoder.parts(pixels)
        tokens_changed, _, _ = encoder.parts(changed)
        assert (tokens - tokens_changed).abs().max() > 1e-4  # the tokens see the last frame
        if per_frame:
            first = seen[0].reshape(2, CFG.input_frames, *seen[0].shape[1:])[:, 0]
            first_changed = seen[1].reshape(2, CFG.input_frames, *seen[1].shape[1:])[:, 0]
            assert torch.equal(first, first_changed)
        else:
            assert (seen[0] - seen[1]).abs().max() > 1e-4
    with pytest.raises(ValueError, match="per_frame"):
        NanoConfig(per_frame=True)


def test_swap_context_splices_a_frame_of_the_same_stream_and_relabels_it() -> None:
    from aura.models.nano.vision_pretrain import swap_context

    n, f_in = 8, 3
    streams = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    frames = np.zeros((n, f_in, 4, 4, 3), dtype=np.uint8)
    presence = np.zeros((n, f_in, N_PAIRS), dtype=np.float32)
    for i in range(n):
        frames[i] = i  # every frame says which chunk it came from
        presence[i, :, i] = 1.0  # chunk i shows pair i in all its frames
    events = np.full((n, N_EVENT_LABELS), 0.5, dtype=np.float32)
    data = VisionData(frames, np.zeros((n, 2, 4), dtype=np.int64), np.zeros(n, dtype=np.int64), presence, events,
                      streams)
    idx = np.arange(n)
    which = np.array([True, False] * 4)
    out_frames, out_presence, out_events, mask = swap_context(data, idx, which, 1, np.random.default_rng(0))
    assert (data.frames == frames).all()  # the data are not modified
    for i in range(n):
        source = int(out_frames[i, 0, 0, 0, 0])
        assert streams[source] == streams[i]
        assert (out_frames[i, 1:] == i).all()
        if not which[i]:
            assert source == i and (out_events[i] == 0.5).all() and (mask[i] == 1).all()
            continue
        assert (out_presence[i, 0] == presence[source, -1]).all()
        appeared, vanished = out_events[i, :N_PAIRS], out_events[i, N_PAIRS : 2 * N_PAIRS]
        moved = source != i
        assert appeared[i] == float(moved) and vanished[source] == float(moved)
        assert appeared.sum() == vanished.sum() == float(moved)
        assert (mask[i, 2 * N_PAIRS :] == 0).all() and (mask[i, : 2 * N_PAIRS] == 1).all()


def test_event_words_carry_each_believed_kind_of_event(tmp_path) -> None:
    """With ``event_words`` every token gains the gain times its slot's believed kinds of event, each as
    its words' mean embedding weighed by the belief ((tanh(logit/4) + 1) / 2): a pair slot's appeared
    and vanished beliefs carry the appear and disappear words, the scene slot's three kind beliefs all
    three kinds'. A belief pushed on moves its token toward that kind's words."""
    from pydantic import ValidationError

    from aura.models.nano.tokenizer import event_word_ids, train_tokenizer

    texts = ["Tell me every time an object disappears. The red circle disappeared.",
             "Let me know whenever something appears. A blue square appeared. It shows up.",
             "Each time an object vanishes, tell me. The circle turned from red to blue.",
             "Tell me every time an object changes colour."] * 30
    tok = train_tokenizer(texts, vocab_size=400)
    ids = event_word_ids(tok)
    assert ids[1][0] == tok.encode(" disappears")[0] and len(ids) == 3
    model, pixels, diff, loaded_cfg = _beside_plain(tok, {"event_words": ids}, tmp_path)
    assert loaded_cfg.event_words == ids
    with torch.no_grad():
        kinds = torch.stack([model.embed.weight[torch.tensor(k)].mean(0) for k in ids])
        beliefs = model.vision(pixels)[..., -CFG.slot_beliefs :]
        p = (beliefs + 1) / 2
        f = CFG.input_frames
        want_pairs = p[:, :N_PAIRS, f : f + 2] @ kinds[:2] * model.event_word_gain
        want_scene = p[:, N_PAIRS, MAX_OBJECTS + 1 : MAX_OBJECTS + 4] @ kinds * model.event_word_gain
        assert torch.allclose(diff[:, :N_PAIRS], want_pairs, atol=1e-4)
        assert torch.allclose(diff[:, N_PAIRS], want_scene, atol=1e-4)
        # a slot that surely vanished carries the disappear words, one that surely did not carries none
        feats = model.vision(pixels).clone()
        feats[0, 5, -CFG.slot_beliefs + f : -CFG.slot_beliefs + f + 2] = torch.tensor([-1.0, 1.0])
        feats[0, 6, -CFG.slot_beliefs + f : -CFG.slot_beliefs + f + 2] = torch.tensor([-1.0, -1.0])
        words = model._event_words(feats)
        assert torch.allclose(words[0, 5], kinds[1], atol=1e-5)
        assert torch.allclose(words[0, 6], torch.zeros_like(kinds[1]), atol=1e-6)
    with pytest.raises(ValidationError, match="event_words"):
        NanoConfig(vocab_size=400, visual_readout="slots", event_words=ids[:2])
    with pytest.raises(ValidationError, match="event_words"):
        NanoConfig(vocab_size=400, visual_readout="slots", event_words=(ids[0], (), ids[2]))
    with pytest.raises(ValueError, match="one token"):
        event_word_ids(train_tokenizer(["hello world"] * 5, vocab_size=280))
