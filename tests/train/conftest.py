"""Shared fixtures: a tiny random Qwen3-VL checkpoint and samples unrolled from the demo timeline."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

from aura.fileio import read_json, write_jsonl_atomic
from aura.stream import ContextConfig, Timeline, unroll

SMALL_CONTEXT = ContextConfig(window_chunks=4, float_chunks=2, history_groups=3)


def demo_samples(config: ContextConfig = SMALL_CONTEXT) -> list[dict]:
    """Every sample the bundled demo timeline unrolls into (as plain JSON dicts)."""
    data = read_json(Path(str(resources.files("aura") / "assets" / "demo_timeline.json")))
    timeline = Timeline.model_validate(data)
    return [s.model_dump(mode="json") for s in unroll(timeline, config)]


@pytest.fixture(scope="session")
def qwen3_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from aura.models.hf.tiny import build_tiny_checkpoint

    return build_tiny_checkpoint(tmp_path_factory.mktemp("tiny") / "qwen3", "qwen3_vl", hidden_size=32,
                                 vision_hidden=32, vision_depth=1, num_layers=2)


@pytest.fixture(scope="session")
def samples_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / "samples.jsonl"
    write_jsonl_atomic(path, demo_samples())
    return path


REPO = Path(__file__).resolve().parents[2]
TINY_CONFIG = REPO / "configs" / "tiny_cpu.yaml"


def tiny_overrides(out: Path, model: Path, samples: Path, *extra: str) -> list[str]:
    """Overrides that point configs/tiny_cpu.yaml at test paths (no progress bar)."""
    return [f"model.path={model}", f"data.train={samples}", f"train.output_dir={out}", "train.progress=false", *extra]


def tiny_config(out: Path, model: Path, samples: Path, *extra: str):
    """configs/tiny_cpu.yaml pointed at test paths, with extra ``section.key=value`` overrides."""
    from aura.train.config import load_config

    return load_config(TINY_CONFIG, tiny_overrides(out, model, samples, *extra))


@pytest.fixture(scope="session")
def nano_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random aura-nano checkpoint (its own tokenizer trained on the demo samples' text)."""
    import torch

    from aura.models.nano import NanoConfig, NanoVLM, save_checkpoint
    from aura.models.nano.tokenizer import train_tokenizer

    texts = [m["content"] if isinstance(m["content"], str) else " ".join(p.get("text", "") for p in m["content"])
             for s in demo_samples() for m in s["messages"]]
    tok = train_tokenizer(texts, vocab_size=300)
    cfg = NanoConfig(vocab_size=len(tok), image_size=32, vision_channels=(8, 16, 16), d_model=32, n_layers=2, n_heads=2)
    torch.manual_seed(0)
    model = NanoVLM(cfg, video_pad_id=tok.convert_tokens_to_ids("<|video_pad|>"))
    return save_checkpoint(tmp_path_factory.mktemp("nano") / "ckpt", model, tok)
