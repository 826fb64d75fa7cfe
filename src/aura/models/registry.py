"""``load_model(spec)``: one string names a streaming backend.

Specs: ``hf:/path/to/checkpoint`` (a local transformers Qwen3-VL / Qwen2.5-VL directory) and
``openai:http://host:port/v1#model`` (an OpenAI-compatible server; ``#model`` optional).
``load_chat_backend(spec)`` gives what ``aura serve`` exposes over HTTP (local backends only).
"""

from __future__ import annotations

from typing import Any

from aura.errors import ConfigError
from aura.models.base import StreamingModel
from aura.stream import ContextConfig

SCHEMES = ("hf", "openai")


def _split(spec: str) -> tuple[str, str]:
    scheme, sep, rest = spec.partition(":")
    if not sep or not rest:
        raise ConfigError(f"model spec {spec!r} must look like SCHEME:TARGET (schemes: {', '.join(SCHEMES)})")
    return scheme, rest


def load_model(spec: str, config: ContextConfig | None = None, *, temperature: float = 0.0,
               max_new_tokens: int = 128, **options: Any) -> StreamingModel:
    """Build the streaming backend ``spec`` names (nothing is downloaded)."""
    scheme, target = _split(spec)
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


def load_chat_backend(spec: str, **options: Any) -> Any:
    """The chat-completions backend ``aura serve`` exposes for a local ``spec``."""
    scheme, target = _split(spec)
    if scheme == "hf":
        from aura.models.hf.chat_backend import HFChatBackend

        return HFChatBackend.from_pretrained(target, **options)
    raise ConfigError(f"aura serve cannot expose {scheme!r} models (local schemes: hf)")
