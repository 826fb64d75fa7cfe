"""aura-nano: a small vision-language model you can read in one sitting.

    frames (F, S, S, 3) ──CNN──> grid x grid features ──projector──> visual token embeddings
    text tokens ──embedding──┐                                         │
                             └── placeholders <|video_pad|> replaced ──┘
                                         │
                      decoder-only transformer (RoPE, causal, KV cache)
                                         │
                                   next-token logits

With ``word_dim`` a text token's embedding also gets a learnt projection of a frozen pre-trained
vector of that token (``word_table``; models/nano/word_vectors.py).

The KV cache is a list of (key, value) tensors per layer, shape (1, heads, T, head_dim); the
streaming backend appends to it and crops it.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from aura.models.nano.config import N_PAIRS, NanoConfig

KVCache = list[tuple[torch.Tensor, torch.Tensor]]
SLOT_WORD_GAIN = 32.0
"""Initial gain of the slot-word embeddings added to the pair slots' tokens (``NanoConfig.slot_words``,
and of the event words, ``NanoConfig.event_words``)."""


class FrameEncoder(nn.Module):
    """A chunk's frames (B, F*3, S, S) in [0, 1] -> (B, visual_tokens, feature_dim) features (F = ``input_frames``).

    Two stages at 1/2 and 1/4 resolution (a stride-2 convolution, then a 3x3 one; each followed
    by GroupNorm and GELU) see colours, edges and corners; with ``stem_channels`` a stride-2
    stem comes first (so they run at 1/4 and 1/8 of a larger input). With the ``grid`` read-out a final
    patchifying convolution turns the 1/4-resolution map into the ``grid x grid`` token grid.
    With ``slots``, every slot (one per colour-shape pair, one for the scene) pools the
    1/4-resolution map with its own spatial attention, and a per-slot linear read-out of the
    pooled features gives its beliefs (``NanoConfig.slot_beliefs``), appended to the token so the
    decoder reads them in the same place for every slot (slots are told apart by their place in
    the chunk; ``pos`` is trained only by the grid read-out). With ``per_frame`` the CNN sees one
    frame at a time (shared weights) and the slots pool the frames' stacked feature maps, so a
    feature of one frame cannot be smeared over the others. The normalisation keeps the
    features of different frames apart from the first step, so the decoder cannot learn to
    ignore them (without it the features of all frames collapse to nearly one vector).
    """

    def __init__(self, cfg: NanoConfig) -> None:
        super().__init__()
        c1, c2, c3 = cfg.vision_channels
        self.slots = cfg.visual_readout == "slots"

        def stage(c_in: int, c_out: int) -> list[nn.Module]:
            return [
                nn.Conv2d(c_in, c_out, 3, stride=2, padding=1), nn.GroupNorm(8, c_out), nn.GELU(),
                nn.Conv2d(c_out, c_out, 3, padding=1), nn.GroupNorm(8, c_out), nn.GELU(),
            ]

        if self.slots:
            k = cfg.visual_tokens
            self.frames = cfg.input_frames if cfg.per_frame else 1
            c_in = 3 * cfg.input_frames // self.frames
            stem: list[nn.Module] = []
            if cfg.stem_channels:
                stem = [nn.Conv2d(c_in, cfg.stem_channels, 3, stride=2, padding=1),
                        nn.GroupNorm(8, cfg.stem_channels), nn.GELU()]
                c_in = cfg.stem_channels
            self.net = nn.Sequential(*stem, *stage(c_in, c1), *stage(c1, c2))
            self.value = nn.Conv2d(c2 * self.frames, c3, 3, padding=1)
            self.attend = nn.Conv2d(c2 * self.frames, k, 3, padding=1)
            self.readout = nn.Parameter(torch.randn(k, c3, cfg.slot_beliefs) * c3**-0.5)
            self.readout_bias = nn.Parameter(torch.zeros(k, cfg.slot_beliefs))
        else:
            patch = cfg.image_size // 4 // cfg.grid
            self.net = nn.Sequential(
                *stage(3 * cfg.input_frames, c1), *stage(c1, c2), nn.Conv2d(c2, c3, patch, stride=patch)
            )
        self.norm = nn.BatchNorm1d(c3)
        self.pos = nn.Parameter(torch.zeros(1, cfg.visual_tokens, c3))

    @property
    def feature_dim(self) -> int:
        """Width of one visual token as the projector receives it."""
        return self.pos.shape[-1] + (self.readout.shape[-1] if self.slots else 0)

    def parts(self, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
        """(tokens (B, K, feature_dim), slot belief logits (B, K, slot_beliefs) or None, feature map
        (B, C, h, w)): what pre-training reads besides the tokens."""
        if not self.slots:
            feats = self.net(pixels * 2.0 - 1.0)
            return self.norm(feats.flatten(2)).transpose(1, 2) + self.pos, None, feats
        b, c, h, w = pixels.shape
        x = pixels.reshape(b * self.frames, c // self.frames, h, w) * 2.0 - 1.0
        # channels-last: oneDNN's CPU convolutions run a batch about 1.3x faster this way
        feats = self.net(x.contiguous(memory_format=torch.channels_last))
        feats = feats.reshape(b, -1, *feats.shape[-2:])  # (B, frames * C, h, w): each frame's own channels
        values = self.value(feats)  # (B, C, h, w)
        weights = torch.softmax(self.attend(feats).flatten(2), dim=-1)  # (B, K, h*w)
        pooled = weights @ values.flatten(2).transpose(1, 2)  # (B, K, C)
        beliefs = torch.einsum("bkc,kcr->bkr", pooled, self.readout) + self.readout_bias
        tokens = self.norm(pooled.transpose(1, 2)).transpose(1, 2) + self.pos
        return torch.cat([tokens, torch.tanh(beliefs / 4.0)], dim=-1), beliefs, values

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.parts(pixels)[0]


class Projector(nn.Module):
    """Vision features -> decoder embeddings (a two-layer MLP, as in LLaVA-style models), normalised
    so visual tokens keep a fixed scale next to the text embeddings."""

    def __init__(self, c: int, d: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(c, d), nn.GELU(), nn.Linear(d, d))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def rope_tables(head_dim: int, positions: torch.Tensor, theta: float) -> tuple[torch.Tensor, torch.Tensor]:
    """cos/sin tables (T, head_dim) for rotary embeddings at the given integer positions."""
    inv = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
    angles = positions.float()[:, None] * inv[None, :]
    angles = torch.cat([angles, angles], dim=-1)
    return angles.cos(), angles.sin()


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate (B, H, T, D) queries/keys by position: ``x * cos + rotate_half(x) * sin``, where
    ``rotate_half`` maps halves (a, b) to (-b, a); ``cos`` and ``sin`` broadcast to ``x`` and get no
    gradient."""
    return _Rotary.apply(x, cos, sin)


class _Rotary(torch.autograd.Function):
    """Rotary embedding with a hand-written backward: no concatenated copy of the rotated halves in
    the forward, no zero-filled slice gradients in the backward (about a third of its time on a CPU)."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(cos, sin)
        half = x.shape[-1] // 2
        out = x * cos
        out[..., :half].addcmul_(x[..., half:], sin[..., :half], value=-1)
        out[..., half:].addcmul_(x[..., :half], sin[..., half:])
        return out

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None, None]:
        cos, sin = ctx.saved_tensors
        half = grad.shape[-1] // 2
        scaled = grad * sin
        out = grad * cos  # the rotation's transpose maps halves (a, b) to (b, -a)
        out[..., :half].add_(scaled[..., half:])
        out[..., half:].sub_(scaled[..., :half])
        return out, None, None


def feed_forward(cfg: NanoConfig) -> nn.Sequential:
    """The transformer MLP: d_model -> mlp_ratio x d_model -> d_model with a GELU between."""
    return nn.Sequential(
        nn.Linear(cfg.d_model, cfg.mlp_ratio * cfg.d_model),
        nn.GELU(),
        nn.Linear(cfg.mlp_ratio * cfg.d_model, cfg.d_model),
    )


class Block(nn.Module):
    """Pre-norm transformer block: causal self-attention with a KV cache, then an MLP."""

    def __init__(self, cfg: NanoConfig) -> None:
        super().__init__()
        self.n_heads = cfg.n_heads
        self.ln1 = nn.LayerNorm(cfg.d_model)
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model, bias=False)
        self.proj = nn.Linear(cfg.d_model, cfg.d_model, bias=False)
        self.ln2 = nn.LayerNorm(cfg.d_model)
        self.mlp = feed_forward(cfg)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(
        self,
        x: torch.Tensor,
        cos: torch.Tensor,
        sin: torch.Tensor,
        past: tuple[torch.Tensor, torch.Tensor] | None,
        attn_mask: torch.Tensor | None,
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        b, t, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).view(b, t, 3, self.n_heads, d // self.n_heads).permute(2, 0, 3, 1, 4)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        if past is not None:
            k = torch.cat([past[0], k], dim=2)
            v = torch.cat([past[1], v], dim=2)
        y = _attention(q, k, v, past is None and t > 1, attn_mask).to(v.dtype)
        x = x + self.drop(self.proj(y.transpose(1, 2).reshape(b, t, d)))
        x = x + self.drop(self.mlp(self.ln2(x)))
        return x, (k, v)


def _attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool,
               attn_mask: torch.Tensor | None) -> torch.Tensor:
    """Scaled dot-product attention, in float32 under CPU autocast (there bfloat16 attention is
    slower, and its softmax is where low precision costs)."""
    if q.device.type == "cpu" and torch.is_autocast_enabled("cpu"):
        with torch.autocast("cpu", enabled=False):
            return _attention(q.float(), k.float(), v.float(), causal, attn_mask)
    if attn_mask is None:
        return F.scaled_dot_product_attention(q, k, v, is_causal=causal)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)


class DecisionLayer(nn.Module):
    """Cross-attention from a reply's first position to every position's last-block output, then an MLP.

    Only the queries go through it (a few per turn); the memory's keys and values are kept in the
    KV cache beside the blocks' own, so a streaming step adds one position's worth of work. The
    output projections start at zero: a new layer starts as the identity.
    """

    def __init__(self, cfg: NanoConfig) -> None:
        super().__init__()
        self.n_heads = cfg.n_heads
        self.ln_mem = nn.LayerNorm(cfg.d_model)
        self.kv = nn.Linear(cfg.d_model, 2 * cfg.d_model, bias=False)
        self.ln_q = nn.LayerNorm(cfg.d_model)
        self.q = nn.Linear(cfg.d_model, cfg.d_model, bias=False)
        self.proj = nn.Linear(cfg.d_model, cfg.d_model, bias=False)
        self.ln2 = nn.LayerNorm(cfg.d_model)
        self.mlp = feed_forward(cfg)

    def zero_outputs(self) -> None:
        """Make the layer the identity (its residual branches output zero)."""
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.mlp[2].weight)
        nn.init.zeros_(self.mlp[2].bias)

    def memory(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor,
               past: tuple[torch.Tensor, torch.Tensor] | None) -> tuple[torch.Tensor, torch.Tensor]:
        """Keys and values (B, H, T, D) of the last block's output ``x`` (B, T, d), after ``past``."""
        b, t, d = x.shape
        k, v = self.kv(self.ln_mem(x)).view(b, t, 2, self.n_heads, d // self.n_heads).permute(2, 0, 3, 1, 4)
        k = apply_rope(k, cos, sin)
        if past is not None:
            k, v = torch.cat([past[0], k], dim=2), torch.cat([past[1], v], dim=2)
        return k, v

    def forward(self, h: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, memory: tuple[torch.Tensor, torch.Tensor],
                mask: torch.Tensor) -> torch.Tensor:
        """Queries ``h`` (B, Q, d) at rotary tables ``cos``/``sin`` (B, 1, Q, D), ``mask`` (B, 1, Q, T) of the keys
        each may read."""
        b, n, d = h.shape
        q = self.q(self.ln_q(h)).view(b, n, self.n_heads, d // self.n_heads).transpose(1, 2)
        q = apply_rope(q, cos, sin)
        y = _attention(q, memory[0], memory[1], False, mask).to(h.dtype)
        h = h + self.proj(y.transpose(1, 2).reshape(b, n, d))
        return h + self.mlp(self.ln2(h))


def decision_positions(input_ids: torch.Tensor, prompt: tuple[int, ...]) -> torch.Tensor:
    """(B, T) bool: the positions of ``input_ids`` that end a complete ``prompt`` (a reply's first position)."""
    b, t = input_ids.shape
    n = len(prompt)
    out = torch.zeros(b, t, dtype=torch.bool, device=input_ids.device)
    if t < n:
        return out
    match = torch.ones(b, t - n + 1, dtype=torch.bool, device=input_ids.device)
    for i, token in enumerate(prompt):
        match &= input_ids[:, i : t - n + 1 + i] == token
    out[:, n - 1 :] = match
    return out


class NanoVLM(nn.Module):
    """The whole model: ``forward(input_ids, pixels, past)`` -> (logits, new cache)."""

    def __init__(self, cfg: NanoConfig, video_pad_id: int) -> None:
        super().__init__()
        self.cfg = cfg
        self.video_pad_id = video_pad_id
        self.vision = FrameEncoder(cfg)
        self.projector = Projector(self.vision.feature_dim, cfg.d_model)
        self.embed = nn.Embedding(cfg.vocab_size, cfg.d_model)
        if cfg.word_dim:  # frozen pre-trained vectors (filled by the recipe, saved with the weights), learnt projection
            self.register_buffer("word_table", torch.zeros(cfg.vocab_size, cfg.word_dim))
            self.word_proj = nn.Linear(cfg.word_dim, cfg.d_model, bias=False)
        self.drop = nn.Dropout(cfg.dropout if cfg.dropout_inputs else 0.0)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        if cfg.decision_layers and not cfg.decision_prompt:
            raise ValueError("decision_layers needs decision_prompt (the token ids that open a reply)")
        self.decision = nn.ModuleList(DecisionLayer(cfg) for _ in range(cfg.decision_layers))
        self.ln_f = nn.LayerNorm(cfg.d_model)
        self.head = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)
        self.head.weight = self.embed.weight  # tied, as in GPT-2 / nanoGPT
        self.apply(self._init)
        for layer in self.decision:
            layer.zero_outputs()
        if cfg.slot_embed:  # made after _init: started at the scale of the projector's output, not drowned by it
            self.belief_embed = nn.Linear(cfg.slot_beliefs, cfg.d_model)
            nn.init.normal_(self.belief_embed.weight, std=1.0)
            nn.init.zeros_(self.belief_embed.bias)
            self.slot_ids = nn.Parameter(torch.randn(cfg.visual_tokens, cfg.d_model))
        if cfg.slot_words is not None:
            self.register_buffer("slot_word_ids", torch.tensor(cfg.slot_words, dtype=torch.long), persistent=False)
            # visual tokens leave the projector ~100x the norm of a word embedding; the gain starts the
            # words at a comparable scale and is learnt
            self.slot_word_gain = nn.Parameter(torch.tensor(SLOT_WORD_GAIN))
        else:
            self.slot_word_ids = None
        if cfg.event_words is not None:
            # each kind's word ids padded to one length, with the weights (1/n or 0) that average them
            width = max(len(ids) for ids in cfg.event_words)
            ids = torch.tensor([[*w, *[0] * (width - len(w))] for w in cfg.event_words], dtype=torch.long)
            weights = torch.tensor([[1.0 / len(w)] * len(w) + [0.0] * (width - len(w)) for w in cfg.event_words])
            self.register_buffer("event_word_ids", ids, persistent=False)
            self.register_buffer("event_word_weights", weights, persistent=False)
            self.event_word_gain = nn.Parameter(torch.tensor(SLOT_WORD_GAIN))

    @staticmethod
    def _init(m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, std=0.02)

    def encode_chunks(self, pixels: torch.Tensor) -> torch.Tensor:
        """Visual token embeddings (n_chunks * visual_tokens, d_model) of chunks' pixels (n, F*3, S, S)."""
        return self.project(self.vision(pixels))

    def project(self, features: torch.Tensor) -> torch.Tensor:
        """Visual token embeddings (n_chunks * visual_tokens, d_model) of the frame encoder's output
        (n, visual_tokens, feature_dim): what ``encode_chunks`` gives for the pixels behind them."""
        tokens = self.projector(features)
        if self.cfg.slot_embed:
            tokens = tokens + self.belief_embed(features[..., -self.cfg.slot_beliefs :]) + self.slot_ids
        if self.slot_word_ids is not None:
            words = self.embed(self.slot_word_ids).sum(dim=1) * self.slot_word_gain  # (pairs, d)
            tokens = torch.cat([tokens[:, : words.shape[0]] + words, tokens[:, words.shape[0] :]], dim=1)
        if self.cfg.event_words is not None:
            tokens = tokens + self.event_word_gain * self._event_words(features)
        return tokens.reshape(-1, self.cfg.d_model)

    def _event_words(self, features: torch.Tensor) -> torch.Tensor:
        """(n, visual_tokens, d): each slot's believed kinds of event as their words' mean embeddings,
        weighed by the belief (a pair slot: appeared, vanished; the scene slot: its three kinds)."""
        kinds = (self.event_word_weights.unsqueeze(-1) * self.embed(self.event_word_ids)).sum(dim=1)  # (3, d)
        kinds = kinds.to(features.dtype)
        belief = (features[..., -self.cfg.slot_beliefs :] + 1.0) / 2.0  # tanh(logit / 4) -> [0, 1]
        pairs = belief[:, :N_PAIRS, self.cfg.pair_event_beliefs] @ kinds[:2]  # appear, disappear
        scene = belief[:, N_PAIRS:, self.cfg.scene_kind_beliefs] @ kinds
        return torch.cat([pairs, scene], dim=1)

    def embed_inputs(
        self, input_ids: torch.Tensor, pixels: torch.Tensor | None, visual: torch.Tensor | None = None,
        features: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Token embeddings with every ``<|video_pad|>`` replaced by its visual token, in order.

        The visual tokens come from ``pixels`` (n_chunks, F*3, S, S) of the chunks whose
        placeholders appear in ``input_ids``, from the frame encoder's ``features`` of them
        (see ``project``), or precomputed as ``visual`` (see ``encode_chunks``).
        """
        x = self.embed(input_ids)
        if self.cfg.word_dim:
            x = x + self.word_proj(self.word_table[input_ids])
        mask = input_ids == self.video_pad_id
        n_pad = int(mask.sum())
        if n_pad == 0:
            return x
        if visual is None and features is not None:
            visual = self.project(features)
        if visual is None and pixels is not None:
            visual = self.encode_chunks(pixels)
        if visual is None or visual.shape[0] != n_pad:
            have = 0 if visual is None else visual.shape[0] // self.cfg.visual_tokens
            raise ValueError(f"{n_pad} video placeholders but {have} chunks of pixels")
        return x.masked_scatter(mask.unsqueeze(-1), visual.to(x.dtype))

    def forward(
        self,
        input_ids: torch.Tensor,
        pixels: torch.Tensor | None = None,
        past: KVCache | None = None,
        attention_mask: torch.Tensor | None = None,
        logits_to_keep: torch.Tensor | None = None,
        visual: torch.Tensor | None = None,
        features: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, KVCache]:
        """Logits (B, T, V) for ``input_ids`` (B, T) appended after ``past`` (if any).

        ``attention_mask`` (B, T) marks real tokens (1) vs right padding (0) in a training batch. Under
        causal attention a real token never sees the padding after it, so right padding needs no
        mask (and the fast causal kernel runs); any other mask is applied exactly.
        ``logits_to_keep`` (1-D positions) computes logits only there, giving (B, K, V);
        ``visual`` replaces ``pixels`` with precomputed visual tokens, ``features`` with the frame
        encoder's output for them (a frozen encoder's, computed once: ``project``).
        """
        x = self.drop(self.embed_inputs(input_ids, pixels, visual, features))
        start = 0 if past is None else past[0][0].shape[2]
        positions = torch.arange(start, start + input_ids.shape[1], device=input_ids.device)
        cos, sin = rope_tables(self.cfg.d_model // self.cfg.n_heads, positions, self.cfg.rope_theta)
        cos, sin = cos.to(x.dtype), sin.to(x.dtype)
        mask = None
        if attention_mask is not None and _is_right_padding(attention_mask):
            attention_mask = None
        if attention_mask is not None or (past is not None and input_ids.shape[1] > 1):
            mask = self._mask(input_ids.shape[1], start, attention_mask, x.device)
        new_cache: KVCache = []
        for i, block in enumerate(self.blocks):
            x, kv = block(x, cos, sin, None if past is None else past[i], mask)
            new_cache.append(kv)
        if self.decision:
            x = self._decide(x, input_ids, cos, sin, past, attention_mask, new_cache)
        hidden = self.ln_f(x)
        if logits_to_keep is not None:
            hidden = hidden[:, logits_to_keep]
        return self.head(hidden), new_cache

    def _decide(self, x: torch.Tensor, input_ids: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor,
                past: KVCache | None, attention_mask: torch.Tensor | None, new_cache: KVCache) -> torch.Tensor:
        """``x`` with the decision layers applied at the reply-opening positions (their memories appended
        to ``new_cache``)."""
        n_blocks = len(self.blocks)
        memories = [layer.memory(x, cos, sin, None if past is None else past[n_blocks + j])
                    for j, layer in enumerate(self.decision)]
        new_cache.extend(memories)
        where = decision_positions(input_ids, tuple(self.cfg.decision_prompt or ()))
        counts = where.sum(dim=1)
        n = int(counts.max())
        if n == 0:
            return x
        b, t, _ = x.shape
        start = memories[0][0].shape[2] - t
        # each row's query positions, padded with the row's last position (dropped on the way back)
        order = torch.where(where, torch.arange(t, device=x.device), t).sort(dim=1).values[:, :n]
        valid = order < t
        order = torch.where(valid, order, t - 1)
        h = x.gather(1, order[..., None].expand(-1, -1, x.shape[-1]))
        q_cos, q_sin = cos[order][:, None], sin[order][:, None]
        keys = torch.arange(start + t, device=x.device)
        mask = keys[None, None, :] <= (order + start)[:, :, None]  # (B, Q, T): causal
        if attention_mask is not None:
            seen = torch.cat([torch.ones(b, start, dtype=torch.bool, device=x.device), attention_mask.bool()], dim=1)
            mask = mask & seen[:, None, :]
        for layer, memory in zip(self.decision, memories, strict=True):
            h = layer(h, q_cos, q_sin, memory, mask[:, None])
        out = x.clone()
        rows = torch.arange(b, device=x.device)[:, None].expand(-1, n)
        out[rows[valid], order[valid]] = h[valid].to(out.dtype)
        return out

    @staticmethod
    def _mask(t: int, start: int, attention_mask: torch.Tensor | None, device: torch.device) -> torch.Tensor:
        total = start + t
        causal = torch.ones(t, total, dtype=torch.bool, device=device).tril(diagonal=start)
        if attention_mask is None:
            return causal[None, None]
        keys = torch.cat(
            [torch.ones(attention_mask.shape[0], start, dtype=torch.bool, device=device), attention_mask.bool()], dim=1
        )
        return causal[None, None] & keys[:, None, None, :]

    def num_parameters(self) -> int:
        """Trainable parameters (tied weights counted once)."""
        return sum(p.numel() for p in self.parameters())


def _is_right_padding(attention_mask: torch.Tensor) -> bool:
    """True when every row is ones followed by zeros (padding only at the end)."""
    m = attention_mask.bool()
    return bool((m[:, 1:] <= m[:, :-1]).all())


def crop_cache(cache: KVCache, length: int) -> KVCache:
    """The cache truncated to its first ``length`` positions."""
    return [(k[:, :, :length], v[:, :, :length]) for k, v in cache]


def cache_length(cache: KVCache | None) -> int:
    """Positions held in the cache."""
    return 0 if not cache else cache[0][0].shape[2]


def count_flops_per_token(cfg: NanoConfig) -> float:
    """Rough training FLOPs per text token (6 x decoder parameters), for throughput reports."""
    per_layer = 12 * cfg.d_model**2
    return 6.0 * per_layer * cfg.n_layers + 6.0 * cfg.d_model * cfg.vocab_size * math.log(2)
