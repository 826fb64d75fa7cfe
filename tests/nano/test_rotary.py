"""aura-nano's rotary embedding: its hand-written backward is the textbook formula's."""

from __future__ import annotations

import torch

from aura.models.nano.model import apply_rope, rope_tables


def _textbook(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return x * cos + torch.cat([-x[..., half:], x[..., :half]], dim=-1) * sin


def test_rotary_matches_the_textbook_formula_and_its_gradient() -> None:
    gen = torch.Generator().manual_seed(0)
    cos, sin = rope_tables(8, torch.arange(3, 8), 10000.0)
    qkv = torch.randn(2, 5, 3, 4, 8, generator=gen, dtype=torch.float64, requires_grad=True)
    q = qkv.permute(2, 0, 3, 1, 4)[0]  # a strided view, as the blocks pass it
    cos, sin = cos.double(), sin.double()
    ours, ref = apply_rope(q, cos, sin), _textbook(q, cos, sin)
    assert torch.allclose(ours, ref, atol=1e-12)
    assert not torch.allclose(ours, q)  # positions 3..7 do rotate
    grad = torch.randn(ours.shape, generator=gen, dtype=torch.float64)
    g_ours, = torch.autograd.grad(ours, qkv, grad)
    g_ref, = torch.autograd.grad(ref, qkv, grad)
    assert torch.allclose(g_ours, g_ref, atol=1e-12)
    assert torch.autograd.gradcheck(lambda t: apply_rope(t, cos, sin), (q.detach().clone().requires_grad_(),))


def test_rotary_broadcasts_per_row_tables_and_keeps_the_norm() -> None:
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(3, 2, 4, 6, generator=gen)
    cos, sin = rope_tables(6, torch.tensor([0, 5, 9, 2, 7, 1, 4, 8, 3, 6, 11, 10]), 100.0)
    cos, sin = cos.view(3, 1, 4, 6), sin.view(3, 1, 4, 6)  # each row its own positions (decision layers)
    with torch.no_grad():
        out = apply_rope(x, cos, sin)
    assert torch.allclose(out, _textbook(x, cos, sin), atol=1e-6)
    assert torch.allclose(out.norm(dim=-1), x.norm(dim=-1), atol=1e-5)  # a rotation
