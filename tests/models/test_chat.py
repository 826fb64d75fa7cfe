"""Per-message ChatML encoding: concatenation equals the chat template; supervised spans are exact."""

from __future__ import annotations

import pytest

from aura.models.hf.chat import ChatFormat, ChatFormatError, concat
from aura.stream import AssistantResponse, Silence, StreamContext, UserQuestion, VideoChunk
from aura.stream.config import ContextConfig

GRID = (1, 4, 4)  # one temporal patch of 4x4 patches -> 4 merged tokens


def grid(_part):
    return GRID


def text_conversation():
    return [
        {"role": "system", "content": "You are receiving a live video stream."},
        {"role": "user", "content": "What colour is the square?"},
        {"role": "assistant", "content": "It is green."},
        {"role": "user", "content": ""},
        {"role": "assistant", "content": "<|silent|>"},
        {"role": "user", "content": " Tell me when the dog appears.\n"},
        {"role": "assistant", "content": "\nOK, I will let you know when it happens."},
    ]


def test_text_concatenation_equals_chat_template(tiny_tokenizer):
    fmt = ChatFormat.from_tokenizer(tiny_tokenizer, "qwen3_vl")
    msgs = text_conversation()
    ids, types = concat(fmt.encode_messages(msgs, grid))
    ref = tiny_tokenizer.apply_chat_template(msgs, tokenize=True, return_dict=False)
    assert ids == list(ref)
    assert set(types) == {0}
    ref_gen = tiny_tokenizer.apply_chat_template(msgs[:2], tokenize=True, add_generation_prompt=True, return_dict=False)
    first_two, _ = concat(fmt.encode_messages(msgs[:2], grid))
    assert first_two + fmt.generation_prompt() == list(ref_gen)


def test_supervised_spans_decode_to_content_and_end_of_turn(tiny_tokenizer):
    fmt = ChatFormat.from_tokenizer(tiny_tokenizer, "qwen2_5_vl")
    for msg in text_conversation():
        enc = fmt.encode_message(msg, grid)
        if msg["role"] != "assistant":
            assert enc.supervised is None
            continue
        a, b = enc.supervised
        piece = enc.input_ids[a:b]
        assert piece[-1] == fmt.end_of_turn_id
        text = tiny_tokenizer.decode(piece, skip_special_tokens=False)
        content = msg["content"]
        if content.startswith("\n"):  # the header's newline absorbed it: the span starts after that token
            assert content.endswith(text.removesuffix("<|im_end|>")) and text.endswith("<|im_end|>")
        else:
            assert text == content + "<|im_end|>"
    silent = fmt.encode_message({"role": "assistant", "content": "<|silent|>"}, grid)
    a, b = silent.supervised
    assert silent.input_ids[a:b] == [fmt.silent_token_id, fmt.end_of_turn_id]


def _stream_messages():
    ctx = StreamContext(ContextConfig(window_chunks=3, float_chunks=2))
    for k in range(3):
        ctx.feed(VideoChunk(k, float(k), float(k + 1)))
        if k == 1:
            ctx.feed(UserQuestion("What is on the table?", k + 0.5))
            ctx.feed(AssistantResponse("A blue cup.", k + 0.9))
        else:
            ctx.feed(Silence(k + 0.9))
    ctx.feed(VideoChunk(3, 3.0, 4.0))
    return ctx.render().messages


@pytest.mark.parametrize("style", ["qwen3_vl", "qwen2_5_vl", "plain"])
def test_video_placeholders(tiny_tokenizer, style):
    fmt = ChatFormat.from_tokenizer(tiny_tokenizer, style)
    msgs = _stream_messages()
    enc = fmt.encode_messages(msgs, lambda part: (2, 4, 8))  # two temporal patches of 4x8
    ids, types = concat(enc)
    video_msgs = [e for e in enc if e.video_chunks]
    assert [c for e in video_msgs for c in e.video_chunks] == [0, 1, 2, 3]
    per_chunk = 2 * 4 * 8 // 4
    assert types.count(2) == 4 * per_chunk
    assert all((t == 2) == (i == fmt.video_pad_id) for i, t in zip(ids, types, strict=True))
    vs = tiny_tokenizer.convert_tokens_to_ids("<|vision_start|>")
    n_blocks = ids.count(vs)
    assert n_blocks == (8 if style == "qwen3_vl" else 4)
    text = tiny_tokenizer.decode(video_msgs[0].input_ids)
    if style == "qwen3_vl":
        assert "<0.2 seconds><|vision_start|>" in text and "<1.2 seconds><|vision_start|>" in text
    else:
        assert "seconds" not in text
    assert text.startswith("<|im_start|>user\n")
    # concatenation of per-message encodings == encoding the whole list
    assert ids == concat([fmt.encode_message(m, lambda p: (2, 4, 8)) for m in msgs])[0]


def test_reserved_token_text_is_rejected(tiny_tokenizer):
    fmt = ChatFormat.from_tokenizer(tiny_tokenizer, "plain")
    with pytest.raises(ChatFormatError, match="reserved"):
        fmt.encode_message({"role": "user", "content": "hi <|video_pad|>"}, grid)
    with pytest.raises(ChatFormatError, match="role"):
        fmt.encode_message({"role": "tool", "content": "x"}, grid)


def test_missing_silent_token_is_a_clear_error(tmp_path):
    from transformers import AutoTokenizer

    from aura.models.hf.tiny import build_tiny_tokenizer

    build_tiny_tokenizer(tmp_path, add_silent_token=False)
    tok = AutoTokenizer.from_pretrained(str(tmp_path))
    with pytest.raises(ChatFormatError, match="silent"):
        ChatFormat.from_tokenizer(tok, "qwen3_vl")


def test_text_first_puts_a_user_question_before_its_chunk_and_changes_nothing_else(tiny_tokenizer):
    """``text_first`` renders a user turn's text before its video, whatever the parts' order;
    assistant turns and text-only turns encode exactly as without it."""
    plain = ChatFormat.from_tokenizer(tiny_tokenizer, "plain", merge_size=1)
    first = ChatFormat.from_tokenizer(tiny_tokenizer, "plain", merge_size=1, text_first=True)
    video = {"type": "video", "chunk": 0, "start": 0.0, "end": 1.0}
    user = {"role": "user", "content": [video, {"type": "text", "text": "Is there a red circle?"}]}
    grid1 = lambda p: (1, 1, 3)  # noqa: E731
    a = tiny_tokenizer.decode(plain.encode_message(user, grid1).input_ids)
    b = tiny_tokenizer.decode(first.encode_message(user, grid1).input_ids)
    assert a.index("<|vision_start|>") < a.index("circle") and b.index("circle") < b.index("<|vision_start|>")
    assert sorted(first.encode_message(user, grid1).input_ids) == sorted(plain.encode_message(user, grid1).input_ids)
    enc = first.encode_message(user, grid1)
    assert enc.video_chunks == [0] and enc.input_ids.count(first.video_pad_id) == 3
    for m in ({"role": "assistant", "content": "The circle is red."}, {"role": "user", "content": "hi"},
              {"role": "user", "content": [video]}):
        assert first.encode_message(m, grid1).input_ids == plain.encode_message(m, grid1).input_ids
