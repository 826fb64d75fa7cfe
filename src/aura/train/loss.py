"""The Silent-Speech Balanced Loss (reference §5) and its two ablation variants.

Every token of a training sample carries a *kind* (see ``TokenKind``): not supervised, part of
a ``<|silent|>`` assistant message, part of an earlier non-silent answer, or part of the target
(the last message, its end-of-turn token included). A sample also carries ``n_silent``, the
number of silent assistant messages it holds. From these the three variants derive, for a
whole padded batch at once, the mask ``m_t`` and the weights ``w_t`` of one formula::

    L = -(1 / sum_t m_t) * sum_t m_t * w_t * log p(y_t | x, y_<t)        (per sample)

- ``balanced``: m_t = 1 on silent and target tokens; w_t = 1/N_silent on silent tokens, else 1.
  A silent message the sample marks as a hard negative (``"hard": true``: something happened in
  its chunk that no question asked about) weighs ``hard_weight`` per token instead, when given.
- ``masked``: the same mask, every w_t = 1 (ablation: no silence weighting).
- ``plain``: m_t = 1 on every assistant token (earlier answers too), w_t = 1 (ablation:
  plain cross-entropy on all assistant tokens).

The batch loss is the mean of the per-sample losses over the samples that have at least one
supervised token. With a focal exponent ``gamma`` > 0 every supervised token's term is also
multiplied by ``(1 - p)^gamma`` (Lin et al.'s focal loss), so the tokens the model already
predicts well weigh little and the hard ones (an unasked event's silence, a wrong colour) keep
their weight. Nothing loops over tokens in Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Literal

import torch
import torch.nn.functional as F

IGNORE_INDEX = -100
LossVariant = Literal["balanced", "masked", "plain"]
LOSS_VARIANTS: tuple[LossVariant, ...] = ("balanced", "masked", "plain")


class TokenKind(IntEnum):
    """What a token is, for the loss."""

    NONE = 0  # system, user, template scaffolding, padding
    SILENT = 1  # a token of a ``<|silent|>`` assistant message
    EARLIER = 2  # a token of an earlier non-silent assistant answer
    TARGET = 3  # a token of the last (target) assistant message
    HARD_SILENT = 4  # a token of a ``<|silent|>`` message marked ``"hard": true`` (a hard negative)


@dataclass
class LossOutput:
    """A batch loss with what it was made of.

    ``loss``: scalar to backpropagate; ``per_sample``: (B,) per-sample losses (0 where nothing
    is supervised); ``n_tokens``: (B,) supervised tokens per sample.
    """

    loss: torch.Tensor
    per_sample: torch.Tensor
    n_tokens: torch.Tensor


def supervision(
    kinds: torch.Tensor, n_silent: torch.Tensor, variant: LossVariant = "balanced",
    hard_weight: float | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mask ``m`` (bool, B×T) and weights ``w`` (float, B×T) of every token under ``variant``.

    ``kinds`` is (B, T) of ``TokenKind`` values (padding is ``NONE``); ``n_silent`` is (B,) the
    silent-message count of each sample (hard negatives included). Weights are 0 wherever the
    mask is 0. Hard-negative silent tokens are silent tokens, except that under ``balanced`` with
    a ``hard_weight`` they weigh ``hard_weight`` instead of 1/N_silent.
    """
    if variant not in LOSS_VARIANTS:
        raise ValueError(f"unknown loss variant {variant!r} (choose from {', '.join(LOSS_VARIANTS)})")
    hard = kinds == TokenKind.HARD_SILENT
    silent = (kinds == TokenKind.SILENT) | hard
    target = kinds == TokenKind.TARGET
    mask = silent | target | (kinds == TokenKind.EARLIER) if variant == "plain" else silent | target
    weights = mask.to(torch.float32)
    if variant == "balanced":
        inv = 1.0 / n_silent.to(torch.float32).clamp(min=1.0)
        weights = torch.where(silent, inv[:, None].expand_as(weights), weights)
        if hard_weight is not None:
            weights = torch.where(hard, torch.full_like(weights, float(hard_weight)), weights)
    return mask, weights


def labels_from(input_ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``input_ids`` where ``mask`` holds, ``IGNORE_INDEX`` (-100) elsewhere."""
    return torch.where(mask, input_ids, torch.full_like(input_ids, IGNORE_INDEX))


def aligned_token_loss(logits: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor,
                       focal_gamma: float = 0.0) -> LossOutput:
    """The §5 formula when ``logits[:, k]`` already predicts ``labels[:, k]`` (no shift).

    ``labels`` (B, K) holds ``IGNORE_INDEX`` where m = 0; ``weights`` (B, K) gives w. Each
    sample's loss is its weighted token NLL summed and divided by its supervised-token count;
    the batch loss is the mean over samples with at least one supervised token (0 if none).
    ``focal_gamma`` > 0 multiplies each token's NLL by ``(1 - p)^focal_gamma`` (p: the model's
    probability of the label; the factor is not differentiated through).
    """
    if focal_gamma < 0:
        raise ValueError(f"focal_gamma must be >= 0, not {focal_gamma}")
    b, k, v = logits.shape
    nll = F.cross_entropy(
        logits.reshape(b * k, v).float(), labels.reshape(b * k), ignore_index=IGNORE_INDEX, reduction="none"
    ).view(b, k)
    if focal_gamma:
        nll = nll * (-torch.expm1(-nll.detach())) ** focal_gamma  # (1 - p), exact where p is near 1
    mask = labels != IGNORE_INDEX
    n_tokens = mask.sum(dim=1)
    summed = (nll * weights.to(torch.float32) * mask).sum(dim=1)
    per_sample = summed / n_tokens.clamp(min=1).to(summed.dtype)
    has = (n_tokens > 0).to(summed.dtype)
    loss = (per_sample * has).sum() / has.sum().clamp(min=1.0)
    return LossOutput(loss=loss, per_sample=per_sample, n_tokens=n_tokens)


def weighted_token_loss(logits: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor,
                        focal_gamma: float = 0.0) -> LossOutput:
    """The §5 formula over a padded batch: logits (B, T, V) at position t predict labels[t+1].

    ``labels`` is (B, T) with ``IGNORE_INDEX`` where m_t = 0; ``weights`` (B, T) gives w_t.
    """
    return aligned_token_loss(logits[:, :-1, :], labels[:, 1:], weights[:, 1:], focal_gamma)


def predicting_positions(mask: torch.Tensor) -> torch.Tensor:
    """Positions t (1-D, ascending) whose logits predict a supervised token t+1 in any sample of the batch.

    Computing logits only there (``logits_to_keep``) gives the same loss with far less memory:
    a long stream sample supervises a few hundred of its thousands of tokens.
    """
    return mask[:, 1:].any(dim=0).nonzero().squeeze(1)


def sparse_stream_loss(
    kept_logits: torch.Tensor,
    positions: torch.Tensor,
    input_ids: torch.Tensor,
    kinds: torch.Tensor,
    n_silent: torch.Tensor,
    variant: LossVariant = "balanced",
    hard_weight: float | None = None,
    focal_gamma: float = 0.0,
) -> LossOutput:
    """``stream_loss`` from logits (B, K, V) kept only at ``positions`` (see ``predicting_positions``)."""
    mask, weights = supervision(kinds, n_silent, variant, hard_weight)
    labels = labels_from(input_ids, mask)
    return aligned_token_loss(kept_logits, labels[:, positions + 1], weights[:, positions + 1], focal_gamma)


def stream_loss(
    logits: torch.Tensor,
    input_ids: torch.Tensor,
    kinds: torch.Tensor,
    n_silent: torch.Tensor,
    variant: LossVariant = "balanced",
    hard_weight: float | None = None,
    focal_gamma: float = 0.0,
) -> LossOutput:
    """The loss of ``variant`` for a padded batch: ``supervision`` then ``weighted_token_loss``."""
    mask, weights = supervision(kinds, n_silent, variant, hard_weight)
    return weighted_token_loss(logits, labels_from(input_ids, mask), weights, focal_gamma)
