"""Configuration of aura-nano, the project's own small streaming VLM."""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator

from aura.world.scene import EventKind
from aura.world.vocab import COLOURS, MAX_OBJECTS, SHAPES

N_PAIRS = len(COLOURS) * len(SHAPES)
"""Colour-shape pairs of the world: one object slot each in the ``slots`` read-out."""
EVENT_KINDS: tuple[EventKind, ...] = get_args(EventKind)
"""Kinds of event (appear, disappear, colour), in the order of the scene slot's kind beliefs."""


class NanoConfig(BaseModel):
    """Sizes of aura-nano: a frame encoder, a projector and a decoder-only transformer.

    A 1-second chunk (``frames_per_chunk`` frames) becomes ``visual_tokens`` embeddings: the
    frames are resized to ``image_size`` squared, stacked along channels and encoded by a small
    CNN whose final ``grid x grid`` feature map is the token grid. With ``context_frames`` the
    encoder also sees that many last frames of the previous chunk, so anything that changes
    between two chunks is visible inside one chunk's tokens.

    ``visual_readout`` says what the tokens are: ``grid``, the final feature map's cells; or
    ``slots``, one token per colour-shape pair of the world and one for the whole scene, each
    pooled from the feature map by its own learned attention and carrying the encoder's own
    beliefs about it (``slot_beliefs`` numbers: presence per input frame, appeared, vanished; for
    the scene slot the object count and the kinds of event). With ``slot_words`` each pair slot's
    token also carries the decoder's own embeddings of its colour and shape words: "Is there a
    blue square?" can find the blue-square slot by content even when that slot sees nothing.
    With ``event_words`` the tokens also carry the embeddings of the words questions use for the
    kinds of event, weighed by the encoder's beliefs that such an event happened: a pair slot's
    appeared and vanished beliefs carry the appear and disappear words, the scene slot's kind
    beliefs all three kinds' words (``EVENT_KINDS`` order), so "Tell me every time an object
    disappears." finds the slot that vanished by content.
    ``slot_embed`` adds a learnt identity per slot and a learnt embedding of its beliefs to its
    token. ``question_first`` renders a user turn's question before its chunk (the chat format's
    ``text_first``), so the chunk's visual tokens come after the question they are asked about.
    """

    @model_validator(mode="after")
    def _grid_divides(self) -> NanoConfig:
        stride = 8 if self.stem_channels else 4
        if self.image_size % stride or (self.visual_readout == "grid" and (self.image_size // stride) % self.grid):
            raise ValueError(f"image_size {self.image_size} must be {stride} x a multiple of grid {self.grid}")
        if self.stem_channels and (self.stem_channels % 8 or self.visual_readout != "slots"):
            raise ValueError(f"stem_channels {self.stem_channels} needs the slots read-out and a multiple of 8")
        if self.context_frames > self.frames_per_chunk:
            raise ValueError(f"context_frames {self.context_frames} > frames_per_chunk {self.frames_per_chunk}")
        if self.d_model % self.n_heads or (self.d_model // self.n_heads) % 2:
            raise ValueError(f"d_model {self.d_model} must split into {self.n_heads} heads of even size")
        if self.per_frame and self.visual_readout != "slots":
            raise ValueError("per_frame needs visual_readout 'slots'")
        if self.slot_embed and self.visual_readout != "slots":
            raise ValueError("slot_embed needs visual_readout 'slots'")
        if self.event_words is not None:
            if self.visual_readout != "slots":
                raise ValueError("event_words needs visual_readout 'slots'")
            if len(self.event_words) != len(EVENT_KINDS) or any(
                not w or not all(0 <= i < self.vocab_size for i in w) for w in self.event_words
            ):
                raise ValueError(f"event_words must give {len(EVENT_KINDS)} non-empty tuples of token ids within "
                                 "the vocabulary (appear, disappear, colour)")
        if self.slot_words is not None:
            if self.visual_readout != "slots":
                raise ValueError("slot_words needs visual_readout 'slots'")
            if len(self.slot_words) != N_PAIRS or any(not 0 <= i < self.vocab_size for w in self.slot_words for i in w):
                raise ValueError(f"slot_words must give {N_PAIRS} (colour, shape) token-id pairs within the vocabulary")
        return self

    model_config = ConfigDict(extra="forbid", frozen=True)

    vocab_size: int = Field(1024, ge=16)
    image_size: int = Field(64, ge=16)
    frames_per_chunk: int = Field(2, ge=1)
    context_frames: int = Field(0, ge=0, description="last frames of the previous chunk the encoder also sees")
    vision_channels: tuple[int, int, int] = (32, 64, 128)
    stem_channels: int = Field(0, ge=0, description="> 0: a learnt stride-2 stem of this many channels "
                               "first, so the encoder reads frames at twice the resolution for the cost "
                               "of one small convolution (small objects keep their shape)")
    per_frame: bool = Field(False, description="with slots: encode every input frame alone with the same CNN and "
                            "pool the stacked feature maps (late fusion), instead of stacking the frames on "
                            "channels before the first convolution; each frame's features then show that frame only")
    grid: int = Field(4, ge=1, description="side of the visual token grid (with slots: of the stage-0 cell labels)")
    visual_readout: Literal["grid", "slots"] = "grid"
    slot_words: tuple[tuple[int, int], ...] | None = Field(
        None, description="with slots: the token ids of each pair slot's colour and shape words (pair order "
        "colour-major); their embeddings are added to the slot's token, so question words find their slot")
    event_words: tuple[tuple[int, ...], ...] | None = Field(
        None, description="with slots: the token ids of the words of each event kind (appear, disappear, "
        "colour); their mean embedding, weighed by the slot's belief in that kind of event, is added to the token")
    slot_embed: bool = Field(False, description="with slots: each token also gets a learnt embedding of its "
                             "slot's beliefs and a learnt identity per slot, so the decoder finds a slot and reads "
                             "what it believes without untangling them from the pooled features")
    question_first: bool = Field(False, description="render each user turn's question before its chunk's visual "
                                 "tokens, so the visual tokens are read with the question in view")
    compact_format: bool = Field(False, description="write the chat format's compact layout (a role token "
                                 "per message, no newlines, no vision brackets: ChatFormat(compact=True)), "
                                 "so a silent chunk costs its visual tokens + 5 instead of + 13; the "
                                 "tokenizer must have the role tokens (train_tokenizer(compact=True))")
    decision_pauses: int = Field(0, ge=0, le=16, description="> 0: every assistant header ends with this many "
                                 "<|pause|> tokens (ChatFormat(pauses=K)), input positions where the decoder can "
                                 "compute before the reply's first token decides speech or silence; the tokenizer "
                                 "must have <|pause|> (train_tokenizer(pause=True))")
    word_dim: int = Field(0, ge=0, description="> 0: every token's input embedding also gets a learnt "
                          "projection of a frozen pre-trained vector of this width (the model's word_table: "
                          "SmolLM2's embeddings, models/nano/word_vectors.py); 0: none")
    decision_layers: int = Field(0, ge=0, description="> 0: that many cross-attention layers applied at each "
                                 "reply's first position only (the end of decision_prompt), reading every "
                                 "position's last-block output: depth where speak-or-stay-silent is decided, "
                                 "for a few queries per turn; 0: none")
    decision_prompt: tuple[int, ...] | None = Field(
        None, description="with decision_layers: the token ids that open an assistant reply (the chat "
        "format's generation prompt); its last token is where the decision layers run (the recipe fills it in)")
    d_model: int = Field(256, ge=16)
    n_layers: int = Field(4, ge=1)
    n_heads: int = Field(4, ge=1)
    mlp_ratio: int = Field(4, ge=1)
    dropout: float = Field(0.0, ge=0.0, lt=1.0, description="while training: dropout of the decoder's input "
                           "embeddings and of each block's attention and MLP outputs (0: none; never at inference)")
    dropout_inputs: bool = Field(True, description="with dropout: drop the input embeddings too (word and visual "
                                 "tokens), not only the blocks' outputs")
    rope_theta: float = 10000.0
    max_seq_len: int = Field(4096, ge=64)

    @property
    def input_frames(self) -> int:
        """Frames the encoder sees per chunk (the previous chunk's context frames first)."""
        return self.context_frames + self.frames_per_chunk

    @property
    def visual_tokens(self) -> int:
        """Visual tokens per chunk."""
        return N_PAIRS + 1 if self.visual_readout == "slots" else self.grid * self.grid

    @property
    def token_grid(self) -> tuple[int, int, int]:
        """The (t, h, w) grid the chat format sizes a chunk's placeholders by."""
        return (1, 1, self.visual_tokens) if self.visual_readout == "slots" else (1, self.grid, self.grid)

    @property
    def slot_beliefs(self) -> int:
        """Belief numbers per slot: presence per input frame, appeared, vanished; or, for the scene
        slot, count classes and event kinds (whichever is longer)."""
        return max(self.pair_event_beliefs.stop, self.scene_kind_beliefs.stop)

    @property
    def pair_event_beliefs(self) -> slice:
        """Where a pair slot's (appeared, vanished) beliefs are among its ``slot_beliefs``."""
        return slice(self.input_frames, self.input_frames + 2)

    @property
    def scene_kind_beliefs(self) -> slice:
        """Where the scene slot's beliefs in each of ``EVENT_KINDS`` are among its ``slot_beliefs``
        (after the object-count classes)."""
        return slice(MAX_OBJECTS + 1, MAX_OBJECTS + 1 + len(EVENT_KINDS))


def parse_decoder_shape(text: str) -> tuple[int, int, int]:
    """``LAYERS,WIDTH,HEADS`` (``--decoder``) as three integers; ``ConfigError`` naming the flag otherwise."""
    from aura.errors import ConfigError

    try:
        layers, width, heads = (int(v) for v in str(text).split(","))
    except ValueError:
        raise ConfigError(f"--decoder needs three integers LAYERS,WIDTH,HEADS, got {text!r}") from None
    return layers, width, heads
