"""``load_model(spec)``: one string names a streaming backend.

Specs: ``nano`` (the aura-nano weights shipped with the package), ``nano:DIR`` (an aura-nano
checkpoint directory), ``hf:/path/to/checkpoint`` (a local transformers Qwen3-VL / Qwen2.5-VL
directory) and ``openai:http://host:port/v1#model`` (an OpenAI-compatible server; ``#model``
optional).
``load_chat_backend(spec)`` gives what ``aura serve`` exposes over HTTP (local backends only).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aura.errors import ConfigError
from aura.models.base import StreamingModel
from aura.stream import ContextConfig

SCHEMES = ("nano", "hf", "openai")


def _split(spec: str) -> tuple[str, str]:
    if spec == "nano":
        return "nano", ""
    scheme, sep, rest = spec.partition(":")
    if not sep or not rest:
        raise ConfigError(f"model spec {spec!r} must look like SCHEME:TARGET (schemes: {', '.join(SCHEMES)})")
    return scheme, rest


def load_model(spec: str, config: ContextConfig | None = None, *, temperature: float = 0.0,
               max_new_tokens: int = 128, **options: Any) -> StreamingModel:
    """Build the streaming backend ``spec`` names (nothing is downloaded)."""
    scheme, target = _split(spec)
    if scheme == "nano":
        return _load_nano(target, config, temperature=temperature, max_new_tokens=max_new_tokens, **options)
    if scheme == "hf":
        from aura.models.hf.backend import HFStreamingModel

        return HFStreamingModel.from_pretrained(target, config, temperature=temperature,
                                                max_new_tokens=max_new_tokens, **options)
    if scheme == "openai":
        from aura.models.openai_backend import OpenAIStreamingModel, parse_spec

        url, model = parse_spec(target)
        return OpenAIStreamingModel(url, model, config, temperature=temperature, max_new_tokens=max_new_tokens,
                                    **options)
    raise ConfigError(f"unknown model scheme {scheme!r} in {spec!r} (schemes: {', '.join(SCHEMES)})")


def set_torch_threads(spec: str, threads: int = 0) -> int:
    """Give torch ``threads`` CPU threads for serving ``spec`` and return the count it now uses.
    0 chooses: one for aura-nano (a model this small spends more on intra-op thread hand-offs than
    it gains: several times slower per chunk on a 2-core CPU, docs/benchmarks.md), torch's default
    for the other schemes."""
    if threads < 0:
        raise ConfigError(f"--threads must be 0 (choose) or a positive count, not {threads}")
    import torch

    if threads == 0 and (spec.partition(":")[0] == "nano" or _is_nano_dir(spec)):  # never raises: the loader
        threads = 1                                                                   # judges the spec
    if threads:
        torch.set_num_threads(threads)
    return torch.get_num_threads()


def _is_nano_dir(spec: str) -> bool:
    """Whether ``spec`` is a plain directory holding an aura-nano checkpoint (what ``aura demo`` and
    ``aura serve`` accept without a scheme); False for anything unreadable."""
    from aura.train.model import NANO_MODEL_TYPE, checkpoint_model_type

    try:
        return checkpoint_model_type(spec) == NANO_MODEL_TYPE
    except (ConfigError, OSError, AttributeError):
        return False


def nano_checkpoint_dir(spec: str) -> Path | None:
    """The checkpoint directory a ``nano`` / ``nano:DIR`` spec names (None for other schemes)."""
    scheme, target = _split(spec)
    if scheme != "nano":
        return None
    from aura.models.nano import bundled_checkpoint

    return Path(target) if target else bundled_checkpoint()


def _load_nano(target: str, config: ContextConfig | None, **options: Any) -> StreamingModel:
    from aura.models.nano import NanoStreamingModel, load_checkpoint
    from aura.models.nano.checkpoint import load_generation

    path = nano_checkpoint_dir(f"nano:{target}" if target else "nano")
    assert path is not None
    if not target and not (path / "config.json").is_file():
        raise ConfigError(f"the bundled aura-nano checkpoint is missing ({path}); "
                          "train one with `aura train nano --install` or pass --model nano:DIR")
    if not path.is_dir():
        raise ConfigError(f"{path}: no such checkpoint directory")
    model, tokenizer = load_checkpoint(path)
    defaults = load_generation(path)
    trained_with = defaults.pop("context", None)
    config = config or trained_with
    options = {**defaults, **{k: v for k, v in options.items() if v is not None}}
    return NanoStreamingModel(model, tokenizer, config, name=f"nano:{target}" if target else "nano", **options)


def load_chat_backend(spec: str, **options: Any) -> Any:
    """The chat-completions backend ``aura serve`` exposes for a local ``spec``."""
    scheme, target = _split(spec)
    if scheme == "hf":
        from aura.models.hf.chat_backend import HFChatBackend

        return HFChatBackend.from_pretrained(target, **options)
    raise ConfigError(f"aura serve cannot expose {scheme!r} models (local schemes: hf)")
