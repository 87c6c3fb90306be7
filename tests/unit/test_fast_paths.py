"""The speed paths compute exactly what the plain paths compute (bit for bit, not approximately).

Cache blocking (``ops.blocked``) must not change a single bit: each test runs a kernel with tiny
blocks and with one block holding everything and compares the arrays with ``array_equal``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest

from tinytorch.core import buffers, transformer
from tinytorch.core.ops import blocked
from tinytorch.core.spatial import Conv2d
from tinytorch.core.tensor import Tensor
from tinytorch.core.transformer import LayerNorm
from tinytorch.nn import functional


def _forward_backward(make: Callable[[Tensor], Tensor], x: np.ndarray,
                      params: Callable[[], list[Tensor]]) -> list[np.ndarray]:
    t = Tensor(x, requires_grad=True)
    y = make(t)
    weights = np.random.default_rng(7).standard_normal(y.shape).astype(np.float32)
    (y * Tensor(weights)).sum().backward()
    return [y.data, t.grad.data] + [p.grad.data for p in params()]


# (160, 130) is above LayerNorm's SMALL_ELEMENTS, so its blocked path is among them
BLOCKING_SHAPES = [(3, 5, 7), (64, 130), (160, 130), (1, 1)]


def test_the_blocking_shapes_reach_both_layer_norm_paths() -> None:
    sizes = [math.prod(shape) for shape in BLOCKING_SHAPES]
    assert min(sizes) <= transformer.SMALL_ELEMENTS < max(sizes)


@pytest.mark.parametrize("shape", BLOCKING_SHAPES)
def test_blocked_gelu_and_layer_norm_are_bit_identical_to_one_block(
        shape: tuple[int, ...], monkeypatch: pytest.MonkeyPatch) -> None:
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32) * 3 + 1
    norm = LayerNorm(shape[-1])
    norm.weight.data[...] = np.linspace(0.5, 1.5, shape[-1])
    cases = [
        (lambda t: functional.gelu(t, approximate="tanh"), list),
        (norm, lambda: [norm.weight, norm.bias]),
    ]
    for make, params in cases:
        results = {}
        for block in (5, 1 << 30):
            monkeypatch.setattr(blocked, "BLOCK_ELEMENTS", block)
            norm.zero_grad()
            results[block] = _forward_backward(make, x, params)
        assert len(blocked.row_blocks(x.size, 1)) == 1
        for small, whole in zip(results[5], results[1 << 30], strict=True):
            assert np.array_equal(small, whole)


def _sliced_graph(x: Tensor, basic: bool) -> Tensor:
    """h used whole, three ways sliced (like q, k, v) and twice more; basic or integer-array
    indexing select the same elements, so only the gradient path differs."""
    h = x * 1.5
    h.retain_grad()
    cols = [slice(0, 2), slice(2, 4), slice(4, 6)] if basic else \
        [np.arange(0, 2), np.arange(2, 4), np.arange(4, 6)]
    q, k, v = (h[:, c] for c in cols)
    mixed = (q * k + v).sum() + (h * h).sum() + h[:, cols[0]].sum() + (h + h).sum()
    x.zero_grad()
    mixed.backward()
    return h


def test_slice_gradients_accumulated_in_place_equal_the_dense_path() -> None:
    x = Tensor(np.random.default_rng(3).standard_normal((4, 6)), requires_grad=True)
    h_basic = _sliced_graph(x, basic=True)
    basic_grads = (x.grad.data.copy(), h_basic.grad.data.copy())
    h_dense = _sliced_graph(x, basic=False)
    np.testing.assert_array_equal(basic_grads[0], x.grad.data)
    np.testing.assert_array_equal(basic_grads[1], h_dense.grad.data)
    h = x.data * 1.5                                   # and both equal the formula
    expected = np.concatenate([h[:, 2:4], h[:, 0:2], np.ones((4, 2))], axis=1) + 2 * h + 2
    expected[:, 0:2] += 1
    np.testing.assert_allclose(h_basic.grad.data, expected, rtol=1e-6)


def test_in_place_accumulation_never_touches_an_array_an_op_returned() -> None:
    # Add's backward hands the same array to both parents; the engine must not add into it.
    x = Tensor(np.ones(3), requires_grad=True)
    a = x * 2.0
    b = a + a                       # a receives the same gradient array twice
    c = a[0:2].sum() + b.sum() + a.sum()
    c.backward()
    np.testing.assert_array_equal(x.grad.data, [2 * (1 + 2 + 1), 2 * (1 + 2 + 1), 2 * (2 + 1)])


# --- Transposing copies through BLAS (buffers.transposing_copy) ---------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_transposing_copy_gives_the_plain_copy_s_values(dtype: type) -> None:
    source = np.random.default_rng(1).standard_normal((32, 4096)).astype(dtype).T  # (4096, 32)
    assert source.size >= buffers.BLAS_COPY_MIN_ELEMENTS
    out = buffers.transposing_copy(np.empty(source.shape, dtype), source)
    assert np.array_equal(out, source) and out.flags.c_contiguous


def test_transposing_copy_keeps_infs_and_nans_where_they_were() -> None:
    source = np.random.default_rng(2).standard_normal((32, 4096)).astype(np.float32)
    source[3, 7], source[5, 100], source[0, 0] = np.nan, np.inf, -np.inf
    out = buffers.transposing_copy(np.empty((4096, 32), np.float32), source.T)
    np.testing.assert_array_equal(out, source.T)      # a NaN must not spread along its row
    assert np.isnan(out).sum() == 1 and np.isinf(out).sum() == 2


def test_batch_innermost_stores_the_batch_axis_last() -> None:
    x = np.random.default_rng(3).standard_normal((32, 16, 16, 16)).astype(np.float32)
    moved = buffers.batch_innermost(x)
    assert moved.shape == x.shape and buffers.layout_of(moved) == (1, 2, 3, 0)
    assert np.array_equal(moved, x)


def test_convolution_with_a_user_s_nchw_gradient_matches_the_plain_copies(
        monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(4)
    x_np = rng.standard_normal((32, 8, 16, 16)).astype(np.float32)   # 65,536 elements, NCHW
    grad = rng.standard_normal((32, 8, 16, 16)).astype(np.float32)
    conv = Conv2d(8, 8, 3, padding=1)
    transposed: list[int] = []
    real_copy = buffers.transposing_copy

    def spy(target: np.ndarray, source: np.ndarray) -> np.ndarray:
        transposed.append(source.size)
        return real_copy(target, source)

    monkeypatch.setattr(buffers, "transposing_copy", spy)
    results = {}
    for threshold in (buffers.BLAS_COPY_MIN_ELEMENTS, 1 << 40):     # BLAS copies, then none
        monkeypatch.setattr(buffers, "BLAS_COPY_MIN_ELEMENTS", threshold)
        x = Tensor(x_np, requires_grad=True)
        conv.zero_grad()
        y = conv(x)
        y.backward(grad)
        results[threshold] = [y.data.copy(), x.grad.data.copy(), conv.weight.grad.data.copy()]
    assert transposed[:2] == [x_np.size, grad.size]     # the input's padding, then the gradient
    for fast, plain in zip(*results.values(), strict=True):
        assert np.array_equal(fast, plain)


def test_blas_transposes_only_short_rows_of_large_float_arrays() -> None:
    f32, big = np.dtype(np.float32), buffers.BLAS_COPY_MIN_ELEMENTS
    assert buffers.blas_transposes(f32, 32, big)
    assert not buffers.blas_transposes(f32, buffers.BLAS_COPY_MAX_AXIS + 1, big)  # long rows
    assert not buffers.blas_transposes(f32, 32, big - 1)                          # too small
    assert not buffers.blas_transposes(np.dtype(np.float16), 32, big)             # no BLAS
