"""Loading a checkpoint for training: model, tokenizer, chat format, patching; freezing; LoRA.

Two families: transformers VLMs (Qwen3-VL, Qwen2.5-VL; ``from_pretrained(dir)``) and aura-nano
(``aura.models.nano``). ``Loaded`` hides their differences behind ``forward`` and ``save``.
Only local checkpoint directories are loaded; nothing is downloaded.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from aura.errors import ConfigError
from aura.stream.config import SILENT_TOKEN
from aura.train.config import ModelConfig

log = logging.getLogger(__name__)

STYLE_BY_MODEL_TYPE = {"qwen3_vl": "qwen3_vl", "qwen2_5_vl": "qwen2_5_vl"}
NANO_MODEL_TYPE = "aura_nano"


@dataclass
class Loaded:
    """What training needs from a checkpoint."""

    model: torch.nn.Module
    tokenizer: Any
    chat_format: Any
    preprocess: Callable[[np.ndarray], tuple[np.ndarray, tuple[int, int, int]]]
    pad_id: int
    model_type: str
    forward: Callable[[torch.nn.Module, Any, torch.Tensor | None], torch.Tensor] | None = None
    """(model, batch, logits_to_keep) -> logits; default: a transformers VLM forward."""
    save: Callable[[torch.nn.Module, dict[str, torch.Tensor], Any, Path, Path], None] | None = None
    """(unwrapped model, state dict, tokenizer, source checkpoint dir, target dir); default: save_pretrained."""

    def logits(self, model: torch.nn.Module, batch: Any, logits_to_keep: torch.Tensor | None) -> torch.Tensor:
        """Logits of ``batch`` (B, T, V), or (B, K, V) at ``logits_to_keep`` positions."""
        if self.forward is not None:
            return self.forward(model, batch, logits_to_keep)
        extra = {} if logits_to_keep is None else {"logits_to_keep": logits_to_keep}
        return model(**batch.model_inputs(), use_cache=False, **extra).logits

    def save_model(self, model: torch.nn.Module, state_dict: dict[str, torch.Tensor], source: Path,
                   target: Path) -> None:
        """Write a loadable checkpoint of ``model`` (weights, config, tokenizer, preprocessing) to ``target``."""
        if self.save is not None:
            self.save(model, state_dict, self.tokenizer, source, target)
            return
        import shutil

        model.save_pretrained(str(target), state_dict=state_dict, safe_serialization=True)  # type: ignore[operator]
        self.tokenizer.save_pretrained(str(target))
        for name in ("preprocessor_config.json", "video_preprocessor_config.json"):
            if (source / name).is_file():
                shutil.copy2(source / name, target / name)


def checkpoint_model_type(path: str | Path) -> str:
    """The ``model_type`` in a checkpoint's ``config.json``; ``ConfigError`` if there is none."""
    cfg = Path(path) / "config.json"
    if not cfg.is_file():
        raise ConfigError(f"model.path {path}: not a checkpoint directory (no config.json); nothing is downloaded")
    try:
        return str(json.loads(cfg.read_text()).get("model_type", ""))
    except ValueError as exc:
        raise ConfigError(f"{cfg}: malformed JSON ({exc})") from None


def load_for_training(cfg: ModelConfig, fps: float = 2.0) -> Loaded:
    """Load model + tokenizer from ``cfg.path``, build the chat format and the frame patching."""
    from transformers import AutoModelForImageTextToText, AutoTokenizer

    from aura.models.hf.chat import ChatFormat
    from aura.models.hf.preprocess import PatchSpec, preprocess_frames

    model_type = checkpoint_model_type(cfg.path)
    if model_type == NANO_MODEL_TYPE:
        return load_nano_for_training(cfg)
    style = cfg.chat_style if cfg.chat_style != "auto" else STYLE_BY_MODEL_TYPE.get(model_type)
    if style is None:
        raise ConfigError(
            f"model.path {cfg.path}: model type {model_type!r} has no known chat style; set model.chat_style"
        )
    tokenizer = AutoTokenizer.from_pretrained(cfg.path)
    added = ensure_silent_token(tokenizer, cfg)
    spec = PatchSpec.from_checkpoint(cfg.path, max_pixels=cfg.max_pixels)
    chat_format = ChatFormat.from_tokenizer(
        tokenizer, style, spec.merge_size, temporal_patch_size=spec.temporal_patch_size, fps=fps
    )
    model = AutoModelForImageTextToText.from_pretrained(cfg.path)
    if added:
        model.resize_token_embeddings(len(tokenizer))
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else chat_format.end_of_turn_id

    def preprocess(frames: np.ndarray) -> tuple[np.ndarray, tuple[int, int, int]]:
        return preprocess_frames(frames, spec)

    return Loaded(model, tokenizer, chat_format, preprocess, int(pad_id), model_type)


def load_nano_for_training(cfg: ModelConfig) -> Loaded:
    """An aura-nano checkpoint for training: the plain chat format, nano's frame resizing, its own save."""
    from aura.models.nano.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
    from aura.models.nano.pixels import encoder_pixels
    from aura.models.nano.training import nano_chat_format

    try:
        model, tokenizer = load_checkpoint(cfg.path)
    except CheckpointError as exc:
        raise ConfigError(str(exc)) from None
    ncfg = model.cfg
    chat_format = nano_chat_format(tokenizer, ncfg)
    grid = ncfg.token_grid

    def preprocess(frames: np.ndarray) -> tuple[np.ndarray, tuple[int, int, int]]:
        return encoder_pixels(frames, ncfg).numpy()[None], grid

    def forward(m: torch.nn.Module, batch: Any, keep: torch.Tensor | None) -> torch.Tensor:
        logits, _ = m(batch.input_ids, pixels=batch.pixel_values_videos, attention_mask=batch.attention_mask,
                      logits_to_keep=keep)
        return logits

    def save(m: torch.nn.Module, state: dict[str, torch.Tensor], tok: Any, source: Path, target: Path) -> None:
        save_checkpoint(target, m, tok)  # type: ignore[arg-type]

    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else chat_format.end_of_turn_id
    return Loaded(model, tokenizer, chat_format, preprocess, int(pad_id), NANO_MODEL_TYPE, forward, save)


def ensure_silent_token(tokenizer: Any, cfg: ModelConfig) -> bool:
    """Make sure ``<|silent|>`` is one special token; add it if allowed. Returns True if it was added.

    A base checkpoint (e.g. Qwen3-VL-8B-Instruct) lacks it; with ``model.add_silent_token`` it is
    added and the embeddings grow by one row (the caller resizes the model).
    """
    from tokenizers import AddedToken

    if tokenizer.encode(SILENT_TOKEN, add_special_tokens=False) == [tokenizer.convert_tokens_to_ids(SILENT_TOKEN)]:
        return False
    if not cfg.add_silent_token:
        raise ConfigError(
            f"model.path {cfg.path}: the tokenizer has no {SILENT_TOKEN} token; set model.add_silent_token"
        )
    tokenizer.add_tokens([AddedToken(SILENT_TOKEN, special=True, normalized=False)], special_tokens=True)
    log.info("added %s to the tokenizer as id %d", SILENT_TOKEN, tokenizer.convert_tokens_to_ids(SILENT_TOKEN))
    return True


def part_of(name: str, cfg: ModelConfig) -> str:
    """``"projector"``, ``"vision"`` or ``"llm"``: which part a parameter name belongs to.

    A projector marker anywhere in the name wins (Qwen's ``visual.merger``, nano's ``projector``);
    then a vision prefix (``visual.``, nano's ``vision.``); everything else is the language model.
    """
    parts = name.split(".")
    if any(m in p for p in parts for m in cfg.projector_markers):
        return "projector"
    if any(p in name for p in cfg.vision_prefixes):
        return "vision"
    return "llm"


def apply_freezing(model: torch.nn.Module, cfg: ModelConfig) -> dict[str, int]:
    """Freeze the vision encoder / projector as configured; return trainable parameter counts per part."""
    counts = {"vision": 0, "projector": 0, "llm": 0}
    for name, p in model.named_parameters():
        part = part_of(name, cfg)
        if (part == "vision" and cfg.freeze_vision) or (part == "projector" and cfg.freeze_projector):
            p.requires_grad_(False)
        if p.requires_grad:
            counts[part] += p.numel()
    return counts


def apply_lora(model: torch.nn.Module, cfg: ModelConfig) -> torch.nn.Module:
    """Wrap ``model`` with peft LoRA adapters on the configured linear layers (LLM only by default)."""
    from peft import LoraConfig, get_peft_model

    assert cfg.lora is not None
    names = "|".join(cfg.lora.target_modules)
    target: str | list[str] = (
        rf".*language_model.*\.({names})$" if cfg.lora.language_model_only else list(cfg.lora.target_modules)
    )
    lora = LoraConfig(r=cfg.lora.r, lora_alpha=cfg.lora.alpha, lora_dropout=cfg.lora.dropout, target_modules=target)
    return get_peft_model(model, lora)
