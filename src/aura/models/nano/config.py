"""Configuration of aura-nano, the project's own small streaming VLM."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class NanoConfig(BaseModel):
    """Sizes of aura-nano: a frame encoder, a projector and a decoder-only transformer.

    A 1-second chunk (``frames_per_chunk`` frames) becomes ``visual_tokens`` embeddings: the
    frames are resized to ``image_size`` squared, stacked along channels and encoded by a small
    CNN whose final ``grid x grid`` feature map is the token grid.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    vocab_size: int = Field(1024, ge=16)
    image_size: int = Field(64, ge=16)
    frames_per_chunk: int = Field(2, ge=1)
    vision_channels: tuple[int, ...] = (32, 64, 96, 128)
    d_model: int = Field(256, ge=16)
    n_layers: int = Field(4, ge=1)
    n_heads: int = Field(4, ge=1)
    mlp_ratio: int = Field(4, ge=1)
    rope_theta: float = 10000.0
    max_seq_len: int = Field(4096, ge=64)

    @property
    def grid(self) -> int:
        """Side of the visual token grid (each CNN stage halves the image)."""
        return self.image_size // (2 ** len(self.vision_channels))

    @property
    def visual_tokens(self) -> int:
        """Visual tokens per chunk."""
        return self.grid * self.grid
