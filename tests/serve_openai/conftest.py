"""Fixtures: a tiny Qwen3-VL checkpoint and its chat backend, built once per module session."""

from __future__ import annotations

import pytest
import torch

from aura.models.hf.tiny import build_tiny_checkpoint

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tiny_ckpt(tmp_path_factory):
    return build_tiny_checkpoint(tmp_path_factory.mktemp("serve") / "tiny-qwen3-vl", "qwen3_vl")


@pytest.fixture(scope="session")
def chat_backend(tiny_ckpt):
    from aura.models.hf.chat_backend import HFChatBackend

    return HFChatBackend.from_pretrained(tiny_ckpt)
