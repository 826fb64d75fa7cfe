"""Pre-trained word vectors for aura-nano: SmolLM2's tokenizer cut short, its frozen embeddings."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from aura.errors import ConfigError
from aura.models.nano import NanoConfig
from aura.models.nano.checkpoint import load_checkpoint, save_checkpoint
from aura.models.nano.model import NanoVLM
from aura.models.nano.recipe import RecipeConfig, train_nano
from aura.models.nano.tokenizer import SPECIAL_TOKENS, train_tokenizer
from aura.models.nano.word_vectors import cut_bpe, smollm2_tokenizer, smollm2_word_vectors
from aura.models.registry import load_model

TEXTS = ["Tell me every time an object disappears.", "What colour is the red circle?",
         "The blue square is gone.", "How many objects are there?"] * 20


def test_cut_bpe_keeps_the_first_tokens_those_asked_for_and_their_merges() -> None:
    from tokenizers import Tokenizer

    full = train_tokenizer(TEXTS, vocab_size=400)
    raw = json.loads(full.backend_tokenizer.to_str())
    vocab = raw["model"]["vocab"]
    k = len(vocab) - 20  # the last 20 merges go
    cut = Tokenizer.from_str(json.dumps(cut_bpe(raw, k, ["<|new|>", SPECIAL_TOKENS[0]])))
    assert len(cut_bpe(raw, k, [])["model"]["merges"]) == len(raw["model"]["merges"]) - 20
    for text in [*set(TEXTS), "Report every disappearance.", "zebra 42"]:
        ids = cut.encode(text).ids
        assert all(i < k for i in ids) and cut.decode(ids) == text
        if all(i < k for i in full.encode(text)):  # what never needed a dropped merge tokenizes as before
            assert ids == full.encode(text)
    # a dropped merge's text still tokenizes, into more pieces
    top = max(vocab.values())
    text = full.decode([top])
    assert full.encode(text) == [top] and len(cut.encode(text).ids) >= 2
    # only the specials it lacks are added, after the kept ids
    assert cut.token_to_id("<|new|>") == k and cut.token_to_id(SPECIAL_TOKENS[0]) == 0
    # a token asked for stays whole with the tokens it is made of, renumbered in order
    small = cut_bpe(raw, 300, [], keep=[full.convert_ids_to_tokens(top)])
    kept = Tokenizer.from_str(json.dumps(small))
    assert len(small["model"]["vocab"]) > 300 and kept.encode(text).ids == [len(small["model"]["vocab"]) - 1]
    assert sorted(small["model"]["vocab"], key=small["model"]["vocab"].get) == sorted(
        small["model"]["vocab"], key=vocab.get)
    for t in set(TEXTS):
        assert kept.decode(kept.encode(t).ids) == t
    with pytest.raises(ValueError, match="lacks"):
        cut_bpe(raw, 300, [], keep=["no-such-token"])


def test_smollm2_words_and_vectors() -> None:
    tok = smollm2_tokenizer(4096, ["A yellow triangle just appeared.", "Report every disappearance."])
    assert [tok.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS[:3]] == [0, 1, 2]  # SmolLM2's own
    n = len(tok) - 5  # nano adds the vision specials and <|silent|> after SmolLM2's kept tokens
    assert n > 4096 and [tok.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS[3:]] == list(range(n, n + 5))
    ids = tok.encode("What is the number of objects?<|silent|><|im_end|>", add_special_tokens=False)
    assert tok.convert_ids_to_tokens(ids)[3] == "Ġnumber" and ids[-2:] == [n + 4, 2]
    assert tok.decode(ids, skip_special_tokens=True) == "What is the number of objects?"
    # the training text's words are kept whole even beyond the first 4096 tokens
    assert tok.convert_ids_to_tokens(tok.encode(" triangle disappearance", add_special_tokens=False)) == [
        "Ġtriangle", "Ġdisappearance"]
    vectors = smollm2_word_vectors(tok)
    assert vectors.shape == (len(tok), 576) and not vectors[n:].any()
    assert np.allclose(np.linalg.norm(vectors[:n], axis=1), 1.0, atol=1e-5)

    def vec(word: str) -> np.ndarray:
        (i,) = tok.encode(" " + word, add_special_tokens=False)
        return vectors[i]

    # the pre-trained prior a held-out wording needs: "number" is nearer "many" than the other words
    others = ["first", "last", "color", "shape", "red", "objects", "new", "tell", "time", "what"]
    assert float(vec("number") @ vec("many")) > max(float(vec("number") @ vec(w)) for w in others)
    assert float(vec("view") @ vec("see")) > max(float(vec("view") @ vec(w)) for w in others)
    with pytest.raises(ValueError, match="not one of SmolLM2's"):
        smollm2_word_vectors(train_tokenizer(TEXTS, vocab_size=300))


def test_word_vectors_are_added_and_saved(tmp_path: Path) -> None:
    cfg = NanoConfig(vocab_size=50, image_size=32, vision_channels=(8, 16, 16), grid=2, d_model=32, n_layers=1,
                     n_heads=2, word_dim=6)
    tok = train_tokenizer(TEXTS, vocab_size=50)
    cfg = cfg.model_copy(update={"vocab_size": len(tok)})
    torch.manual_seed(0)
    model = NanoVLM(cfg, tok.convert_tokens_to_ids("<|video_pad|>"))
    ids = torch.tensor([tok.encode("The red square is gone.")])
    before = model.embed_inputs(ids, None)
    assert torch.equal(before, model.embed(ids))  # an all-zero table adds nothing
    model.word_table.copy_(torch.randn(len(tok), 6))
    after = model.embed_inputs(ids, None)
    assert torch.allclose(after - before, model.word_proj(model.word_table[ids]))
    assert not any(p is model.word_table for p in model.parameters())  # frozen: not trained
    loaded, _ = load_checkpoint(save_checkpoint(tmp_path / "ckpt", model, tok))
    assert torch.equal(loaded.word_table, model.word_table)
    assert torch.equal(loaded(ids)[0], model(ids)[0])


def test_the_recipe_trains_and_serves_with_word_vectors(tmp_path: Path) -> None:
    cfg = RecipeConfig(
        out_dir=str(tmp_path / "run"), train_streams=2, seconds=(20, 24), render_heights=(48,),
        word_vectors=True, word_vocab=600,
        model=NanoConfig(image_size=32, vision_channels=(8, 16, 16), grid=2, d_model=32, n_layers=2, n_heads=2,
                         context_frames=1, visual_readout="slots", question_first=True),
        vision_epochs=1, vision_streams=2, vision_seconds=(12, 12), look_epochs=1, look_batch_size=16, epochs=1,
        global_batch_size=4, micro_batch_size=2, warmup_steps=2, save_every=1000, workers=1, calibration_streams=0,
        subword_noise=0.2)
    final = train_nano(cfg, progress=False)
    model, tok = load_checkpoint(final)
    assert len(tok) > 605 and model.cfg.word_dim == 576 and model.cfg.vocab_size == len(tok)
    assert np.array_equal(model.word_table.numpy(), smollm2_word_vectors(tok))
    # the stage-2 projection was trained
    start = load_checkpoint(Path(cfg.out_dir) / "look" / "final")[0]
    assert not torch.equal(start.word_proj.weight, model.word_proj.weight)
    served = load_model(f"nano:{final}")
    assert served.context_config.window_chunks == 8
    # another tokenizer in the run's directory is refused, in one line
    other = tmp_path / "other"
    (other / "tokenizer").mkdir(parents=True)
    train_tokenizer(TEXTS, vocab_size=300).backend_tokenizer.save(str(other / "tokenizer" / "tokenizer.json"))
    with pytest.raises(ConfigError, match="not a cut of SmolLM2's tokenizer"):
        train_nano(cfg.model_copy(update={"out_dir": str(other), "data_dir": str(Path(cfg.out_dir) / "data")}),
                   progress=False)
