"""Saving and loading aura-nano checkpoints: config.json + model.safetensors + tokenizer.json."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from safetensors.torch import load_file, save_file
from tokenizers import Tokenizer
from transformers import PreTrainedTokenizerFast

from aura.errors import AuraError
from aura.models.hf.chat import PAUSE_TOKEN, ROLE_TOKENS
from aura.models.nano.config import NanoConfig
from aura.models.nano.model import NanoVLM
from aura.models.nano.tokenizer import chat_template, layout_specials

BUNDLED = "nano"


class CheckpointError(AuraError):
    """A checkpoint directory is missing, incomplete or not an aura-nano checkpoint."""


def bundled_checkpoint() -> Path:
    """The directory of the aura-nano weights shipped inside the package."""
    return Path(str(resources.files("aura") / "assets" / BUNDLED))


def save_checkpoint(directory: str | os.PathLike[str], model: NanoVLM, tokenizer: PreTrainedTokenizerFast) -> Path:
    """Write config, weights and tokenizer into ``directory`` atomically (a temp dir, then rename)."""
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    try:
        (tmp / "config.json").write_text(json.dumps({"model_type": "aura_nano", **model.cfg.model_dump()}, indent=2))
        state = {k: v.detach().contiguous() for k, v in model.state_dict().items() if k != "head.weight"}
        save_file(state, str(tmp / "model.safetensors"), metadata={"format": "pt"})
        tokenizer.backend_tokenizer.save(str(tmp / "tokenizer.json"))
        if directory.exists():
            shutil.rmtree(directory)
        os.replace(tmp, directory)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return directory


def load_tokenizer(directory: str | os.PathLike[str]) -> PreTrainedTokenizerFast:
    """The tokenizer saved in a checkpoint directory (its chat template that of its specials' layout with
    no pauses; ``load_checkpoint`` sets the model's)."""
    path = Path(directory) / "tokenizer.json"
    if not path.is_file():
        raise CheckpointError(f"{directory}: no tokenizer.json (not an aura-nano checkpoint)")
    backend = Tokenizer.from_file(str(path))
    compact = all(backend.token_to_id(t) is not None for t in ROLE_TOKENS.values())  # made for the compact layout
    pause = backend.token_to_id(PAUSE_TOKEN) is not None
    tok = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=layout_specials(compact=compact, pause=pause)[1:],
    )
    tok.chat_template = chat_template(compact=compact)
    return tok


GENERATION = "generation.json"
CONTEXT_KEYS = ("window_chunks", "float_chunks", "history_groups")


def load_generation(directory: str | os.PathLike[str]) -> dict[str, Any]:
    """Serving defaults saved beside a checkpoint (``generation.json``), or {} if none:
    ``silence_bias`` (float) and ``context`` (a ``ContextConfig``: the windows it was trained with)."""
    from aura.stream import ContextConfig

    path = Path(directory) / GENERATION
    if not path.is_file():
        return {}
    try:
        raw = json.loads(path.read_text())
        out: dict[str, Any] = {}
        if "silence_bias" in raw:
            out["silence_bias"] = float(raw["silence_bias"])
        if "context" in raw:
            out["context"] = ContextConfig(**{k: int(raw["context"][k]) for k in CONTEXT_KEYS if k in raw["context"]})
        return out
    except (ValueError, TypeError, AttributeError) as exc:
        raise CheckpointError(f"{path}: not a generation config ({str(exc).splitlines()[0]})") from None


def save_generation(directory: str | os.PathLike[str], *, silence_bias: float | None = None,
                    context: Any = None) -> Path:
    """Update a checkpoint's serving defaults (atomically; values not given are kept)."""
    from aura.fileio import atomic_write_text

    path = Path(directory) / GENERATION
    raw = json.loads(path.read_text()) if path.is_file() else {}
    if silence_bias is not None:
        raw["silence_bias"] = round(float(silence_bias), 4)
    if context is not None:
        raw["context"] = {k: int(getattr(context, k)) for k in CONTEXT_KEYS}
    atomic_write_text(path, json.dumps(raw, indent=2) + "\n")
    return path


def load_checkpoint(directory: str | os.PathLike[str]) -> tuple[NanoVLM, PreTrainedTokenizerFast]:
    """Model (eval mode, CPU) and tokenizer from a checkpoint directory."""
    directory = Path(directory)
    cfg_path = directory / "config.json"
    if not cfg_path.is_file():
        raise CheckpointError(f"{directory}: no config.json (not a checkpoint directory)")
    try:
        raw = json.loads(cfg_path.read_text())
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{cfg_path}: malformed JSON ({exc.msg})") from None
    if raw.pop("model_type", None) != "aura_nano":
        raise CheckpointError(f"{directory}: not an aura-nano checkpoint (model_type is not aura_nano)")
    try:
        cfg = NanoConfig.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"]) or "config"
        raise CheckpointError(
            f"{cfg_path}: {where}: {first['msg']} (not a checkpoint of this aura-nano version)"
        ) from None
    tok = load_tokenizer(directory)
    tok.chat_template = chat_template(compact=cfg.compact_format, pauses=cfg.decision_pauses)
    model = NanoVLM(cfg, video_pad_id=tok.convert_tokens_to_ids("<|video_pad|>"))
    weights = directory / "model.safetensors"
    if not weights.is_file():
        raise CheckpointError(f"{directory}: no model.safetensors")
    state = load_file(str(weights))
    state["head.weight"] = state["embed.weight"]
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise CheckpointError(f"{directory}: weights do not match the config (missing {missing[:3]}, "
                              f"unexpected {unexpected[:3]})")
    model.eval()
    return model, tok
