"""aura-nano: the project's own small streaming VLM (frame CNN -> projector -> decoder-only transformer)."""

from aura.models.nano.checkpoint import bundled_checkpoint, load_checkpoint, save_checkpoint
from aura.models.nano.config import NanoConfig
from aura.models.nano.model import NanoVLM
from aura.models.nano.streaming import NanoStreamingModel

__all__ = ["NanoConfig", "NanoStreamingModel", "NanoVLM", "bundled_checkpoint", "load_checkpoint", "save_checkpoint"]
