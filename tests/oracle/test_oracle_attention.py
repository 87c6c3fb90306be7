"""Attention against PyTorch: scaled_dot_product_attention and nn.MultiheadAttention.

Our mask convention (1/True = attend) is the one torch's boolean ``attn_mask`` of
``F.scaled_dot_product_attention`` uses; ``nn.MultiheadAttention`` uses the opposite
(True = blocked), so its mask is inverted on the torch side.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from oracle_helpers import assert_matches_torch, import_torch, to_numpy

from tinytorch.core.attention import MultiHeadAttention, scaled_dot_product_attention
from tinytorch.core.tensor import Tensor

torch = import_torch()
F = torch.nn.functional

pytestmark = pytest.mark.oracle


def _causal(t_q: int, t_k: int) -> np.ndarray:
    return np.tril(np.ones((t_q, t_k), dtype=bool), k=t_k - t_q)


def _random_mask(shape: tuple[int, ...], seed: int) -> np.ndarray:
    mask = np.random.default_rng(seed).random(shape) < 0.6
    mask[..., 0] = True              # every query may attend somewhere (torch gives NaN if not)
    return mask


CASES = {
    "no_mask_3d": ((2, 5, 4), (2, 5, 4), (2, 5, 4), None),
    "no_mask_heads": ((2, 3, 6, 8), (2, 3, 6, 8), (2, 3, 6, 8), None),
    "causal_heads": ((2, 4, 7, 8), (2, 4, 7, 8), (2, 4, 7, 8), _causal(7, 7)),
    "cross_lengths_dv": ((3, 2, 4, 5), (3, 2, 9, 5), (3, 2, 9, 6), _causal(4, 9)),
    "per_batch_mask": ((2, 3, 5, 4), (2, 3, 5, 4), (2, 3, 5, 4), _random_mask((2, 1, 5, 5), 1)),
    "per_head_mask": ((2, 3, 5, 4), (2, 3, 5, 4), (2, 3, 5, 4), _random_mask((2, 3, 5, 5), 2)),
}


SDPA_RUNS = [(case, False) for case in CASES] + [
    (case, True) for case, (*_, mask) in CASES.items() if mask is not None]  # 0/1 float masks


@pytest.mark.parametrize(("case", "float_mask"), SDPA_RUNS,
                         ids=[f"{c}{'_float_mask' if f else ''}" for c, f in SDPA_RUNS])
def test_attention_output_matches_torch_sdpa(case: str, float_mask: bool) -> None:
    q_shape, k_shape, v_shape, mask = CASES[case]
    ours_mask = None if mask is None else (mask.astype(np.float32) if float_mask else mask)
    torch_mask = None if mask is None else torch.from_numpy(mask)
    assert_matches_torch(
        lambda q, k, v: scaled_dot_product_attention(q, k, v, mask=ours_mask)[0],
        [q_shape, k_shape, v_shape],
        torch_fn=lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=torch_mask),
        atol=2e-5, rtol=2e-4,
    )


@pytest.mark.parametrize("case", ["no_mask_heads", "causal_heads", "per_head_mask"], ids=str)
def test_attention_weights_match_torch_softmax(case: str) -> None:
    q_shape, k_shape, v_shape, mask = CASES[case]

    def torch_weights(q: Any, k: Any, v: Any) -> Any:
        scores = q @ k.transpose(-2, -1) / q.shape[-1] ** 0.5
        if mask is not None:
            scores = scores.masked_fill(~torch.from_numpy(mask), float("-inf"))
        return scores.softmax(-1)

    assert_matches_torch(
        lambda q, k, v: scaled_dot_product_attention(q, k, v, mask=mask)[1],
        [q_shape, k_shape, v_shape], torch_fn=torch_weights, atol=2e-5, rtol=2e-4,
    )


def test_attention_in_float64_matches_torch_tightly() -> None:
    mask = _causal(6, 6)
    assert_matches_torch(
        lambda q, k, v: scaled_dot_product_attention(q, k, v, mask=mask)[0],
        [(2, 2, 6, 4)] * 3, dtype=np.float64,
        torch_fn=lambda q, k, v: F.scaled_dot_product_attention(
            q, k, v, attn_mask=torch.from_numpy(mask)),
    )


# --- MultiHeadAttention against torch.nn.MultiheadAttention --------------------------------


def _torch_mha(ours: MultiHeadAttention) -> Any:
    """torch's layer with our weights (torch stores Linear weights as (out, in))."""
    theirs = torch.nn.MultiheadAttention(ours.embed_dim, ours.num_heads, batch_first=True)
    w_qkv, b_qkv = _packed_in_proj(ours)
    with torch.no_grad():
        theirs.in_proj_weight.copy_(torch.from_numpy(w_qkv.T.copy()))
        theirs.in_proj_bias.copy_(torch.from_numpy(b_qkv))
        theirs.out_proj.weight.copy_(torch.from_numpy(ours.out_proj.weight.data.T.copy()))
        theirs.out_proj.bias.copy_(torch.from_numpy(ours.out_proj.bias.data))
    return theirs


def _packed_in_proj(ours: MultiHeadAttention) -> tuple[np.ndarray, np.ndarray]:
    """Our q/k/v projections side by side, (E, 3E) and (3E,): torch's packed in_proj layout."""
    projections = (ours.q_proj, ours.k_proj, ours.v_proj)
    return (np.concatenate([p.weight.data for p in projections], axis=1),
            np.concatenate([p.bias.data for p in projections]))


def _randomize(module: MultiHeadAttention, seed: int) -> None:
    rng = np.random.default_rng(seed)
    for p in module.parameters():
        p.data[...] = rng.normal(0.0, 0.3, size=p.shape)


PARAM_PAIRS = [  # (our parameter path, torch parameter name, transpose?, rows of torch's)
    *((f"{name}_proj.weight", "in_proj_weight", True, i) for i, name in enumerate("qkv")),
    *((f"{name}_proj.bias", "in_proj_bias", False, i) for i, name in enumerate("qkv")),
    ("out_proj.weight", "out_proj.weight", True, None),
    ("out_proj.bias", "out_proj.bias", False, None),
]


@pytest.mark.parametrize(("embed_dim", "num_heads", "mask_kind", "cross"), [
    (8, 1, None, False),
    (12, 3, "causal", False),
    (16, 4, "random", False),
    (16, 8, None, True),
    (8, 2, "causal", True),
])
def test_multi_head_attention_matches_torch(embed_dim: int, num_heads: int,
                                            mask_kind: str | None, cross: bool) -> None:
    rng = np.random.default_rng(7)
    batch, t_q = 3, 5
    t_k = 7 if cross else t_q
    ours = MultiHeadAttention(embed_dim, num_heads)
    _randomize(ours, 8)
    theirs = _torch_mha(ours)
    x = rng.normal(size=(batch, t_q, embed_dim)).astype(np.float32)
    kv = rng.normal(size=(batch, t_k, embed_dim)).astype(np.float32) if cross else x
    mask = {None: None, "causal": _causal(t_q, t_k),
            "random": _random_mask((t_q, t_k), 9)}[mask_kind]

    x_ours, kv_ours = Tensor(x, requires_grad=True), Tensor(kv, requires_grad=True)
    out = ours(x_ours, mask=mask, kv=kv_ours if cross else None)
    x_t = torch.tensor(x, requires_grad=True)
    kv_t = torch.tensor(kv, requires_grad=True) if cross else x_t
    blocked = None if mask is None else torch.from_numpy(~mask)      # torch: True = blocked
    expected, _ = theirs(x_t, kv_t, kv_t, attn_mask=blocked, need_weights=False)
    np.testing.assert_allclose(out.data, to_numpy(expected), atol=2e-5, rtol=2e-4)

    upstream = rng.uniform(0.5, 1.5, size=out.shape).astype(np.float32)
    out.backward(upstream)
    expected.backward(torch.from_numpy(upstream))
    np.testing.assert_allclose(x_ours.grad.data, to_numpy(x_t.grad), atol=2e-5, rtol=2e-4)
    if cross:
        np.testing.assert_allclose(kv_ours.grad.data, to_numpy(kv_t.grad), atol=2e-5, rtol=2e-4)
    ours_params = dict(ours.named_parameters())
    theirs_params = dict(theirs.named_parameters())
    for our_name, their_name, transpose, part in PARAM_PAIRS:
        grad = ours_params[our_name].grad.data
        expected_grad = to_numpy(theirs_params[their_name].grad)
        if part is not None:                     # torch packs q, k, v along its first axis
            expected_grad = expected_grad[part * embed_dim:(part + 1) * embed_dim]
        np.testing.assert_allclose(grad.T if transpose else grad, expected_grad,
                                   atol=5e-5, rtol=2e-4, err_msg=our_name)


def test_multi_head_attention_matches_a_torch_reimplementation_with_batch_mask() -> None:
    """Per-sequence (B, T, T) masks, which nn.MultiheadAttention would need per head."""
    rng = np.random.default_rng(3)
    ours = MultiHeadAttention(8, 2)
    _randomize(ours, 4)
    x = rng.normal(size=(2, 6, 8)).astype(np.float32)
    mask = _random_mask((2, 6, 6), 5)
    w_qkv, b_qkv = (torch.from_numpy(a) for a in _packed_in_proj(ours))
    w_o = torch.from_numpy(ours.out_proj.weight.data)
    b_o = torch.from_numpy(ours.out_proj.bias.data)

    def torch_forward(xt: Any) -> Any:
        b, t, e = xt.shape
        q, k, v = (xt @ w_qkv + b_qkv).view(b, t, 3, 2, e // 2).permute(2, 0, 3, 1, 4)
        heads = F.scaled_dot_product_attention(q, k, v,
                                               attn_mask=torch.from_numpy(mask)[:, None])
        return heads.transpose(1, 2).reshape(b, t, e) @ w_o + b_o

    assert_matches_torch(lambda xt: ours(xt, mask=mask), inputs=[x], torch_fn=torch_forward,
                         atol=2e-5, rtol=2e-4)


# --- the functional face: tinytorch.nn.functional.scaled_dot_product_attention -------------


def _additive(mask: np.ndarray) -> np.ndarray:
    """A float mask in PyTorch's sense: 0 where attended, a large negative number elsewhere."""
    return np.where(mask, 0.0, -1e4).astype(np.float32) + np.float32(0.25)


FUNCTIONAL_RUNS = {  # name: (case, keyword arguments for both sides, built from the case mask)
    "plain": ("no_mask_heads", lambda m: {}),
    "causal_square": ("causal_heads", lambda m: {"is_causal": True}),
    "causal_rectangular": ("cross_lengths_dv", lambda m: {"is_causal": True}),
    "bool_mask": ("per_head_mask", lambda m: {"attn_mask": m}),
    "float_mask": ("per_batch_mask", lambda m: {"attn_mask": _additive(m)}),
    "scale": ("causal_heads", lambda m: {"attn_mask": m, "scale": 0.3}),
}


@pytest.mark.parametrize("name", list(FUNCTIONAL_RUNS))
def test_functional_sdpa_matches_torch_with_its_arguments(name: str) -> None:
    from tinytorch.nn import functional as ours_f

    case, make_kwargs = FUNCTIONAL_RUNS[name]
    q_shape, k_shape, v_shape, mask = CASES[case]
    kwargs = make_kwargs(mask)
    theirs = {k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v
              for k, v in kwargs.items()}
    assert_matches_torch(
        lambda q, k, v: ours_f.scaled_dot_product_attention(q, k, v, **kwargs),
        [q_shape, k_shape, v_shape],
        torch_fn=lambda q, k, v: F.scaled_dot_product_attention(q, k, v, **theirs),
        atol=2e-5, rtol=2e-4,
    )
