"""The Silent-Speech Balanced Loss against values computed by hand from the §5 formula."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from aura.train.loss import (
    IGNORE_INDEX,
    TokenKind,
    labels_from,
    stream_loss,
    supervision,
    weighted_token_loss,
)

N, S, E, T = TokenKind.NONE, TokenKind.SILENT, TokenKind.EARLIER, TokenKind.TARGET


def _logp(logits: torch.Tensor, t: int, token: int) -> float:
    """log p(token) from the logits row that predicts position t (row t-1), by hand."""
    row = [float(x) for x in logits[t - 1]]
    m = max(row)
    lse = m + math.log(sum(math.exp(x - m) for x in row))
    return row[token] - lse


def _example() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    # sample 0: [sys, user, S, S, user, E, E, user, S, user, T, T]  (2 silent messages)
    # sample 1: [sys, user, S, user, T, pad...]                      (1 silent message)
    kinds = torch.tensor([
        [N, N, S, S, N, E, E, N, S, N, T, T],
        [N, N, S, N, T, N, N, N, N, N, N, N],
    ])
    ids = torch.randint(0, 7, (2, 12))
    logits = torch.randn(2, 12, 7)
    n_silent = torch.tensor([2, 1])
    return logits, ids, kinds, n_silent


def test_balanced_loss_equals_hand_computed_formula() -> None:
    logits, ids, kinds, n_silent = _example()
    out = stream_loss(logits, ids, kinds, n_silent, "balanced")
    # sample 0: supervised positions 2,3 (silent, msg 1), 8 (silent, msg 2), 10,11 (target); N_silent = 2
    s0 = [(2, 0.5), (3, 0.5), (8, 0.5), (10, 1.0), (11, 1.0)]
    l0 = -sum(w * _logp(logits[0], t, int(ids[0, t])) for t, w in s0) / len(s0)
    # sample 1: position 2 (silent, N_silent = 1 -> weight 1), 4 (target)
    s1 = [(2, 1.0), (4, 1.0)]
    l1 = -sum(w * _logp(logits[1], t, int(ids[1, t])) for t, w in s1) / len(s1)
    assert out.per_sample.tolist() == pytest.approx([l0, l1], rel=1e-5)
    assert float(out.loss) == pytest.approx((l0 + l1) / 2, rel=1e-5)
    assert out.n_tokens.tolist() == [5, 2]


def test_earlier_answers_get_weight_zero() -> None:
    logits, ids, kinds, n_silent = _example()
    mask, weights = supervision(kinds, n_silent, "balanced")
    earlier = kinds == E
    assert earlier.any()
    assert not mask[earlier].any()
    assert (weights[earlier] == 0).all()
    # perturbing logits that predict earlier-answer tokens leaves the loss unchanged
    base = stream_loss(logits, ids, kinds, n_silent).loss
    bumped = logits.clone()
    bumped[0, 4:6] += 3.0 * torch.randn(2, 7)  # rows 4 and 5 predict positions 5 and 6 (the earlier answer)
    assert float(stream_loss(bumped, ids, kinds, n_silent).loss) == pytest.approx(float(base), rel=1e-6)
    # ... but the plain variant does supervise them
    assert float(stream_loss(bumped, ids, kinds, n_silent, "plain").loss) != pytest.approx(
        float(stream_loss(logits, ids, kinds, n_silent, "plain").loss), rel=1e-6
    )


@pytest.mark.parametrize("n", [1, 2, 3, 7, 40])
def test_silent_weight_follows_n_silent(n: int) -> None:
    logits, ids, kinds, _ = _example()
    n_silent = torch.tensor([n, 1])
    _mask, weights = supervision(kinds, n_silent, "balanced")
    assert torch.allclose(weights[0][kinds[0] == S], torch.full((3,), 1.0 / n))
    assert (weights[0][kinds[0] == T] == 1.0).all()
    # the silent part of the loss scales exactly as 1/N_silent
    only_silent = torch.where(kinds == T, torch.full_like(kinds, N), kinds)
    a = stream_loss(logits, ids, only_silent, torch.tensor([1, 1])).per_sample[0]
    b = stream_loss(logits, ids, only_silent, n_silent).per_sample[0]
    assert float(b) == pytest.approx(float(a) / n, rel=1e-5)


def test_normaliser_is_token_count_not_weight_sum() -> None:
    logits, ids, kinds, n_silent = _example()
    mask, weights = supervision(kinds, n_silent, "balanced")
    out = weighted_token_loss(logits, labels_from(ids, mask), weights)
    # doubling the weights doubles the loss (a weight-sum normaliser would cancel it)
    out2 = weighted_token_loss(logits, labels_from(ids, mask), weights * 2)
    assert float(out2.loss) == pytest.approx(2 * float(out.loss), rel=1e-6)


def test_variants_share_the_formula() -> None:
    logits, ids, kinds, n_silent = _example()
    masked = stream_loss(logits, ids, kinds, n_silent, "masked")
    s0 = [2, 3, 8, 10, 11]
    l0 = -sum(_logp(logits[0], t, int(ids[0, t])) for t in s0) / len(s0)
    assert float(masked.per_sample[0]) == pytest.approx(l0, rel=1e-5)
    plain = stream_loss(logits, ids, kinds, n_silent, "plain")
    p0 = [2, 3, 5, 6, 8, 10, 11]
    lp = -sum(_logp(logits[0], t, int(ids[0, t])) for t in p0) / len(p0)
    assert float(plain.per_sample[0]) == pytest.approx(lp, rel=1e-5)
    assert plain.n_tokens.tolist() == [7, 2]
    with pytest.raises(ValueError, match="unknown loss variant"):
        supervision(kinds, n_silent, "bogus")  # type: ignore[arg-type]


def test_gradients_flow_only_to_supervised_positions() -> None:
    logits, ids, kinds, n_silent = _example()
    logits.requires_grad_(True)
    stream_loss(logits, ids, kinds, n_silent).loss.backward()
    grad_rows = logits.grad.abs().sum(dim=-1) > 0  # (B, T): row t-1 predicts token t
    mask, _ = supervision(kinds, n_silent, "balanced")
    expected = torch.zeros_like(grad_rows)
    expected[:, :-1] = mask[:, 1:]
    assert torch.equal(grad_rows, expected)


def test_padding_and_empty_samples() -> None:
    logits, ids, kinds, n_silent = _example()
    kinds[1] = N  # nothing supervised in sample 1
    out = stream_loss(logits, ids, kinds, n_silent)
    assert float(out.per_sample[1]) == 0.0
    assert float(out.loss) == pytest.approx(float(out.per_sample[0]), rel=1e-6)
    assert labels_from(ids, kinds > 0)[1].eq(IGNORE_INDEX).all()


def test_sparse_logits_give_the_same_loss() -> None:
    from aura.train.loss import predicting_positions, sparse_stream_loss

    logits, ids, kinds, n_silent = _example()
    for variant in ("balanced", "masked", "plain"):
        mask, _ = supervision(kinds, n_silent, variant)
        pos = predicting_positions(mask)
        assert pos.tolist() == sorted({t - 1 for t in range(1, 12) if mask[:, t].any()})
        full = stream_loss(logits, ids, kinds, n_silent, variant)
        sparse = sparse_stream_loss(logits[:, pos], pos, ids, kinds, n_silent, variant)
        assert torch.allclose(full.per_sample, sparse.per_sample) and torch.equal(full.n_tokens, sparse.n_tokens)


def _loop_reference(logits, ids, kinds, n_silent, length) -> float:
    """The §5 formula for one unpadded sample, token by token."""
    num, den = 0.0, 0
    for t in range(1, length):
        k = int(kinds[t])
        if k in (S, T):
            w = 1.0 / max(int(n_silent), 1) if k == S else 1.0
            num += -w * _logp(logits, t, int(ids[t]))
            den += 1
    return num / den if den else 0.0


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.sampled_from([0, 1, 2, 3]), min_size=2, max_size=9), min_size=1, max_size=4),
       st.integers(0, 10_000))
def test_padded_batch_equals_per_sample_loop(rows: list[list[int]], seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    b, t = len(rows), max(len(r) for r in rows)
    kinds = torch.zeros(b, t, dtype=torch.long)
    for i, r in enumerate(rows):
        kinds[i, : len(r)] = torch.tensor(r)
    ids = torch.randint(0, 5, (b, t), generator=g)
    logits = torch.randn(b, t, 5, generator=g)
    n_silent = torch.randint(0, 4, (b,), generator=g)
    out = stream_loss(logits, ids, kinds, n_silent)
    for i, r in enumerate(rows):
        assert float(out.per_sample[i]) == pytest.approx(
            _loop_reference(logits[i], ids[i], kinds[i], n_silent[i], len(r)), rel=1e-5, abs=1e-6
        )


def test_hard_silent_turns_weigh_hard_weight_under_balanced_only() -> None:
    """A silent turn marked hard is a silent turn (counted in N_silent, supervised by every
    variant) whose tokens weigh ``hard_weight`` under ``balanced`` when one is given."""
    h = TokenKind.HARD_SILENT
    kinds = torch.tensor([[N, S, S, N, h, h, N, T, T]])
    n_silent = torch.tensor([2])
    mask, w = supervision(kinds, n_silent, "balanced")
    assert mask[0].tolist() == [False, True, True, False, True, True, False, True, True]
    assert w[0].tolist() == pytest.approx([0, 0.5, 0.5, 0, 0.5, 0.5, 0, 1, 1])
    _, w = supervision(kinds, n_silent, "balanced", hard_weight=3.0)
    assert w[0].tolist() == pytest.approx([0, 0.5, 0.5, 0, 3.0, 3.0, 0, 1, 1])
    for variant in ("masked", "plain"):
        m, w = supervision(kinds, n_silent, variant, hard_weight=3.0)
        assert m[0].tolist() == mask[0].tolist()
        assert w[0].tolist() == pytest.approx(m[0].float().tolist())
    # the loss moves with the weight: more weight on a badly predicted hard token, more loss
    torch.manual_seed(0)
    ids = torch.randint(0, 5, (1, 9))
    logits = torch.randn(1, 9, 5)
    low = stream_loss(logits, ids, kinds, n_silent, "balanced", hard_weight=0.0).loss
    high = stream_loss(logits, ids, kinds, n_silent, "balanced", hard_weight=5.0).loss
    assert float(high) > float(low)


def test_focal_exponent_weighs_each_token_by_its_miss_probability() -> None:
    """With focal_gamma g each supervised term is -w log p (1 - p)^g (the same normaliser): equal to
    the hand-computed formula, 0 is the balanced loss itself, a well-predicted token adds almost
    nothing, and the sparse path agrees."""
    from aura.train.loss import predicting_positions, sparse_stream_loss

    logits, ids, kinds, n_silent = _example()
    g = 2.0
    out = stream_loss(logits, ids, kinds, n_silent, "balanced", focal_gamma=g)

    def term(row: torch.Tensor, t: int, token: int, w: float) -> float:
        lp = _logp(row, t, token)
        return -w * lp * (1.0 - math.exp(lp)) ** g

    s0 = [(2, 0.5), (3, 0.5), (8, 0.5), (10, 1.0), (11, 1.0)]
    s1 = [(2, 1.0), (4, 1.0)]
    l0 = sum(term(logits[0], t, int(ids[0, t]), w) for t, w in s0) / len(s0)
    l1 = sum(term(logits[1], t, int(ids[1, t]), w) for t, w in s1) / len(s1)
    assert out.per_sample.tolist() == pytest.approx([l0, l1], rel=1e-5)
    plain = stream_loss(logits, ids, kinds, n_silent, "balanced")
    assert torch.allclose(stream_loss(logits, ids, kinds, n_silent, "balanced", focal_gamma=0.0).per_sample,
                          plain.per_sample)
    assert bool((out.per_sample < plain.per_sample).all())
    sure = logits.clone()
    sure[1, 3, int(ids[1, 4])] = 50.0  # the target token of sample 1 is predicted with p ~ 1
    before = stream_loss(sure, ids, kinds, n_silent, "balanced", focal_gamma=g).per_sample[1]
    alone = term(sure[1], 2, int(ids[1, 2]), 1.0) / 2
    assert float(before) == pytest.approx(alone, rel=1e-4)  # the sure token adds (almost) nothing
    mask, _ = supervision(kinds, n_silent, "balanced")
    pos = predicting_positions(mask)
    sparse = sparse_stream_loss(logits[:, pos], pos, ids, kinds, n_silent, "balanced", focal_gamma=g)
    assert torch.allclose(sparse.per_sample, out.per_sample)
    with pytest.raises(ValueError, match="focal_gamma"):
        stream_loss(logits, ids, kinds, n_silent, "balanced", focal_gamma=-1.0)
