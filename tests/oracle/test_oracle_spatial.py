"""Convolution, pooling and batch norm against ``torch.nn.functional`` and ``torch.nn``.

Every case compares the forward values and the gradients of every input (x, weight, bias)
under a random upstream gradient. The float64 ``gradcheck`` cases at the end check the same
backward formulas against central differences, without torch.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from oracle_helpers import assert_matches_torch, import_torch

from tinytorch.core.autograd import gradcheck
from tinytorch.core.spatial import (
    BatchNorm1d,
    BatchNorm2d,
    avg_pool2d,
    batch_norm,
    conv2d,
    max_pool2d,
)
from tinytorch.core.tensor import Tensor

torch = import_torch()
F = torch.nn.functional

# Sums of up to ~100 float32 products: allow for the accumulation order differing from torch's.
CONV_TOL = {"atol": 1e-4, "rtol": 1e-4}

# (id, x shape (N, C, H, W), out_channels, kernel, stride, padding, dilation, groups, bias)
CONV_CASES: list[tuple[Any, ...]] = [
    ("basic_3x3", (2, 3, 7, 6), 4, 3, 1, 0, 1, 1, True),
    ("pad1", (2, 3, 7, 6), 4, 3, 1, 1, 1, 1, True),
    ("pad2_no_bias", (2, 3, 7, 6), 4, 3, 1, 2, 1, 1, False),
    ("stride2_pad1", (2, 3, 9, 8), 5, 3, 2, 1, 1, 1, True),
    ("stride3", (2, 2, 11, 10), 3, 3, 3, 0, 1, 1, True),
    ("stride3_pad2", (1, 2, 10, 11), 3, 3, 3, 2, 1, 1, False),
    ("stride_beyond_kernel", (2, 2, 10, 9), 3, 2, 3, 0, 1, 1, True),  # pixels no window reads
    ("rect_kernel", (2, 3, 8, 9), 4, (2, 4), 1, 1, 1, 1, True),
    ("rect_all", (2, 3, 9, 10), 4, (3, 2), (2, 1), (1, 0), 1, 1, True),
    ("dilation2", (2, 3, 9, 9), 4, 3, 1, 2, 2, 1, True),
    ("dilation2_stride2", (2, 3, 11, 10), 2, 3, 2, 1, 2, 1, False),
    ("same_odd", (2, 3, 6, 7), 4, 3, 1, "same", 1, 1, True),
    ("same_even_kernel", (2, 2, 6, 7), 3, 4, 1, "same", 1, 1, True),
    ("same_dilated", (1, 2, 8, 8), 3, 3, 1, "same", 2, 1, True),
    ("valid", (2, 3, 6, 6), 2, 3, 1, "valid", 1, 1, True),
    ("groups2", (2, 4, 7, 7), 6, 3, 1, 1, 1, 2, True),
    ("depthwise", (2, 4, 7, 7), 4, 3, 1, 1, 1, 4, True),
    ("depthwise_multiplier", (2, 3, 6, 6), 6, 3, 2, 1, 1, 3, False),
    ("pointwise_1x1", (3, 5, 4, 4), 2, 1, 1, 0, 1, 1, True),
    ("kernel_equals_input", (2, 2, 3, 3), 3, 3, 1, 0, 1, 1, True),
]


@pytest.mark.parametrize("case", CONV_CASES, ids=[c[0] for c in CONV_CASES])
@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")  # torch's own note
def test_conv2d_matches_torch(case: tuple[Any, ...]) -> None:
    _, x_shape, out_ch, kernel, stride, padding, dilation, groups, bias = case
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    shapes = [x_shape, (out_ch, x_shape[1] // groups, kh, kw)] + ([(out_ch,)] if bias else [])

    def ours(x: Tensor, w: Tensor, b: Tensor | None = None) -> Tensor:
        return conv2d(x, w, b, stride, padding, dilation, groups)

    def theirs(x: Any, w: Any, b: Any = None) -> Any:
        return F.conv2d(x, w, b, stride, padding, dilation, groups)

    assert_matches_torch(ours, shapes, torch_fn=theirs, **CONV_TOL)


def test_conv2d_float64_matches_torch_tightly() -> None:
    assert_matches_torch(lambda x, w, b: conv2d(x, w, b, 2, 1), [(2, 3, 7, 6), (4, 3, 3, 3), (4,)],
                         torch_fn=lambda x, w, b: F.conv2d(x, w, b, 2, 1), dtype=np.float64)


def test_conv2d_on_channel_major_input_matches_torch() -> None:
    # Our conv returns a transposed view; feeding such a layout back in must not change values.
    x = np.random.default_rng(3).normal(size=(4, 2, 6, 6)).astype(np.float32)
    channel_major = np.ascontiguousarray(x.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3)
    assert_matches_torch(lambda a, w: conv2d(a, w, padding=1), inputs=[
        channel_major, np.random.default_rng(4).normal(size=(3, 2, 3, 3)).astype(np.float32)],
        torch_fn=lambda a, w: F.conv2d(a, w, padding=1), **CONV_TOL)


def test_conv2d_module_matches_torch_module() -> None:
    from tinytorch.core.spatial import Conv2d

    ours = Conv2d(3, 5, (3, 2), stride=(2, 1), padding=1, dilation=(1, 2))
    theirs = torch.nn.Conv2d(3, 5, (3, 2), stride=(2, 1), padding=1, dilation=(1, 2))
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(ours.weight.data))
        theirs.bias.copy_(torch.tensor(np.linspace(-1, 1, 5, dtype=np.float32)))
    ours.bias.data[...] = theirs.bias.detach().numpy()
    x = np.random.default_rng(0).normal(size=(2, 3, 9, 8)).astype(np.float32)
    out, expected = ours(Tensor(x)), theirs(torch.tensor(x))
    assert out.shape == tuple(expected.shape) == (2, 5, 5, 8)
    upstream = np.random.default_rng(1).normal(size=out.shape).astype(np.float32)
    np.testing.assert_allclose(out.data, expected.detach().numpy(), **CONV_TOL)
    out.backward(upstream)
    expected.backward(torch.tensor(upstream))
    np.testing.assert_allclose(ours.weight.grad.data, theirs.weight.grad.numpy(), **CONV_TOL)
    np.testing.assert_allclose(ours.bias.grad.data, theirs.bias.grad.numpy(), **CONV_TOL)


# (id, x shape, kernel, stride, padding)
POOL_CASES: list[tuple[Any, ...]] = [
    ("k2", (2, 3, 8, 8), 2, None, 0),
    ("k2_odd_input", (2, 3, 9, 7), 2, None, 0),
    ("k3_s2_overlapping", (2, 2, 9, 9), 3, 2, 0),
    ("k3_s1_pad1", (2, 2, 6, 7), 3, 1, 1),
    ("k2_s1_overlapping", (1, 3, 5, 6), 2, 1, 0),
    ("k3_s3_pad1", (2, 2, 8, 10), 3, 3, 1),
    ("rect", (2, 2, 9, 8), (3, 2), (2, 1), (1, 0)),
    ("stride_beyond_kernel", (2, 2, 9, 9), 2, 3, 0),
    ("k1", (1, 2, 4, 4), 1, 1, 0),
]


@pytest.mark.parametrize("case", POOL_CASES, ids=[c[0] for c in POOL_CASES])
def test_max_pool2d_matches_torch(case: tuple[Any, ...]) -> None:
    _, shape, kernel, stride, padding = case
    assert_matches_torch(lambda x: max_pool2d(x, kernel, stride, padding), [shape],
                         torch_fn=lambda x: F.max_pool2d(x, kernel, stride, padding))


@pytest.mark.parametrize("case", POOL_CASES, ids=[c[0] for c in POOL_CASES])
def test_max_pool2d_ties_route_to_first_maximum_like_torch(case: tuple[Any, ...]) -> None:
    # Values from {-1, 0, 1}: most windows hold several equal maxima (like ReLU zeros do).
    _, shape, kernel, stride, padding = case
    x = np.random.default_rng(7).integers(-1, 2, size=shape).astype(np.float32)
    assert_matches_torch(lambda t: max_pool2d(t, kernel, stride, padding), inputs=[x],
                         torch_fn=lambda t: F.max_pool2d(t, kernel, stride, padding))


def test_max_pool2d_tie_across_rows_picks_row_major_first() -> None:
    # Window [[1, 5], [5, 0]]: torch routes to (0, 1), the first 5 in row-major order.
    x = np.array([[[[1.0, 5.0], [5.0, 0.0]]]], dtype=np.float32)
    assert_matches_torch(lambda t: max_pool2d(t, 2), inputs=[x],
                         torch_fn=lambda t: F.max_pool2d(t, 2))


@pytest.mark.parametrize("case", POOL_CASES, ids=[c[0] for c in POOL_CASES])
def test_avg_pool2d_matches_torch(case: tuple[Any, ...]) -> None:
    _, shape, kernel, stride, padding = case
    assert_matches_torch(lambda x: avg_pool2d(x, kernel, stride, padding), [shape],
                         torch_fn=lambda x: F.avg_pool2d(x, kernel, stride, padding))


def test_cnn_block_matches_torch() -> None:
    """conv -> relu -> maxpool -> conv -> avgpool: layouts handed between ops stay correct."""

    def ours(x: Tensor, w1: Tensor, w2: Tensor) -> Tensor:
        h = max_pool2d(conv2d(x, w1, padding=1).relu(), 2)
        return avg_pool2d(conv2d(h, w2, padding=1), 2)

    def theirs(x: Any, w1: Any, w2: Any) -> Any:
        h = F.max_pool2d(F.relu(F.conv2d(x, w1, padding=1)), 2)
        return F.avg_pool2d(F.conv2d(h, w2, padding=1), 2)

    assert_matches_torch(ours, [(3, 2, 8, 8), (4, 2, 3, 3), (5, 4, 3, 3)], torch_fn=theirs,
                         **CONV_TOL)


# --- Batch normalization -------------------------------------------------------------------------


def _copy_affine(ours: Any, theirs: Any, rng: np.random.Generator) -> None:
    c = ours.num_features
    ours.weight.data[...] = rng.uniform(0.5, 1.5, c).astype(np.float32)
    ours.bias.data[...] = rng.uniform(-0.5, 0.5, c).astype(np.float32)
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(ours.weight.data))
        theirs.bias.copy_(torch.tensor(ours.bias.data))


def _both_step_alike(ours: Any, theirs: Any, x: np.ndarray, upstream: np.ndarray) -> None:
    """One forward and backward of both norms on ``x``: outputs and all gradients agree."""
    x_ours, x_theirs = Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, expected = ours(x_ours), theirs(x_theirs)
    np.testing.assert_allclose(out.data, expected.detach().numpy(), atol=1e-5, rtol=1e-4)
    out.backward(upstream)
    expected.backward(torch.tensor(upstream))
    np.testing.assert_allclose(x_ours.grad.data, x_theirs.grad.numpy(), atol=1e-5, rtol=1e-4)
    for name in ("weight", "bias"):
        np.testing.assert_allclose(getattr(ours, name).grad.data,
                                   getattr(theirs, name).grad.numpy(), atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("kind, shape", [(BatchNorm2d, (4, 3, 5, 6)), (BatchNorm1d, (8, 3)),
                                         (BatchNorm1d, (4, 3, 7))],
                         ids=["2d", "1d_NC", "1d_NCL"])
def test_batch_norm_training_steps_then_eval_match_torch(kind: type, shape: tuple[int, ...]
                                                         ) -> None:
    rng = np.random.default_rng(0)
    ours = kind(3, momentum=0.2)
    theirs = getattr(torch.nn, kind.__name__)(3, momentum=0.2)
    _copy_affine(ours, theirs, rng)
    for step in range(3):
        x = rng.normal(loc=step, scale=2.0, size=shape).astype(np.float32)
        upstream = rng.normal(size=shape).astype(np.float32)
        ours.zero_grad()
        theirs.zero_grad()
        _both_step_alike(ours, theirs, x, upstream)
        np.testing.assert_allclose(ours.running_mean.data, theirs.running_mean.numpy(),
                                   atol=1e-5, rtol=1e-5)
        np.testing.assert_allclose(ours.running_var.data, theirs.running_var.numpy(),
                                   atol=1e-5, rtol=1e-5)
    assert int(ours.num_batches_tracked.data) == int(theirs.num_batches_tracked) == 3
    ours.eval()
    theirs.eval()
    x = rng.normal(size=shape).astype(np.float32)
    upstream = rng.normal(size=shape).astype(np.float32)
    _both_step_alike(ours, theirs, x, upstream)


def test_batch_norm_cumulative_average_matches_torch() -> None:
    rng = np.random.default_rng(1)
    ours, theirs = BatchNorm2d(2, momentum=None), torch.nn.BatchNorm2d(2, momentum=None)
    for _ in range(4):
        x = rng.normal(size=(3, 2, 4, 4)).astype(np.float32) * 3 + 1
        ours(Tensor(x))
        theirs(torch.tensor(x))
    np.testing.assert_allclose(ours.running_mean.data, theirs.running_mean.numpy(), atol=1e-5)
    np.testing.assert_allclose(ours.running_var.data, theirs.running_var.numpy(), atol=1e-5)


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_functional_batch_norm_matches_torch(training: bool) -> None:
    rng = np.random.default_rng(2)
    mean = rng.normal(size=4).astype(np.float32)
    var = rng.uniform(0.5, 2.0, 4).astype(np.float32)
    ours_stats = [mean.copy(), var.copy()]
    theirs_stats = [torch.tensor(mean), torch.tensor(var)]

    def ours(x: Tensor, w: Tensor, b: Tensor) -> Tensor:
        return batch_norm(x, *ours_stats, w, b, training=training, momentum=0.3)

    def theirs(x: Any, w: Any, b: Any) -> Any:
        return F.batch_norm(x, *theirs_stats, w, b, training=training, momentum=0.3)

    assert_matches_torch(ours, [(5, 4, 3, 2), (4,), (4,)], torch_fn=theirs, atol=1e-4)
    for mine, other in zip(ours_stats, theirs_stats, strict=True):
        np.testing.assert_allclose(mine, other.numpy(), atol=1e-6, rtol=1e-5)


# --- float64 central differences -----------------------------------------------------------------


def _spread(shape: tuple[int, ...], seed: int) -> Tensor:
    """Distinct values at least 0.1 apart, so no max-pool window sits on a tie."""
    values = np.random.default_rng(seed).permutation(int(np.prod(shape))) * 0.1 - 1.0
    return Tensor(values.reshape(shape), requires_grad=True, dtype=np.float64)


def _randn(shape: tuple[int, ...], seed: int) -> Tensor:
    rng = np.random.default_rng(seed)
    return Tensor(rng.normal(size=shape), requires_grad=True, dtype=np.float64)


@pytest.mark.parametrize("stride, padding, dilation, groups", [
    (1, 1, 1, 1), (2, 1, 1, 1), (1, 2, 2, 1), (2, 0, 1, 2), (1, "same", 1, 4)])
def test_conv2d_gradcheck(stride: int, padding: Any, dilation: int, groups: int) -> None:
    x, w, b = _randn((2, 4, 5, 5), 0), _randn((4, 4 // groups, 3, 2), 1), _randn((4,), 2)
    assert gradcheck(lambda x, w, b: conv2d(x, w, b, stride, padding, dilation, groups),
                     [x, w, b])


@pytest.mark.parametrize("kernel, stride, padding", [(2, None, 0), (3, 2, 1), (3, 1, 1)])
def test_pools_gradcheck(kernel: int, stride: int | None, padding: int) -> None:
    x = _spread((2, 2, 6, 5), 3)
    assert gradcheck(lambda t: max_pool2d(t, kernel, stride, padding), [x])
    assert gradcheck(lambda t: avg_pool2d(t, kernel, stride, padding), [x])


@pytest.mark.parametrize("shape", [(4, 3, 2, 3), (5, 3), (3, 3, 4)])
def test_batch_norm_training_gradcheck(shape: tuple[int, ...]) -> None:
    x, w, b = _randn(shape, 4), _randn((3,), 5), _randn((3,), 6)
    assert gradcheck(lambda x, w, b: batch_norm(x, None, None, w, b, training=True), [x, w, b])
