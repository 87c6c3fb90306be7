"""Unit tests for module 12: scaled dot-product attention, MultiHeadAttention and KVCache."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from tinytorch.core.attention import (
    Attention,
    AttentionSoftmax,
    KVCache,
    MultiHeadAttention,
    masked_softmax,
    scaled_dot_product_attention,
)
from tinytorch.core.autograd import gradcheck, no_grad
from tinytorch.core.errors import GraphError, ShapeError
from tinytorch.core.tensor import Tensor


def _reference_attention(q: np.ndarray, k: np.ndarray, v: np.ndarray,
                         mask: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Plain float64 NumPy attention; rows with no attended key are defined as zero."""
    scores = q.astype(np.float64) @ np.swapaxes(k, -1, -2) / math.sqrt(q.shape[-1])
    allowed = np.ones(scores.shape, dtype=bool) if mask is None else \
        np.broadcast_to(mask != 0, scores.shape)
    scores = np.where(allowed, scores, -np.inf)
    peak = np.max(np.where(allowed, scores, -1e300), axis=-1, keepdims=True)
    e = np.where(allowed, np.exp(scores - peak), 0.0)
    total = e.sum(-1, keepdims=True)
    weights = np.divide(e, total, out=np.zeros_like(e), where=total > 0)
    return weights @ v, weights


def test_attention_matches_reference_without_mask(rng: np.random.Generator) -> None:
    q, k, v = (rng.normal(size=(2, 3, 5, 4)).astype(np.float32) for _ in range(3))
    out, weights = scaled_dot_product_attention(Tensor(q), Tensor(k), Tensor(v))
    ref_out, ref_w = _reference_attention(q, k, v, None)
    np.testing.assert_allclose(out.data, ref_out, atol=1e-5)
    np.testing.assert_allclose(weights.data, ref_w, atol=1e-6)
    np.testing.assert_allclose(weights.data.sum(-1), 1.0, atol=1e-6)


@pytest.mark.parametrize("as_bool", [False, True])
def test_mask_one_attends_zero_blocks(rng: np.random.Generator, as_bool: bool) -> None:
    q, k, v = (rng.normal(size=(2, 4, 3)).astype(np.float32) for _ in range(3))
    mask = np.tril(np.ones((4, 4), dtype=np.float32))
    mask_in = mask.astype(bool) if as_bool else Tensor(mask)
    out, weights = scaled_dot_product_attention(q, k, v, mask=mask_in)
    assert np.all(weights.data[:, mask == 0] == 0.0)            # blocked keys get no weight
    assert weights.data[0, 0].tolist() == [1.0, 0.0, 0.0, 0.0]  # first query sees only key 0
    ref_out, ref_w = _reference_attention(q, k, v, mask)
    np.testing.assert_allclose(out.data, ref_out, atol=1e-5)


def test_fully_blocked_row_gives_zero_output_and_no_nan(rng: np.random.Generator) -> None:
    q = Tensor(rng.normal(size=(1, 3, 4)), requires_grad=True)
    k = Tensor(rng.normal(size=(1, 3, 4)), requires_grad=True)
    v = Tensor(rng.normal(size=(1, 3, 4)), requires_grad=True)
    mask = np.array([[1, 1, 0], [0, 0, 0], [1, 1, 1]])          # query 1 may attend nothing
    out, weights = scaled_dot_product_attention(q, k, v, mask=mask)
    assert weights.data[0, 1].tolist() == [0.0, 0.0, 0.0]
    assert out.data[0, 1].tolist() == [0.0, 0.0, 0.0, 0.0]
    assert np.isfinite(out.data).all()
    out.sum().backward()
    assert np.isfinite(q.grad.data).all() and np.isfinite(k.grad.data).all()
    assert q.grad.data[0, 1].tolist() == [0.0] * 4               # nothing flows from that row


def test_softmax_rows_far_below_their_matrix_max_stay_exact() -> None:
    # rows far below the others must not underflow: each row is shifted by its own max
    rng = np.random.default_rng(4)
    z = rng.standard_normal((2, 4, 6)).astype(np.float32)
    z[0, 1] -= 150.0
    z[1, 2:] -= 400.0
    mask = np.ones((2, 4, 6), dtype=bool)
    mask[1, 3, :] = False                                    # and an all-blocked row
    expected = np.exp(z - z.max(-1, keepdims=True))
    expected /= expected.sum(-1, keepdims=True)
    expected[1, 3] = 0.0
    np.testing.assert_allclose(masked_softmax(z.copy(), mask), expected, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(masked_softmax(z[0, 1].copy(), None), expected[0, 1], rtol=1e-6)


def test_attention_softmax_gradient_is_exact_with_mask() -> None:
    scores = Tensor(np.random.default_rng(3).normal(size=(2, 3, 4)), requires_grad=True)
    mask = np.array([[1, 0, 1, 1], [0, 0, 0, 0], [1, 1, 1, 0]], dtype=bool)
    assert gradcheck(lambda s: AttentionSoftmax.apply(s, scale=0.7, mask=mask), [scores])


def test_attention_gradients_match_numerical(rng: np.random.Generator) -> None:
    q, k, v = (Tensor(rng.normal(size=(2, 3, 2)), requires_grad=True) for _ in range(3))
    mask = np.tril(np.ones((3, 3)))
    assert gradcheck(lambda a, b, c: scaled_dot_product_attention(a, b, c, mask)[0], [q, k, v])


def test_mask_that_does_not_broadcast_raises_shape_error() -> None:
    x = Tensor(np.ones((2, 4, 3)))
    with pytest.raises(ShapeError, match=r"mask of shape \(3, 3\)"):
        scaled_dot_product_attention(x, x, x, mask=np.ones((3, 3)))


def test_mismatched_qkv_raise_shape_error() -> None:
    with pytest.raises(ShapeError, match="K and V"):
        scaled_dot_product_attention(np.ones((2, 4)), np.ones((3, 4)), np.ones((2, 4)))


def test_weights_depend_on_the_keys(rng: np.random.Generator) -> None:
    q = rng.normal(size=(1, 2, 4)).astype(np.float32)
    k = rng.normal(size=(1, 3, 4)).astype(np.float32)
    v = rng.normal(size=(1, 3, 4)).astype(np.float32)
    _, w1 = scaled_dot_product_attention(q, k, v)
    _, w2 = scaled_dot_product_attention(q, k[:, ::-1], v)
    np.testing.assert_allclose(w2.data, w1.data[..., ::-1], atol=1e-6)   # permuting keys
    assert not np.allclose(w1.data, 1.0 / 3.0)                          # not uniform


# --- MultiHeadAttention --------------------------------------------------------------------


def _mha_reference(mha: MultiHeadAttention, x: np.ndarray, kv: np.ndarray,
                   mask: np.ndarray | None) -> np.ndarray:
    """Per-head loop in NumPy, the slow obvious way, from the layer's own weights."""
    h, d = mha.num_heads, mha.head_dim
    q, k, v = (src @ proj.weight.data + proj.bias.data for src, proj in
               ((x, mha.q_proj), (kv, mha.k_proj), (kv, mha.v_proj)))
    heads = []
    for i in range(h):
        cols = slice(i * d, (i + 1) * d)
        heads.append(_reference_attention(q[..., cols], k[..., cols], v[..., cols], mask)[0])
    merged = np.concatenate(heads, axis=-1)
    return merged @ mha.out_proj.weight.data + mha.out_proj.bias.data


def test_mha_matches_per_head_reference(rng: np.random.Generator) -> None:
    mha = MultiHeadAttention(8, 2)
    x = rng.normal(size=(3, 5, 8)).astype(np.float32)
    mask = np.tril(np.ones((5, 5)))
    np.testing.assert_allclose(mha(Tensor(x), mask=mask).data,
                               _mha_reference(mha, x, x, mask), atol=1e-5)


def test_mha_cross_attention_uses_kv_input(rng: np.random.Generator) -> None:
    mha = MultiHeadAttention(8, 4)
    x = rng.normal(size=(2, 3, 8)).astype(np.float32)
    memory = rng.normal(size=(2, 6, 8)).astype(np.float32)
    out = mha(Tensor(x), kv=Tensor(memory))
    assert out.shape == (2, 3, 8)
    np.testing.assert_allclose(out.data, _mha_reference(mha, x, memory, None), atol=1e-5)


def test_mha_batched_mask_has_a_head_axis_inserted(rng: np.random.Generator) -> None:
    mha = MultiHeadAttention(4, 2)
    x = rng.normal(size=(2, 3, 4)).astype(np.float32)
    mask = np.stack([np.tril(np.ones((3, 3))), np.ones((3, 3))])        # (B, T, T)
    out = mha(Tensor(x), mask=mask).data
    np.testing.assert_allclose(out[0], _mha_reference(mha, x[:1], x[:1], mask[0])[0], atol=1e-5)
    np.testing.assert_allclose(out[1], _mha_reference(mha, x[1:], x[1:], None)[0], atol=1e-5)


def test_mha_unbatched_input_keeps_its_shape(rng: np.random.Generator) -> None:
    mha = MultiHeadAttention(6, 3)
    x = rng.normal(size=(4, 6)).astype(np.float32)
    out = mha(Tensor(x))
    assert out.shape == (4, 6)
    np.testing.assert_allclose(out.data, mha(Tensor(x[None])).data[0], atol=1e-6)


def test_mha_projections_are_named_like_upstream_and_all_parameters_learn(
        rng: np.random.Generator) -> None:
    mha = MultiHeadAttention(8, 2)
    names = [name for name, _ in mha.named_parameters()]
    assert names == [f"{proj}_proj.{kind}" for proj in ("q", "k", "v", "out")
                     for kind in ("weight", "bias")]
    assert len(mha.parameters()) == 8 and mha.num_parameters() == 4 * (8 * 8 + 8)
    assert list(mha.state_dict()) == names
    assert mha.q_proj.weight.shape == (8, 8)
    mha(Tensor(rng.normal(size=(2, 3, 8)))).sum().backward()
    for name, p in mha.named_parameters():
        assert p.grad is not None and np.abs(p.grad.data).sum() > 0, name


def test_setting_q_proj_weight_changes_the_queries(rng: np.random.Generator) -> None:
    mha = MultiHeadAttention(8, 2)
    x = Tensor(rng.normal(size=(1, 4, 8)))
    before = mha(x).data.copy()
    mha.q_proj.weight.data[...] = 0.0               # all queries equal: uniform weights
    uniform = mha(x)
    assert not np.allclose(before, uniform.data)
    np.testing.assert_allclose(mha.attention_weights.data, 0.25, atol=1e-6)


def test_mha_rejects_indivisible_heads_and_wrong_width() -> None:
    with pytest.raises(ValueError, match="num_heads=3"):
        MultiHeadAttention(8, 3)
    with pytest.raises(ShapeError, match=r"got x of shape \(2, 3, 5\)"):
        MultiHeadAttention(8, 2)(Tensor(np.ones((2, 3, 5))))


def test_mha_dropout_only_in_training(rng: np.random.Generator) -> None:
    mha = MultiHeadAttention(8, 2, dropout=0.5)
    x = Tensor(rng.normal(size=(2, 6, 8)))
    train_a, train_b = mha(x).data, mha(x).data
    assert not np.allclose(train_a, train_b)                 # a fresh dropout mask each call
    mha.eval()
    np.testing.assert_array_equal(mha(x).data, mha(x).data)
    assert np.allclose(mha.attention_weights.data.sum(-1), 1.0, atol=1e-6)


# --- KVCache -------------------------------------------------------------------------------


def test_kv_cache_update_get_advance_reset() -> None:
    cache = KVCache(batch_size=2, max_seq_len=5, num_layers=2, num_heads=3, head_dim=4)
    assert cache.seq_len == 0 and cache.seq_pos == 0
    k0 = np.full((2, 3, 2, 4), 1.0, dtype=np.float32)
    v0 = np.full((2, 3, 2, 4), 2.0, dtype=np.float32)
    cache.update(0, k0, v0)
    keys, values = cache.get(0)
    assert keys.shape == (2, 3, 2, 4) and float(values.data.mean()) == 2.0
    assert cache.get(1)[0].shape == (2, 3, 0, 4)              # layer 1 not written yet
    cache.update(1, Tensor(k0 * 3), Tensor(v0 * 3))
    cache.advance(2)
    assert cache.seq_len == 2
    step = np.full((2, 3, 1, 4), 7.0, dtype=np.float32)
    cache.update(0, step, step)
    keys, _ = cache.get(0)
    assert keys.shape == (2, 3, 3, 4)
    assert keys.data[0, 0, :, 0].tolist() == [1.0, 1.0, 7.0]  # old positions kept, new appended
    assert cache.get(1)[0].shape == (2, 3, 2, 4)
    cache.reset()
    assert cache.seq_len == 0 and cache.get(0)[0].shape == (2, 3, 0, 4)


def test_kv_cache_memory_is_real_bytes() -> None:
    cache = KVCache(batch_size=2, max_seq_len=16, num_layers=3, num_heads=4, head_dim=8)
    usage = cache.get_memory_usage()
    expected = 2 * (3 * 2 * 4 * 16 * 8) * 4                  # keys + values, float32
    assert usage["total_bytes"] == expected == cache.keys.nbytes + cache.values.nbytes
    assert usage["total_mb"] == pytest.approx(expected / 2**20)
    assert usage["per_layer_bytes"] == expected // 3
    assert usage["used_bytes"] == 0
    assert cache.keys.dtype == np.float32
    cache.advance(4)
    assert cache.get_memory_usage()["used_bytes"] == expected // 4


def test_kv_cache_overflow_is_a_clear_error() -> None:
    cache = KVCache(1, 3, 1, 1, 2)
    cache.update(0, np.ones((1, 1, 3, 2)), np.ones((1, 1, 3, 2)))
    cache.advance(3)
    with pytest.raises(ShapeError, match="holds 3 of 3 positions"):
        cache.update(0, np.ones((1, 1, 1, 2)), np.ones((1, 1, 1, 2)))
    with pytest.raises(ShapeError, match="reset"):
        cache.advance(1)


def test_kv_cache_rejects_bad_shapes_layers_and_sizes() -> None:
    cache = KVCache(1, 4, 2, 2, 3)
    with pytest.raises(ShapeError, match="num_heads, n_new, head_dim"):
        cache.update(0, np.ones((1, 3, 1, 3)), np.ones((1, 3, 1, 3)))
    with pytest.raises(IndexError, match="no layer 2"):
        cache.get(2)
    with pytest.raises(ValueError, match="positive integer"):
        KVCache(0, 4, 1, 1, 1)


def test_mha_with_cache_equals_full_attention(rng: np.random.Generator) -> None:
    mha = MultiHeadAttention(8, 2)
    mha.eval()
    x = rng.normal(size=(2, 6, 8)).astype(np.float32)
    causal = np.tril(np.ones((6, 6)))
    full = mha(Tensor(x), mask=causal).data
    cache = KVCache(2, 6, num_layers=1, num_heads=2, head_dim=4)
    with no_grad():
        first = mha(Tensor(x[:, :4]), mask=causal[:4, :4], cache=cache).data   # prefill 4
        cache.advance(4)
        steps = []
        for t in (4, 5):                                                      # then one by one
            steps.append(mha(Tensor(x[:, t:t + 1]), cache=cache).data)
            cache.advance(1)
    np.testing.assert_allclose(first, full[:, :4], atol=1e-5)
    np.testing.assert_allclose(np.concatenate(steps, axis=1), full[:, 4:], atol=1e-5)


def test_mha_refuses_cache_while_recording_gradients() -> None:
    mha = MultiHeadAttention(4, 2)
    with pytest.raises(GraphError, match="no_grad"):
        mha(Tensor(np.ones((1, 1, 4))), cache=KVCache(1, 4, 1, 2, 2))


@pytest.mark.parametrize("with_extras", [False, True])
def test_fused_attention_op_passes_gradcheck(rng: np.random.Generator, with_extras: bool) -> None:
    q, k, v = (Tensor(rng.normal(size=(2, 3, n, 4)), requires_grad=True) for n in (3, 5, 5))
    extras: dict[str, Any] = {}
    if with_extras:                              # a blocked row, an additive bias and dropout
        mask = rng.random((3, 5)) > 0.3
        mask[1] = False
        extras = {"mask": mask, "bias": rng.normal(size=(3, 5)),
                  "keep": (rng.random((2, 3, 3, 5)) > 0.2) * 1.25}
    assert gradcheck(lambda a, b, c: Attention.apply(a, b, c, scale=0.6, **extras), [q, k, v])


def test_functional_sdpa_dropout_uses_the_global_generator_and_rescales(
        rng: np.random.Generator) -> None:
    from tinytorch.core.rng import get_rng, manual_seed
    from tinytorch.nn import functional

    q, k, v = (rng.normal(size=(2, 3, 4)).astype(np.float32) for _ in range(3))
    manual_seed(5)
    out = functional.scaled_dot_product_attention(q, k, v, dropout_p=0.4)
    manual_seed(5)
    keep = (get_rng().random((2, 3, 3), dtype=np.float32) >= 0.4) / np.float32(0.6)
    weights = _reference_attention(q, k, v, None)[1]
    np.testing.assert_allclose(out.data, (weights * keep) @ v, atol=1e-6)
    with pytest.raises(ValueError, match="both attn_mask and is_causal"):
        functional.scaled_dot_product_attention(q, k, v, attn_mask=np.ones((3, 3), bool),
                                                is_causal=True)
