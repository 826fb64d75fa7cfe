"""A FastAPI app holding only the real-time routes (the page, ``/ws``, ``/metrics``).

The full server (``aura serve``) includes the same router next to the OpenAI-compatible API;
this factory is for tests, the benchmark and ``aura demo`` when only the live side is needed.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fastapi import APIRouter, FastAPI

from aura.audio.stack import SpeechStack
from aura.errors import AuraError
from aura.models.base import StreamingModel
from aura.serve.ws import RealtimeConfig, RealtimeServer, build_router
from aura.stream import ContextConfig


def create_realtime_app(model_factory: Callable[[], StreamingModel], config: RealtimeConfig | None = None,
                        speech: SpeechStack | None = None) -> FastAPI:
    """An app serving the page, the WebSocket sessions and ``/metrics`` for models from ``model_factory``."""
    app = FastAPI(title="aura live", docs_url=None, redoc_url=None)
    server = RealtimeServer(model_factory, config, speech)
    app.state.realtime = server
    app.include_router(build_router(server))
    return app


def bundled_sample_video() -> Path:
    """The sample stream shipped in the package (``assets/sample.mp4``)."""
    from importlib import resources

    return Path(str(resources.files("aura") / "assets" / "sample.mp4"))


class ModelSpecError(AuraError):
    """A ``--model`` value names no usable checkpoint."""


def streaming_model_factory(spec: str, *, temperature: float = 0.0, max_new_tokens: int = 128,
                            context: ContextConfig | None = None) -> Callable[[], StreamingModel]:
    """Load a checkpoint once; return a factory of per-session models sharing its weights.

    ``spec`` is ``nano`` (the checkpoint bundled in the package), ``nano:DIR`` or a plain
    aura-nano checkpoint directory, ``hf:DIR`` or a plain transformers VLM directory (Qwen3-VL /
    Qwen2.5-VL, e.g. the released AURA weights), or ``openai:URL#model`` (a client per session).
    Nothing is downloaded. Raises ``ModelSpecError`` (or the loader's own error).
    """
    import json

    from aura.models.nano.checkpoint import bundled_checkpoint

    scheme, sep, target = spec.partition(":")
    if sep and scheme == "openai":
        from aura.models.registry import load_model

        return lambda: load_model(spec, context, temperature=temperature, max_new_tokens=max_new_tokens)
    if not (sep and scheme in ("hf", "nano")):
        target = spec
    path = bundled_checkpoint() if target == "nano" else Path(target)
    if not (path / "config.json").is_file():
        if target == "nano":
            raise ModelSpecError(f"the bundled nano checkpoint is missing ({path}); pass --model DIR")
        raise ModelSpecError(f"{target}: not a checkpoint directory (no config.json)")
    try:
        model_type = json.loads((path / "config.json").read_text()).get("model_type")
    except (OSError, ValueError, AttributeError) as exc:
        raise ModelSpecError(f"{path / 'config.json'}: unreadable ({exc})") from None
    if model_type == "aura_nano":
        from aura.models.nano.checkpoint import load_checkpoint
        from aura.models.nano.streaming import NanoStreamingModel

        net, tokenizer = load_checkpoint(path)
        name = "nano" if target == "nano" else f"nano:{path}"
        return lambda: NanoStreamingModel(net, tokenizer, context, temperature=temperature,
                                          max_new_tokens=max_new_tokens, name=name)
    from aura.models.hf.backend import HFStreamingModel
    from aura.models.hf.loader import load_checkpoint as load_hf

    loaded = load_hf(path)
    return lambda: HFStreamingModel(loaded, context, temperature=temperature, max_new_tokens=max_new_tokens)


def live_router(spec: str, *, token: str | None = None, speech: bool = True, temperature: float = 0.0,
                max_new_tokens: int = 128, max_sessions: int = 2) -> APIRouter:
    """The page, ``/ws`` and ``/metrics`` for models named by ``spec``: what ``aura serve`` adds to its app."""
    from aura.audio.stack import SpeechConfig, load_speech

    factory = streaming_model_factory(spec, temperature=temperature, max_new_tokens=max_new_tokens)
    stack = load_speech(SpeechConfig()) if speech else SpeechStack(notes=["speech off: --no-speech"])
    sample = bundled_sample_video()
    config = RealtimeConfig(token=token, max_sessions=max_sessions, sample_video=sample if sample.is_file() else None)
    return build_router(RealtimeServer(factory, config, stack))
