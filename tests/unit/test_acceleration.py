"""Module 17 (acceleration): each accelerated op equals its baseline, in values and gradients."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from tinytorch.core.activations import GELU
from tinytorch.core.autograd import gradcheck
from tinytorch.core.errors import ConfigError, ShapeError
from tinytorch.core.spatial import Conv2d
from tinytorch.core.tensor import Tensor
from tinytorch.perf import acceleration
from tinytorch.perf.acceleration import (
    Accelerator,
    col2im,
    fused_gelu,
    gelu_memory,
    im2col,
    im2col_conv2d,
    tiled_matmul,
    unfused_gelu,
    vectorized_matmul,
)

ATOL = 1e-4


def _grads(fn: Any, *arrays: np.ndarray, upstream: np.ndarray) -> list[np.ndarray]:
    tensors = [Tensor(a, requires_grad=True) for a in arrays]
    fn(*tensors).backward(upstream)
    return [t.grad.data for t in tensors]


# --- matrix products -----------------------------------------------------------------------------


def test_vectorized_matmul_equals_numpy_and_is_differentiable(rng: np.random.Generator) -> None:
    a, b = rng.standard_normal((2, 3, 4)), rng.standard_normal((4, 5))
    np.testing.assert_allclose(vectorized_matmul(a, b).data, np.matmul(a, b), rtol=1e-5,
                               atol=1e-5)
    ta = Tensor(a, requires_grad=True)
    vectorized_matmul(ta, b).sum().backward()
    np.testing.assert_allclose(ta.grad.data, np.broadcast_to(b.sum(1), (2, 3, 4)), rtol=1e-5)


@pytest.mark.parametrize("shapes", [((3,), (3, 2)), ((2, 3), (4, 2)), ((2, 3), (2,))])
def test_matmuls_reject_vectors_and_mismatched_inner_sizes(shapes: tuple[Any, Any]) -> None:
    a, b = (np.ones(s) for s in shapes)
    for fn in (vectorized_matmul, tiled_matmul):
        with pytest.raises(ShapeError, match="inner sizes"):
            fn(a, b)


@pytest.mark.parametrize("shape_a, shape_b, tile", [
    ((37, 53), (53, 29), 16),           # nothing is a multiple of the tile
    ((5, 7), (7, 3), 1),                # every block is a single number
    ((5, 7), (7, 3), 64),               # one partial tile in every direction
    ((64, 64), (64, 64), 32),           # exact multiples
    ((2, 1, 9, 11), (3, 11, 6), 4),     # batched, broadcast leading axes
    ((9, 11), (4, 11, 6), 5),           # a plain matrix against a batch
])
def test_tiled_matmul_equals_numpy_values_and_gradients(rng: np.random.Generator, shape_a: Any,
                                                       shape_b: Any, tile: int) -> None:
    a = rng.standard_normal(shape_a, dtype=np.float32)
    b = rng.standard_normal(shape_b, dtype=np.float32)
    out = tiled_matmul(a, b, tile_size=tile)
    np.testing.assert_allclose(out.data, np.matmul(a, b), rtol=1e-5, atol=ATOL)
    g = rng.standard_normal(out.shape, dtype=np.float32)
    tiled = _grads(lambda x, y: tiled_matmul(x, y, tile), a, b, upstream=g)
    plain = _grads(lambda x, y: x @ y, a, b, upstream=g)
    for mine, reference in zip(tiled, plain, strict=True):
        assert mine.shape == reference.shape
        np.testing.assert_allclose(mine, reference, rtol=1e-5, atol=ATOL)


class _CountingArray(np.ndarray):
    """An ndarray that counts the matrix products it takes part in."""

    products = 0

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        if ufunc is np.matmul:
            _CountingArray.products += 1
        plain = [np.asarray(x) if isinstance(x, _CountingArray) else x for x in inputs]
        return getattr(ufunc, method)(*plain, **kwargs)


def test_tiled_matmul_really_multiplies_one_block_triple_at_a_time() -> None:
    a = np.ones((10, 7), dtype=np.float32).view(_CountingArray)
    b = np.ones((7, 9), dtype=np.float32).view(_CountingArray)
    _CountingArray.products = 0
    out = acceleration._blocked(a, b, 4)
    # ceil(10/4) row tiles * ceil(9/4) column tiles * ceil(7/4) inner tiles
    assert _CountingArray.products == 3 * 3 * 2
    np.testing.assert_array_equal(np.asarray(out), np.full((10, 9), 7.0))


@pytest.mark.parametrize("tile", [0, -3, 2.5, True, "64"])
def test_tiled_matmul_rejects_a_bad_tile_size(tile: Any) -> None:
    with pytest.raises(ConfigError, match="tile_size"):
        tiled_matmul(np.ones((2, 2)), np.ones((2, 2)), tile_size=tile)


# --- GELU ----------------------------------------------------------------------------------------


def _gelu_float64(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float64)
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))


def test_fused_and_unfused_gelu_equal_the_formula_and_the_core_gelu(
        rng: np.random.Generator) -> None:
    x = rng.uniform(-6, 6, size=(8, 33)).astype(np.float32)
    expected = _gelu_float64(x)
    for gelu in (fused_gelu, unfused_gelu, GELU()):
        out = gelu(Tensor(x))
        assert out.dtype == np.float32
        np.testing.assert_allclose(out.data, expected, rtol=1e-5, atol=1e-6)


def test_fused_and_unfused_gelu_have_the_same_gradient(rng: np.random.Generator) -> None:
    x = rng.uniform(-4, 4, size=(5, 7)).astype(np.float32)
    g = rng.standard_normal(x.shape, dtype=np.float32)
    (fused,) = _grads(fused_gelu, x, upstream=g)
    (unfused,) = _grads(unfused_gelu, x, upstream=g)
    np.testing.assert_allclose(fused, unfused, rtol=1e-5, atol=1e-6)
    assert gradcheck(fused_gelu, [Tensor(x[:2, :3], requires_grad=True)])


def test_fused_gelu_keeps_fewer_bytes_for_backward_measured() -> None:
    x = Tensor(np.linspace(-3, 3, 100_000, dtype=np.float32), requires_grad=True)
    report = gelu_memory(x)
    one_array = x.data.nbytes
    assert report["fused_saved_bytes"] <= one_array            # the tanh; x exists anyway
    assert report["unfused_saved_bytes"] >= 5 * one_array
    assert report["fused_held_bytes"] < report["unfused_held_bytes"] / 2


# --- im2col / col2im -----------------------------------------------------------------------------


def test_im2col_rows_are_windows_and_columns_follow_the_filter_layout() -> None:
    two_channels = np.stack([np.arange(9.0), 100 + np.arange(9.0)]).reshape(1, 2, 3, 3)
    cols = im2col(two_channels, 2)
    assert cols.shape == (4, 8)
    assert cols.data[0].tolist() == [0, 1, 3, 4, 100, 101, 103, 104]
    corner = im2col(np.ones((1, 1, 3, 3)), 3, padding=1).data[0]
    assert corner.tolist() == [0, 0, 0, 0, 1, 1, 0, 1, 1]
    assert im2col(np.ones((2, 3, 8, 8)), 3, stride=2, padding=1).shape == (2 * 4 * 4, 27)


def test_col2im_is_the_adjoint_of_im2col(rng: np.random.Generator) -> None:
    for stride, padding in ((1, 0), (1, 1), (2, 1), (3, 0)):
        x = rng.standard_normal((2, 3, 7, 6))
        cols = im2col(x, 3, stride, padding).data
        c = rng.standard_normal(cols.shape)
        back = col2im(c, x.shape, 3, stride, padding).data
        assert back.shape == x.shape
        assert np.isclose(np.sum(cols * c), np.sum(x * back), rtol=1e-4)


def test_im2col_and_col2im_gradients_pass_gradcheck(rng: np.random.Generator) -> None:
    x = Tensor(rng.standard_normal((1, 2, 4, 5)), requires_grad=True)
    assert gradcheck(lambda t: im2col(t, 2, stride=1, padding=1), [x])
    cols = Tensor(rng.standard_normal((6, 8)), requires_grad=True)
    assert gradcheck(lambda t: col2im(t, (1, 2, 3, 4), 2), [cols])


def test_col2im_rejects_patches_from_another_geometry() -> None:
    with pytest.raises(ShapeError, match="same input shape"):
        col2im(np.ones((4, 4)), (1, 1, 3, 3), 3)


@pytest.mark.parametrize("stride, padding, bias", [(1, 1, True), (2, 0, False), (2, 1, True)])
def test_im2col_conv2d_equals_conv2d_values_and_gradients(rng: np.random.Generator, stride: int,
                                                          padding: int, bias: bool) -> None:
    conv = Conv2d(3, 4, 3, stride=stride, padding=padding, bias=bias)
    x = rng.standard_normal((2, 3, 8, 7), dtype=np.float32)
    reference = conv(Tensor(x))
    g = rng.standard_normal(reference.shape, dtype=np.float32)
    params = [conv.weight] + ([conv.bias] if bias else [])

    def run(fn: Any) -> list[np.ndarray]:
        for p in params:
            p.grad = None
        tx = Tensor(x, requires_grad=True)
        out = fn(tx)
        out.backward(g)
        return [out.data, tx.grad.data] + [p.grad.data for p in params]

    ours = run(lambda t: im2col_conv2d(t, conv.weight, conv.bias, stride, padding))
    for mine, theirs in zip(ours, run(conv), strict=True):
        np.testing.assert_allclose(mine, theirs, rtol=1e-4, atol=ATOL)


def test_im2col_conv2d_rejects_mismatched_channels() -> None:
    with pytest.raises(ShapeError, match="channels"):
        im2col_conv2d(np.ones((1, 2, 5, 5)), np.ones((4, 3, 3, 3)))


# --- the Accelerator face -----------------------------------------------------------------------


def test_accelerator_dispatches_to_the_module_functions(rng: np.random.Generator) -> None:
    acc = Accelerator(tile_size=3)
    a, b = rng.standard_normal((5, 4)), rng.standard_normal((4, 2))
    np.testing.assert_allclose(acc.matmul(a, b, tiled=True).data, a @ b, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(acc.matmul(a, b).data, a @ b, rtol=1e-5, atol=1e-5)
    x = Tensor(rng.standard_normal((3, 3)))
    np.testing.assert_allclose(acc.gelu(x).data, acc.gelu(x, fused=False).data, atol=1e-6)
    report = acc.compare(lambda: tiled_matmul(a, b, 2), lambda: a @ b, repeats=2)
    assert report["max_abs_diff"] < 1e-5 and report["speedup"] > 0
