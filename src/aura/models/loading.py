"""``load_streaming_model(spec)``: every backend by name, the bundled aura-nano included.

``nano`` is the weights shipped with the package; ``nano:DIR`` a nano checkpoint directory;
everything else (``hf:DIR``, ``openai:URL#model``) goes to ``aura.models.registry.load_model``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aura.errors import ConfigError
from aura.models.base import StreamingModel
from aura.stream import ContextConfig


def load_streaming_model(spec: str, config: ContextConfig | None = None, *, temperature: float = 0.0,
                         max_new_tokens: int = 128, **options: Any) -> StreamingModel:
    """The streaming backend ``spec`` names; nothing is downloaded."""
    if spec == "nano" or spec.startswith("nano:"):
        from aura.models.nano import NanoStreamingModel, bundled_checkpoint, load_checkpoint

        path = Path(spec[5:]) if spec.startswith("nano:") else bundled_checkpoint()
        if not path.is_dir():
            if spec == "nano":
                raise ConfigError("the bundled aura-nano weights are missing (train them with `aura train nano`)")
            raise ConfigError(f"{path}: no such checkpoint directory")
        model, tokenizer = load_checkpoint(path)
        return NanoStreamingModel(model, tokenizer, config, temperature=temperature, max_new_tokens=max_new_tokens,
                                  name=f"nano:{path.name}", **options)
    from aura.models.registry import load_model

    return load_model(spec, config, temperature=temperature, max_new_tokens=max_new_tokens, **options)
