"""The tiny checkpoint loads through the production from_pretrained path, with consistent ids."""

from __future__ import annotations

import json

import pytest
from transformers import AutoConfig, AutoModelForImageTextToText, AutoTokenizer

from aura.models.hf.tiny import QWEN_SPECIAL_TOKENS, build_tiny_checkpoint


@pytest.mark.parametrize("arch", ["qwen3_vl", "qwen2_5_vl"])
def test_tiny_checkpoint_reloads_with_consistent_ids(tiny_dirs, arch):
    path = tiny_dirs[arch]
    tok = AutoTokenizer.from_pretrained(str(path))
    cfg = AutoConfig.from_pretrained(str(path))
    assert cfg.model_type == arch
    for t in [*QWEN_SPECIAL_TOKENS, "<|silent|>"]:
        assert tok.encode(t, add_special_tokens=False) == [tok.convert_tokens_to_ids(t)]
    assert cfg.image_token_id == tok.convert_tokens_to_ids("<|image_pad|>")
    assert cfg.video_token_id == tok.convert_tokens_to_ids("<|video_pad|>")
    assert cfg.vision_start_token_id == tok.convert_tokens_to_ids("<|vision_start|>")
    assert cfg.text_config.vocab_size >= len(tok)
    assert cfg.text_config.bos_token_id is None
    model = AutoModelForImageTextToText.from_pretrained(str(path))
    assert type(model).__name__.lower().replace("_", "") == arch.replace("_", "") + "forconditionalgeneration"
    pre = json.loads((path / "preprocessor_config.json").read_text())
    assert pre["merge_size"] == cfg.vision_config.spatial_merge_size
    assert pre["patch_size"] == cfg.vision_config.patch_size


def test_tiny_without_silent_token(tmp_path):
    path = build_tiny_checkpoint(tmp_path / "nosilent", "qwen2_5_vl", add_silent_token=False)
    tok = AutoTokenizer.from_pretrained(str(path))
    assert "<|silent|>" not in tok.get_vocab()
    assert len(tok.encode("<|silent|>", add_special_tokens=False)) > 1


def test_tiny_is_deterministic(tmp_path):
    import torch
    from safetensors.torch import load_file

    a = build_tiny_checkpoint(tmp_path / "a", "qwen3_vl", seed=3)
    b = build_tiny_checkpoint(tmp_path / "b", "qwen3_vl", seed=3)
    wa, wb = load_file(a / "model.safetensors"), load_file(b / "model.safetensors")
    assert wa.keys() == wb.keys()
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
