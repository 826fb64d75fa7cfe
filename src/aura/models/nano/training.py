"""aura-nano under the shared trainer: the forward/save surface ``aura.train.Trainer`` expects.

The trainer calls ``model(input_ids=, attention_mask=, mm_token_type_ids=, pixel_values_videos=,
video_grid_thw=, use_cache=False)`` and ``save_pretrained(dir, state_dict=...)``; this wrapper
maps them onto ``NanoVLM`` and the nano checkpoint layout.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from torch import nn

from aura.models.hf.chat import ChatFormat
from aura.models.nano.config import NanoConfig
from aura.models.nano.model import NanoVLM
from aura.models.nano.pixels import encoder_pixels
from aura.models.nano.question_state import STATE_SIZE, QuestionStateReader


@dataclass
class _Output:
    logits: torch.Tensor


class NanoForTraining(nn.Module):
    """A ``NanoVLM`` with the transformers-style forward and ``save_pretrained`` the trainer uses.

    With ``features=True`` the batch's ``pixel_values_videos`` are the frozen frame encoder's
    output per chunk (``nano_preprocess(nano, features=True)``), not pixels.

    With a ``question_state`` reader and ``state_weight`` > 0, ``auxiliary_loss`` trains a linear
    read-out of block ``state_layer``'s output, at every assistant turn, to say which questions
    are open there (``question_state``); the read-out is not part of the saved checkpoint.
    """

    def __init__(self, nano: NanoVLM, *, features: bool = False, question_state: QuestionStateReader | None = None,
                 state_weight: float = 0.0, state_layer: int = 2) -> None:
        super().__init__()
        self.nano = nano
        self.features = features
        self.config = SimpleNamespace(use_cache=False)
        self.question_state = question_state if state_weight > 0 else None
        self.state_weight = float(state_weight)
        self.state_layer = state_layer
        self.last_auxiliary: float | None = None
        self._hidden: torch.Tensor | None = None
        if self.question_state is not None:
            if not 1 <= state_layer <= len(nano.blocks):
                raise ValueError(f"state_layer must be 1..{len(nano.blocks)}, got {state_layer}")
            self.state_head = nn.Linear(nano.cfg.d_model, STATE_SIZE)

    def _keep_hidden(self, module: nn.Module, args: Any, output: Any) -> None:
        self._hidden = output[0]

    def auxiliary_loss(self, input_ids: torch.Tensor) -> torch.Tensor | None:
        """``state_weight`` x the mean binary cross-entropy of the question-state read-out over the
        assistant turns of the batch just forwarded (None without a reader or turns)."""
        if self.question_state is None or self._hidden is None:
            return None
        rows, cols, targets = [], [], []
        for b, ids in enumerate(input_ids.tolist()):
            positions, states = self.question_state.states(ids)
            rows += [b] * len(positions)
            cols += positions
            targets.append(states)
        hidden, self._hidden = self._hidden, None
        if not rows:
            return None
        picked = hidden[torch.tensor(rows), torch.tensor(cols)].float()
        picked = F.layer_norm(picked, picked.shape[-1:])  # the residual stream's scale varies by layer and step
        logits = self.state_head(picked)
        target = torch.from_numpy(np.concatenate(targets)).to(logits.device)
        loss = F.binary_cross_entropy_with_logits(logits, target)
        self.last_auxiliary = float(loss.detach())
        return self.state_weight * loss

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        mm_token_type_ids: torch.Tensor | None = None,
        pixel_values_videos: torch.Tensor | None = None,
        video_grid_thw: torch.Tensor | None = None,
        use_cache: bool = False,
        logits_to_keep: torch.Tensor | None = None,
    ) -> _Output:
        hook = None
        if self.question_state is not None and self.training:  # keep the read-out's input for auxiliary_loss
            hook = self.nano.blocks[self.state_layer - 1].register_forward_hook(self._keep_hidden)
        try:
            if self.features:
                logits, _ = self.nano(input_ids, None, None, attention_mask, logits_to_keep,
                                      features=pixel_values_videos)
            else:
                logits, _ = self.nano(input_ids, pixel_values_videos, None, attention_mask, logits_to_keep)
        finally:
            if hook is not None:
                hook.remove()
        return _Output(logits.float())  # under autocast the head ran in bfloat16; the loss reads float32

    def train(self, mode: bool = True) -> NanoForTraining:
        """Training mode, except that a frozen frame encoder stays in eval mode (its normalisation
        statistics are the pre-trained ones, as at inference)."""
        super().train(mode)
        if mode and not any(p.requires_grad for p in self.nano.vision.parameters()):
            self.nano.vision.eval()
        return self

    def gradient_checkpointing_enable(self) -> None:
        """Not needed at nano's size; accepted so configs stay uniform."""

    def save_pretrained(self, directory: str, state_dict: dict[str, torch.Tensor] | None = None,
                        safe_serialization: bool = True) -> None:
        """Write ``config.json`` + ``model.safetensors`` in the nano checkpoint layout."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        state = state_dict if state_dict is not None else self.state_dict()
        clean = {k.removeprefix("nano."): v.detach().contiguous() for k, v in state.items()
                 if not k.startswith("state_head.")}  # the question-state read-out is a training aid only
        clean.pop("head.weight", None)  # tied to embed.weight
        config = {"model_type": "aura_nano", **self.nano.cfg.model_dump()}
        (out / "config.json").write_text(json.dumps(config, indent=2))
        save_file(clean, str(out / "model.safetensors"), metadata={"format": "pt"})


def nano_preprocess(nano: NanoVLM, *, features: bool = False) -> Any:
    """The trainer's ``preprocess(frames) -> (pixels, grid)`` for nano: one (1, F*3, S, S) array per chunk
    (frames beyond ``frames_per_chunk`` at the front are the previous chunk's context frames).

    ``features=True`` (for a frozen frame encoder, with ``NanoForTraining(features=True)``) gives
    the encoder's output (1, visual_tokens, feature_dim) instead, computed in eval mode: what the
    frozen encoder would compute in every step, once per chunk (the trainer caches preprocessed
    chunks), so the text stages spend their time on the decoder.
    """
    cfg = nano.cfg
    many = nano_features_many(nano) if features else None

    def preprocess(frames: np.ndarray) -> tuple[np.ndarray, tuple[int, int, int]]:
        if many is not None:
            return many([frames])[0]
        return encoder_pixels(frames, cfg)[None].numpy(), cfg.token_grid

    return preprocess


def nano_features_many(nano: NanoVLM) -> Any:
    """The trainer's ``preprocess_many`` for a frozen frame encoder (``BatchBuilder.warm``): the
    features ``nano_preprocess(nano, features=True)`` gives for each chunk, computed for many chunks
    in one batch (several times faster on a CPU than one chunk at a time)."""
    cfg = nano.cfg

    def preprocess_many(frames: list[np.ndarray]) -> list[tuple[np.ndarray, tuple[int, int, int]]]:
        if any(p.requires_grad for p in nano.vision.parameters()):
            raise ValueError("encoder features can be precomputed only for a frozen frame encoder")
        if not frames:
            return []
        pixels = torch.stack([encoder_pixels(f, cfg) for f in frames])
        mode = nano.vision.training
        nano.vision.eval()
        with torch.inference_mode():
            out = nano.vision(pixels).numpy()
        nano.vision.train(mode)
        return [(out[i : i + 1], cfg.token_grid) for i in range(len(frames))]

    return preprocess_many


def nano_chat_format(tokenizer: Any, cfg: NanoConfig | None = None) -> ChatFormat:
    """Nano's chat format: ChatML, one ``<|vision_start|>`` + pads + ``<|vision_end|>`` per chunk
    (after the turn's question when ``cfg.question_first``); the compact layout when
    ``cfg.compact_format``; ``cfg.decision_pauses`` pause tokens closing each assistant header."""
    return ChatFormat.from_tokenizer(tokenizer, "plain", merge_size=1,
                                     text_first=bool(cfg is not None and cfg.question_first),
                                     compact=bool(cfg is not None and cfg.compact_format),
                                     pauses=0 if cfg is None else cfg.decision_pauses)
