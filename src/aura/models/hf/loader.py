"""Load a local transformers Qwen-VL checkpoint directory (never downloads)."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aura.errors import AuraError
from aura.models.hf.chat import Style
from aura.models.hf.preprocess import PatchSpec
from aura.stream.config import SILENT_TOKEN

log = logging.getLogger(__name__)

SUPPORTED: dict[str, Style] = {"qwen3_vl": "qwen3_vl", "qwen2_5_vl": "qwen2_5_vl"}
"""config.json ``model_type`` -> chat style."""


class CheckpointError(AuraError):
    """A checkpoint directory is missing, unreadable, or not a supported architecture."""


@dataclass
class LoadedCheckpoint:
    """A model in eval mode, its tokenizer (with ``<|silent|>``), chat style and patch geometry."""

    model: Any
    tokenizer: Any
    style: Style
    spec: PatchSpec
    path: Path
    added_silent_token: bool


def read_model_type(path: str | Path) -> str:
    """The ``model_type`` of a checkpoint directory; a clear error if it is not a supported one."""
    root = Path(path)
    if not root.exists():
        raise CheckpointError(f"checkpoint directory {root} does not exist")
    if not root.is_dir():
        raise CheckpointError(f"checkpoint path {root} is not a directory")
    cfg_file = root / "config.json"
    if not cfg_file.is_file():
        raise CheckpointError(f"{root} has no config.json: not a transformers checkpoint directory")
    try:
        cfg = json.loads(cfg_file.read_text())
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"{cfg_file}: cannot read ({exc})") from None
    model_type = cfg.get("model_type") if isinstance(cfg, dict) else None
    if model_type not in SUPPORTED:
        raise CheckpointError(
            f"{root}: unsupported architecture {model_type!r} (supported: {', '.join(sorted(SUPPORTED))})"
        )
    return str(model_type)


def load_checkpoint(path: str | Path, *, dtype: str = "float32", max_pixels: int | None = None,
                    device: str = "cpu") -> LoadedCheckpoint:
    """Load model + tokenizer from a local directory with ``from_pretrained`` (offline), onto ``device``.

    If the tokenizer lacks ``<|silent|>`` it is added as a special token and the embeddings are
    resized when the vocabulary outgrows them.
    """
    import torch
    from tokenizers import AddedToken
    from transformers import AutoModelForImageTextToText, AutoTokenizer

    root = Path(path)
    model_type = read_model_type(root)
    torch_dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}.get(dtype)
    if torch_dtype is None:
        raise CheckpointError(f"unsupported dtype {dtype!r} (float32, bfloat16 or float16)")
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(root), local_files_only=True)
        model = AutoModelForImageTextToText.from_pretrained(str(root), local_files_only=True, dtype=torch_dtype)
    except (OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{root}: cannot load the checkpoint ({first})") from None
    added = False
    if SILENT_TOKEN not in tokenizer.get_vocab():
        tokenizer.add_tokens([AddedToken(SILENT_TOKEN, special=True, normalized=False)], special_tokens=True)
        added = True
        log.info("added %s to the tokenizer of %s", SILENT_TOKEN, root)
    emb = model.get_input_embeddings().weight.shape[0]
    if len(tokenizer) > emb:
        model.resize_token_embeddings(len(tokenizer))
    try:
        model.to(device)
    except (RuntimeError, AssertionError) as exc:
        raise CheckpointError(f"cannot place the model on device {device!r} ({str(exc).splitlines()[0]})") from None
    model.eval()
    spec = PatchSpec.from_checkpoint(root, max_pixels=max_pixels)
    vision = model.config.vision_config
    if spec.patch_size != vision.patch_size or spec.merge_size != vision.spatial_merge_size:
        spec = PatchSpec(
            **{**spec.__dict__, "patch_size": vision.patch_size, "merge_size": vision.spatial_merge_size,
               "temporal_patch_size": vision.temporal_patch_size}
        )
    return LoadedCheckpoint(model, tokenizer, SUPPORTED[model_type], spec, root, added)
