"""Labels from rendered samples under the Qwen3-VL chat format."""

from __future__ import annotations

import numpy as np
import pytest
from transformers import AutoTokenizer

from aura.models.hf.chat import ChatFormat
from aura.stream.config import SILENT_TOKEN
from aura.train.labels import SampleError, SampleTooLongError, encode_sample
from aura.train.loss import IGNORE_INDEX, TokenKind

from .conftest import demo_samples


def _grid(part: dict) -> tuple[int, int, int]:
    return (1, 4, 4)


def _spans(mask: np.ndarray) -> list[tuple[int, int]]:
    spans, start = [], None
    for i, m in enumerate([*mask.tolist(), False]):
        if m and start is None:
            start = i
        elif not m and start is not None:
            spans.append((start, i))
            start = None
    return spans


@pytest.fixture(scope="module")
def fmt(qwen3_dir):
    tok = AutoTokenizer.from_pretrained(str(qwen3_dir))
    return ChatFormat.from_tokenizer(tok, "qwen3_vl", 2)


@pytest.fixture(scope="module")
def formats(fmt, tmp_path_factory):
    """The Qwen3-VL format, the Qwen2.5-VL format, and the nano model's tokenizer with the plain format."""
    from aura.models.hf.tiny import build_tiny_tokenizer
    from aura.models.nano.tokenizer import train_tokenizer

    q25 = build_tiny_tokenizer(tmp_path_factory.mktemp("q25"))
    texts = [m["content"] if isinstance(m["content"], str) else "" for s in demo_samples() for m in s["messages"]]
    nano = train_tokenizer(texts, vocab_size=300)
    return {
        "qwen3_vl": (fmt, 4),
        "qwen2_5_vl": (ChatFormat.from_tokenizer(q25, "qwen2_5_vl", 2), 4),
        "nano_plain": (ChatFormat.from_tokenizer(nano, "plain", merge_size=1), 16),
    }


@pytest.mark.parametrize("name", ["qwen3_vl", "qwen2_5_vl", "nano_plain"])
def test_supervised_spans_decode_to_silent_turns_and_target(formats, name: str) -> None:
    fmt, pads_per_chunk = formats[name]
    samples = demo_samples()
    assert len(samples) >= 5
    checked_earlier = 0
    for sample in samples:
        enc = encode_sample(sample, fmt, _grid)
        labels, weights = enc.targets("balanced")
        supervised = labels != IGNORE_INDEX
        spans = _spans(supervised)
        decoded = [fmt.tokenizer.decode(enc.input_ids[a:b].tolist(), skip_special_tokens=False) for a, b in spans]
        silent_msgs = [m for m in sample["messages"] if m["role"] == "assistant" and m["content"] == SILENT_TOKEN]
        expected = [SILENT_TOKEN + "<|im_end|>"] * len(silent_msgs) + [sample["messages"][-1]["content"] + "<|im_end|>"]
        assert decoded == expected
        assert enc.n_silent == len(silent_msgs)
        # silent tokens weigh 1/N_silent, target tokens 1
        if silent_msgs:
            assert np.allclose(weights[enc.kinds == TokenKind.SILENT], 1.0 / len(silent_msgs))
        assert np.all(weights[enc.kinds == TokenKind.TARGET] == 1.0)
        # earlier answers are encoded (and decodable) but unsupervised
        earlier = [m["content"] for m in sample["messages"][:-1]
                   if m["role"] == "assistant" and m["content"] != SILENT_TOKEN]
        e_spans = _spans(enc.kinds == TokenKind.EARLIER)
        assert [fmt.tokenizer.decode(enc.input_ids[a:b].tolist()) for a, b in e_spans] == [
            e + "<|im_end|>" for e in earlier
        ]
        checked_earlier += len(earlier)
        # the plain variant supervises the earlier answers too
        plain_labels, _ = enc.targets("plain")
        assert int((plain_labels != IGNORE_INDEX).sum()) == int(supervised.sum()) + int(
            (enc.kinds == TokenKind.EARLIER).sum()
        )
        # video placeholders: a 4x4 grid per chunk, 2x2-merged (Qwen) or not (nano)
        n_videos = sum(1 for m in sample["messages"] if isinstance(m["content"], list)
                       for p in m["content"] if p["type"] == "video")
        assert int((enc.mm_token_type_ids == 2).sum()) == pads_per_chunk * n_videos
        assert len(enc.video_parts) == n_videos
    assert checked_earlier > 0


def test_silent_turns_marked_hard_are_hard_negatives(fmt) -> None:
    sample = next(s for s in demo_samples()
                  if sum(m["role"] == "assistant" and m["content"] == SILENT_TOKEN for m in s["messages"]) >= 2)
    silent = [i for i, m in enumerate(sample["messages"]) if m["role"] == "assistant" and m["content"] == SILENT_TOKEN]
    marked = {**sample, "messages": [dict(m, hard=True) if i == silent[0] else m
                                     for i, m in enumerate(sample["messages"])]}
    plain, hard = encode_sample(sample, fmt, _grid), encode_sample(marked, fmt, _grid)
    assert hard.n_silent == plain.n_silent == len(silent)
    assert np.array_equal(hard.input_ids, plain.input_ids)
    n_hard = int((hard.kinds == TokenKind.HARD_SILENT).sum())
    assert n_hard == 2  # <|silent|> and its end-of-turn token
    assert int((hard.kinds == TokenKind.SILENT).sum()) + n_hard == int((plain.kinds == TokenKind.SILENT).sum())
    _, weights = hard.targets("balanced", hard_weight=2.5)
    assert np.allclose(weights[hard.kinds == TokenKind.HARD_SILENT], 2.5)
    assert np.allclose(weights[hard.kinds == TokenKind.SILENT], 1.0 / len(silent))


def test_a_hard_negative_may_be_the_target_but_a_plain_silence_may_not(fmt) -> None:
    sample = next(s for s in demo_samples()
                  if sum(m["role"] == "assistant" and m["content"] == SILENT_TOKEN for m in s["messages"]) >= 1)
    i = max(j for j, m in enumerate(sample["messages"]) if m["role"] == "assistant" and m["content"] == SILENT_TOKEN)
    cut = sample["messages"][: i + 1]
    with pytest.raises(SampleError, match="anchored at replies"):
        encode_sample({**sample, "messages": cut}, fmt, _grid)
    anchor = {**sample, "messages": [*cut[:-1], {**cut[-1], "hard": True}]}
    enc = encode_sample(anchor, fmt, _grid)
    n_silent = sum(m["role"] == "assistant" and m["content"] == SILENT_TOKEN for m in cut)
    assert enc.n_silent == n_silent
    assert not (enc.kinds == TokenKind.TARGET).any()
    assert int((enc.kinds == TokenKind.HARD_SILENT).sum()) == 2  # the anchor's <|silent|> and end of turn
    assert list(enc.kinds[enc.kinds != 0][-2:]) == [TokenKind.HARD_SILENT] * 2  # the last supervised span
    _, weights = enc.targets("balanced", hard_weight=1.0)
    assert np.allclose(weights[enc.kinds == TokenKind.HARD_SILENT], 1.0)
    _, weights = enc.targets("balanced")
    assert np.allclose(weights[enc.kinds == TokenKind.HARD_SILENT], 1.0 / n_silent)


def test_bad_samples_give_one_line_errors(fmt) -> None:
    sample = demo_samples()[3]
    with pytest.raises(SampleError, match="no assistant turn"):
        encode_sample({"id": "x", "messages": [{"role": "user", "content": "hi"}]}, fmt, _grid)
    with pytest.raises(SampleError, match="target"):
        encode_sample({"id": "x", "messages": sample["messages"][:-1]}, fmt, _grid)
    with pytest.raises(SampleError, match="no messages"):
        encode_sample({"id": "x"}, fmt, _grid)
    with pytest.raises(SampleTooLongError, match="the target alone is"):
        long = dict(sample, messages=[*sample["messages"][:-1], {"role": "assistant", "content": "word " * 50}])
        encode_sample(long, fmt, _grid, max_length=20)
    n = len(encode_sample(sample, fmt, _grid))
    with pytest.raises(SampleTooLongError, match=f"{n} tokens, over max_length {n - 1}"):
        encode_sample(sample, fmt, _grid, max_length=n - 1)
    assert "\n" not in str(SampleTooLongError("x"))


def test_exact_context_samples_supervise_only_their_own_turns(fmt) -> None:
    from aura.stream import ContextConfig, unroll_exact
    from aura.world import make_stream

    config = ContextConfig(window_chunks=4, float_chunks=2, history_groups=3)
    samples = list(unroll_exact(make_stream(3, duration=90.0, config=config).to_timeline(video="v.mp4"), config))
    checked_reply = checked_silent_end = False
    for sample in samples:
        enc = encode_sample(sample, fmt, _grid)
        assistant = [m for m in sample["messages"] if m["role"] == "assistant"]
        mine = [m for m in assistant if m["supervise"]]
        spans = _spans(enc.kinds != TokenKind.NONE)
        assert len(spans) == len(mine)  # context-only turns (window and history) are not supervised
        assert enc.n_silent == sum(m["content"] == SILENT_TOKEN for m in mine)
        for (a, b), m in zip(spans, mine, strict=True):
            want = TokenKind.SILENT if m["content"] == SILENT_TOKEN else TokenKind.TARGET
            assert set(enc.kinds[a:b].tolist()) == {int(want)}
            checked_reply |= want == TokenKind.TARGET and m is not assistant[-1]
        checked_silent_end |= assistant[-1]["content"] == SILENT_TOKEN
        assert not (enc.kinds == TokenKind.EARLIER).any()
        labels, _ = enc.targets("plain")  # plain cross-entropy leaves context-only turns alone too
        assert int((labels != IGNORE_INDEX).sum()) == sum(b - a for a, b in spans)
    assert checked_reply and checked_silent_end
    # without the mark, a silent last message is still refused
    quiet = next(s for s in samples if s["messages"][-1]["content"] == SILENT_TOKEN)
    plain = {**quiet, "messages": [{k: v for k, v in m.items() if k != "supervise"} for m in quiet["messages"]]}
    with pytest.raises(SampleError, match="anchored at replies"):
        encode_sample(plain, fmt, _grid)
