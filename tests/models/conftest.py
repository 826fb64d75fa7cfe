"""Shared fixtures: tiny random Qwen-VL checkpoints built once per test session."""

from __future__ import annotations

import pytest
import torch

from aura.models.hf.tiny import build_tiny_checkpoint

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tiny_dirs(tmp_path_factory):
    """{arch: checkpoint dir} for both tiny architectures."""
    root = tmp_path_factory.mktemp("tiny")
    return {arch: build_tiny_checkpoint(root / arch, arch) for arch in ("qwen3_vl", "qwen2_5_vl")}


@pytest.fixture(scope="session")
def tiny_tokenizer(tiny_dirs):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(tiny_dirs["qwen3_vl"]))
