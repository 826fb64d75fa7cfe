"""Subword noise: user words cut into pieces of the same text, seeded, targets untouched."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from aura.models.hf.chat import TEXT, VIDEO
from aura.models.nano.checkpoint import bundled_checkpoint, load_tokenizer
from aura.models.nano.subword_noise import (
    SubwordNoiseFormat,
    SubwordPieces,
    event_verb_ids,
    with_subword_noise,
    world_word_ids,
)
from aura.models.nano.training import nano_chat_format
from aura.train.labels import TokenKind, encode_sample
from aura.world.phrasing import QUESTIONS


def _grid(part: dict[str, Any]) -> tuple[int, int, int]:
    return (1, 6, 6)


@pytest.fixture(scope="module")
def tok() -> Any:
    return load_tokenizer(bundled_checkpoint())


def _user(text: str, chunk: int = 0) -> dict[str, Any]:
    return {"role": "user", "content": [{"type": "video", "chunk": chunk}, {"type": "text", "text": text}]}


QUESTION_TEXTS = [t.format(shape="circle", colour="red", target="red circle") for kind in QUESTIONS.values()
                  for t, _ in kind]


def test_zero_noise_is_the_plain_format(tok: Any) -> None:
    plain = nano_chat_format(tok)
    assert with_subword_noise(plain, 0.0, seed=0) is plain
    with pytest.raises(ValueError, match="subword noise"):
        SubwordNoiseFormat(plain, 1.0, seed=0)


def test_cut_user_messages_keep_their_text_pads_and_header(tok: Any) -> None:
    plain = nano_chat_format(tok)
    noisy = SubwordNoiseFormat(plain, 0.5, seed=3)
    changed = 0
    for i, text in enumerate(QUESTION_TEXTS):
        msg = _user(text, chunk=i)
        a, b = plain.encode_message(msg, _grid), noisy.encode_message(msg, _grid)
        assert tok.decode(b.input_ids) == tok.decode(a.input_ids)
        assert b.input_ids[:3] == a.input_ids[:3]  # <|im_start|>user\n
        specials = set(tok.added_tokens_decoder)
        assert [t for t in b.input_ids if t in specials] == [t for t in a.input_ids if t in specials]
        assert b.mm_token_type_ids.count(VIDEO) == a.mm_token_type_ids.count(VIDEO) == 36
        assert b.mm_token_type_ids.count(TEXT) == len(b.input_ids) - 36
        assert b.video_chunks == a.video_chunks == [i]
        assert len(b.input_ids) >= len(a.input_ids)
        changed += b.input_ids != a.input_ids
    assert changed > len(QUESTION_TEXTS) // 2


def test_assistant_messages_and_targets_keep_canonical_tokens(tok: Any) -> None:
    plain = nano_chat_format(tok)
    noisy = SubwordNoiseFormat(plain, 0.9, seed=1)
    reply = {"role": "assistant", "content": "The red circle disappeared."}
    assert noisy.encode_message(reply, _grid).input_ids == plain.encode_message(reply, _grid).input_ids
    sample = {"id": "s", "messages": [
        {"role": "system", "content": "You watch a stream."},
        _user("Tell me every time an object disappears.", 0),
        {"role": "assistant", "content": "Sure, I will tell you each time."},
        _user("", 1),
        reply,
    ]}
    a, b = encode_sample(sample, plain, _grid), encode_sample(sample, noisy, _grid)
    target = int(TokenKind.TARGET)
    assert a.input_ids[a.kinds == target].tolist() == b.input_ids[b.kinds == target].tolist()
    assert len(b.input_ids) > len(a.input_ids)


def test_noise_is_seeded_and_near_its_rate(tok: Any) -> None:
    plain = nano_chat_format(tok)

    def run(seed: int, p: float) -> tuple[list[list[int]], int, int]:
        fmt = SubwordNoiseFormat(plain, p, seed=seed)
        outs, cuttable, cut = [], 0, 0
        for text in QUESTION_TEXTS * 20:
            a = plain.encode_message(_user(text), _grid).input_ids
            b = fmt.encode_message(_user(text), _grid).input_ids
            outs.append(b)
            cuttable += sum(fmt.pieces.cuttable(t) for t in a[3:])
            cut += len(b) - len(a)
        return outs, cuttable, cut

    first, n, extra = run(7, 0.2)
    again, _, _ = run(7, 0.2)
    other, _, _ = run(8, 0.2)
    assert first == again and first != other
    # each cut adds at least one token; recursive cuts add a few more
    assert 0.15 * n <= extra <= 0.45 * n


def test_pieces_are_tokens_of_the_same_text(tok: Any) -> None:
    pieces = SubwordPieces(tok)
    rng = np.random.default_rng(0)
    word = tok.encode(" disappears", add_special_tokens=False)
    assert len(word) == 1
    draws = [tuple(pieces.cut(word[0], rng, 0.99)) for _ in range(50)]
    assert sum(len(c) >= 2 for c in draws) >= 45 and len(set(draws)) > 5
    for c in draws:
        assert tok.decode(list(c)) == " disappears"
    assert not pieces.cuttable(tok.convert_tokens_to_ids("<|silent|>"))
    assert not pieces.cuttable(tok.encode(".", add_special_tokens=False)[0])


def test_kept_world_words_are_never_cut(tok: Any) -> None:
    plain = nano_chat_format(tok)
    keep = world_word_ids(tok)
    words = {" red", " circle", " disappears", " colour", " appears"}
    assert {tok.encode(w, add_special_tokens=False)[0] for w in words} <= keep
    assert tok.encode(" every", add_special_tokens=False)[0] not in keep
    noisy = with_subword_noise(plain, 0.9, seed=2, keep_world_words=True)
    assert isinstance(noisy, SubwordNoiseFormat)
    for text in QUESTION_TEXTS:
        a = plain.encode_message(_user(text), _grid).input_ids
        b = noisy.encode_message(_user(text), _grid).input_ids
        assert [t for t in b if t in keep] == [t for t in a if t in keep]
        framing = [t for t in a[3:] if noisy.pieces.cuttable(t)]
        if len(framing) >= 3:
            assert len(b) > len(a)  # the rest is still cut


def test_event_verbs_are_cut_only_where_their_stems_stay_whole(tok: Any) -> None:
    stems = event_verb_ids(tok)
    words = (" disappears", " changes", " appears", " colour", " red")
    one = {w: tok.encode(w, add_special_tokens=False) for w in words}
    assert all(len(ids) == 1 for ids in one.values())
    assert {one[" disappears"][0], one[" changes"][0], one[" appears"][0]} <= stems
    assert one[" colour"][0] not in stems and one[" red"][0] not in stems  # nouns stay whole
    pieces = SubwordPieces(tok, world_word_ids(tok), stems)  # the stems override the kept words
    rng = np.random.default_rng(0)
    stem = tok.convert_tokens_to_ids("Ġdisappear")
    draws = [pieces.cut(one[" disappears"][0], rng, 0.99) for _ in range(60)]
    assert sum(len(d) >= 2 for d in draws) >= 55
    for d in draws:
        assert tok.decode(d) == " disappears"
        assert tok.decode(d[:1]).startswith(" disappe")  # the cut falls in the last three characters
    # a cut within the last three characters: the stem token the held-out "disappearance" begins with
    assert any(d[0] == stem for d in draws)
    assert tok.encode(" disappearance", add_special_tokens=False)[0] == stem
    # never the cut that reads as another kind (" dis" + "appears")
    assert not any(one[" appears"][0] in d or tok.convert_tokens_to_ids("appears") in d for d in draws)
    assert all(pieces.cut(one[" colour"][0], rng, 0.99) == one[" colour"] for _ in range(20))
    noisy = with_subword_noise(nano_chat_format(tok), 0.9, seed=1, keep_world_words=True, event_stems=True)
    assert isinstance(noisy, SubwordNoiseFormat)
    text = "Tell me every time a red circle disappears."
    encoded = [noisy.encode_message(_user(text), _grid).input_ids for _ in range(20)]
    kept = [tok.encode(w, add_special_tokens=False)[0] for w in (" red", " circle")]
    for ids in encoded:
        assert tok.decode(ids).endswith(text + "<|im_end|>\n") and all(k in ids for k in kept)
    assert sum(stem in ids and one[" disappears"][0] not in ids for ids in encoded) >= 5


def test_train_nano_flag_sets_the_noise() -> None:
    from aura.cli.main import build_parser
    from aura.cli.train_cmd import nano_recipe_config
    from aura.errors import ConfigError

    parser = build_parser()
    default = nano_recipe_config(parser.parse_args(["train", "nano", "--output-dir", "x"]))
    assert default.subword_noise == 0.2 and default.subword_noise_keep_world and default.subword_noise_stems
    cfg = nano_recipe_config(parser.parse_args(["train", "nano", "--subword-noise", "0.1", "--output-dir", "x"]))
    assert cfg.subword_noise == 0.1 and cfg.subword_noise_keep_world
    loose = nano_recipe_config(parser.parse_args(["train", "nano", "--no-subword-noise-keep-world",
                                                  "--no-subword-noise-stems", "--output-dir", "x"]))
    assert not loose.subword_noise_keep_world and not loose.subword_noise_stems
    assert nano_recipe_config(parser.parse_args(["train", "nano", "--subword-noise", "0",
                                                 "--output-dir", "x"])).subword_noise == 0.0
    with pytest.raises(ConfigError, match="subword_noise"):
        nano_recipe_config(parser.parse_args(["train", "nano", "--subword-noise", "1.5", "--output-dir", "x"]))
