"""Spatial layers (module 09): convolution, pooling and batch normalization, with full gradients.

Every layer takes NCHW batches and is vectorized: the only Python loops run over the kh*kw
offsets of a kernel window, never over batch items, channels or pixels.

How the convolution is computed (im2col + one GEMM):
    ``im2col`` copies, for each kernel offset (i, j), the input pixels that offset sees into one
    row block of a matrix ``cols`` of shape (C*kh*kw, N*Ho*Wo). The convolution is then a single
    matrix product ``W (O, C*kh*kw) @ cols``. Backward is two more products: the weight gradient
    ``g @ cols.T`` and the column gradient ``W.T @ g``, which ``col2im`` adds back onto the input
    pixels, again one strided add per kernel offset.

Memory layout (why the outputs are transposed views):
    Shapes are always NCHW, but the arrays this module creates keep the batch axis innermost in
    memory ("CHWN"): the GEMM writes (O, Ho, Wo, N) and the layer returns its NCHW transposed
    view. Then every window copy, add and comparison above runs over long contiguous rows of
    Wo * N numbers instead of rows of Wo, which NumPy executes several times faster. Element-wise
    ops keep the layout; ``reshape``/``flatten`` copy when needed. Values are exactly those of a
    contiguous NCHW result. Large temporaries and outputs come from ``tinytorch.core.buffers``,
    which reuses them from step to step and creates them in the layout asked for.

Example:
    >>> from tinytorch.core.tensor import Tensor
    >>> conv = Conv2d(3, 8, kernel_size=3, padding=1)
    >>> conv(Tensor(np.ones((2, 3, 16, 16)))).shape
    (2, 8, 16, 16)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinytorch.core import init
from tinytorch.core.autograd import Function, Node, is_grad_enabled
from tinytorch.core.buffers import batch_innermost, buffer_pool, copy_into, in_layout, layout_of
from tinytorch.core.errors import DTypeError, ShapeError, explain
from tinytorch.core.layers import Module
from tinytorch.core.tensor import Parameter, Tensor
from tinytorch.core.tensor_methods import promote_floats
from tinytorch.core.windows import (
    CHWN,
    Array,
    Geometry,
    IntPair,
    as_pair,
    col2im,
    conv_pads,
    fold,
    im2col,
    max_along,
    pad,
    pool_geometry,
    spread_along,
    sum_along,
    unfold,
    window_geometry,
)

# --- Tensors and arrays --------------------------------------------------------------------------


def _as_array(value: Any) -> Array:
    """The array behind a Tensor, or ``value`` as an array (the same object if it is one)."""
    return value.data if isinstance(value, Tensor) else np.asarray(value)


# --- Convolution ---------------------------------------------------------------------------------


class Convolution2d(Function):
    """out = cross-correlation of x with weight (+ bias), as im2col and one (grouped) GEMM.

    Shapes:
        x: (N, C, H, W), weight: (O, C / groups, kh, kw), bias: (O,) -> out: (N, O, Ho, Wo)
    """

    op_name = "Conv2d"  # its grad_fn is Conv2dBackward, the name PyTorch users know

    @staticmethod
    def forward(ctx: Node, x: Array, weight: Array, bias: Array | None = None, *,
                geom: Geometry, groups: int = 1) -> Array:
        n, o, (ho, wo) = x.shape[0], weight.shape[0], geom.out_hw
        cols = unfold(pad(x, geom, layout=CHWN), geom)
        cols = cols.reshape(groups, -1, ho * wo * n)                      # (G, K, M)
        w = weight.reshape(groups, o // groups, -1)                       # (G, O/G, K)
        out = buffer_pool().matrix(o, ho * wo * n, cols.dtype)
        np.matmul(w, cols, out=out.reshape(groups, o // groups, -1))       # (G, O/G, M)
        out = out.reshape(o, ho, wo, n)
        if bias is not None:
            out += bias.reshape(o, 1, 1, 1)
        ctx.save_for_backward(cols, w)
        ctx.geom, ctx.channels = geom, x.shape[1]
        return out.transpose(3, 0, 1, 2)  # the NCHW view of CHWN data

    @staticmethod
    def backward(ctx: Node, grad: Array) -> tuple[Array | None, ...]:
        cols, w = ctx.saved_tensors
        (groups, og, _), geom = w.shape, ctx.geom
        g = grad.transpose(1, 2, 3, 0)              # (O, Ho, Wo, N): free when grad is CHWN
        if not g.flags.c_contiguous or g[0].nbytes % 4096 == 0:  # see BufferPool.matrix
            # a user's NCHW grad is transposed by BLAS first, several times faster than NumPy
            target = buffer_pool().matrix(g.shape[0], g[0].size, g.dtype).reshape(g.shape)
            g = copy_into(target, batch_innermost(grad).transpose(1, 2, 3, 0))
        g = g.reshape(groups, og, -1)                                      # (G, O/G, M)
        grad_x = grad_w = grad_b = None
        if ctx.needs_input_grad[0]:
            dcols = buffer_pool().matrix(groups * cols.shape[1], cols.shape[2], cols.dtype)
            np.matmul(w.transpose(0, 2, 1), g, out=dcols.reshape(cols.shape))  # (G, K, M)
            dcols = dcols.reshape(ctx.channels, *geom.kernel, *geom.out_hw, -1)
            grad_x = fold(dcols, geom)[geom.crop()]
        if ctx.needs_input_grad[1]:
            # (cols @ g.T).T rather than g @ cols.T: the same product, but BLAS runs this
            # one markedly faster when O is small and M large (measured)
            grad_w = np.matmul(cols, g.transpose(0, 2, 1)).transpose(0, 2, 1)  # (G, O/G, K)
            grad_w = grad_w.reshape(groups * og, -1, *geom.kernel)
        if len(ctx.needs_input_grad) > 2 and ctx.needs_input_grad[2]:
            grad_b = g.sum(axis=2).reshape(-1)
        return grad_x, grad_w, grad_b


def _check_float(op: str, *tensors: Tensor | None) -> None:
    dtypes = {t.dtype for t in tensors if t is not None}
    if any(d.kind != "f" for d in dtypes):
        raise DTypeError(explain(
            what=f"{op} got tensors of dtypes {sorted(str(d) for d in dtypes)}",
            why="the input, weight and bias must be floating-point (mixed float32 and float64 "
                "are promoted to float64, as in every op)",
            fix="convert with x.float(), the dtype of the layers' parameters",
        ))


def conv2d(x: Tensor, weight: Tensor, bias: Tensor | None = None, stride: IntPair = 1,
           padding: IntPair | str = 0, dilation: IntPair = 1, groups: int = 1) -> Tensor:
    """2-D convolution (cross-correlation, as in PyTorch) of an NCHW batch.

    Args:
        x: the input batch.
        weight: the filters.
        bias: per-output-channel offsets, or None.
        stride: step between windows, an int or a (height, width) pair.
        padding: zeros added on each side: an int, a pair, 'valid' (none) or 'same'
            (output as large as the input; stride 1 only).
        dilation: spacing between kernel taps, an int or a pair.
        groups: split the channels into this many independent groups (``groups=C`` is a
            depthwise convolution).

    Shapes:
        x: (N, C, H, W), weight: (O, C / groups, kh, kw), bias: (O,) -> (N, O, Ho, Wo),
        Ho = (H + pad_top + pad_bottom - dilation * (kh - 1) - 1) // stride + 1 (same for Wo).

    Raises:
        ShapeError: x is not 4-D, its channels do not match the weight, groups does not
            divide the channels, or the kernel does not fit in the padded input.
        DTypeError: the tensors are not all of one floating dtype.
    """
    _check_weight(weight.shape)
    geom = window_geometry(x.shape, weight.shape[2:], stride, padding, dilation, "conv2d")
    _check_groups(x.shape[1], weight.shape, groups)
    _check_float("conv2d", x, weight, bias)
    x, weight, bias = promote_floats(x, weight, bias)
    if bias is None:
        return Convolution2d.apply(x, weight, geom=geom, groups=groups)
    return Convolution2d.apply(x, weight, bias, geom=geom, groups=groups)


def _check_weight(weight_shape: tuple[int, ...]) -> None:
    if len(weight_shape) != 4:
        raise ShapeError(explain(
            what=f"conv2d got a weight of shape {tuple(weight_shape)}",
            why="filters have shape (out_channels, in_channels / groups, kh, kw)",
            fix="reshape the weight to 4-D, e.g. w.reshape(out_channels, -1, kh, kw)",
        ))


def _check_groups(channels: int, weight_shape: tuple[int, ...], groups: int) -> None:
    out_channels, per_group = weight_shape[0], weight_shape[1]
    if groups < 1 or channels % groups or out_channels % groups:
        raise ShapeError(explain(
            what=f"groups={groups} does not divide in_channels={channels} and "
                 f"out_channels={out_channels}",
            why="each group convolves in_channels/groups inputs into out_channels/groups outputs",
            fix="choose groups among the common divisors of the two channel counts",
        ))
    if channels != per_group * groups:
        raise ShapeError(explain(
            what=f"conv2d got an input with {channels} channels, but the weight of shape "
                 f"{tuple(weight_shape)} with groups={groups} expects {per_group * groups}",
            why="in_channels must equal weight.shape[1] * groups",
            fix=f"build the layer with in_channels={channels}, or check the previous layer's "
                "out_channels",
        ))


# --- Pooling -------------------------------------------------------------------------------------
# Both pools reduce separably, along the width and then the height (see tinytorch.core.windows).


class MaxPooling2d(Function):
    """out = the largest value of each window; its gradient goes to the first maximum (as torch)."""

    op_name = "MaxPool2d"  # its grad_fn is MaxPool2dBackward, the name PyTorch users know

    @staticmethod
    def forward(ctx: Node, x: Array, *, geom: Geometry) -> Array:
        (kh, kw), (sh, sw), (ho, wo) = geom.kernel, geom.stride, geom.out_hw
        track = is_grad_enabled() and ctx.needs_input_grad[0]  # argmaxes only for backward
        rows, col_arg = max_along(pad(x, geom, -np.inf), 3, kw, sw, wo, track)  # (N,C,Hp,Wo)
        out, row_arg = max_along(rows, 2, kh, sh, ho, track)                    # (N,C,Ho,Wo)
        ctx.args, ctx.geom, ctx.layout = (row_arg, col_arg), geom, layout_of(x)
        return out

    @staticmethod
    def backward(ctx: Node, grad: Array) -> Array:
        (row_arg, col_arg), geom, layout = ctx.args, ctx.geom, ctx.layout
        (kh, kw), (sh, sw), (hp, wp) = geom.kernel, geom.stride, geom.padded_hw
        grad = in_layout(grad, layout)
        rows = spread_along(grad, row_arg, 2, kh, sh, hp, layout)
        return spread_along(rows, col_arg, 3, kw, sw, wp, layout)[geom.crop()]


class AvgPooling2d(Function):
    """out = the mean of each window, padding zeros included in the count (torch's default)."""

    op_name = "AvgPool2d"  # its grad_fn is AvgPool2dBackward, the name PyTorch users know

    @staticmethod
    def forward(ctx: Node, x: Array, *, geom: Geometry) -> Array:
        (kh, kw), (sh, sw), (ho, wo) = geom.kernel, geom.stride, geom.out_hw
        rows = sum_along(pad(x, geom), 3, kw, sw, wo)  # (N, C, Hp, Wo)
        out = sum_along(rows, 2, kh, sh, ho)           # (N, C, Ho, Wo)
        out *= 1.0 / (kh * kw)
        ctx.geom, ctx.layout = geom, layout_of(x)
        return out

    @staticmethod
    def backward(ctx: Node, grad: Array) -> Array:
        geom, layout = ctx.geom, ctx.layout
        (kh, kw), (sh, sw), (hp, wp) = geom.kernel, geom.stride, geom.padded_hw
        share = in_layout(grad, layout) * (1.0 / (kh * kw))
        rows = spread_along(share, None, 2, kh, sh, hp, layout)
        return spread_along(rows, None, 3, kw, sw, wp, layout)[geom.crop()]


def max_pool2d(x: Tensor, kernel_size: IntPair, stride: IntPair | None = None,
               padding: IntPair = 0) -> Tensor:
    """Largest value of each kernel window (stride defaults to the kernel size).

    Shapes:
        x: (N, C, H, W) -> (N, C, Ho, Wo), Ho = (H + 2 * padding - kh) // stride + 1.
    """
    geom = pool_geometry(x.shape, kernel_size, stride, padding, "max_pool2d")
    _check_float("max_pool2d", x)
    return MaxPooling2d.apply(x, geom=geom)


def avg_pool2d(x: Tensor, kernel_size: IntPair, stride: IntPair | None = None,
               padding: IntPair = 0) -> Tensor:
    """Mean of each kernel window, counting padded zeros (stride defaults to the kernel size).

    Shapes:
        x: (N, C, H, W) -> (N, C, Ho, Wo), Ho = (H + 2 * padding - kh) // stride + 1.
    """
    geom = pool_geometry(x.shape, kernel_size, stride, padding, "avg_pool2d")
    _check_float("avg_pool2d", x)
    return AvgPooling2d.apply(x, geom=geom)


# --- Batch normalization -------------------------------------------------------------------------


class BatchNormalization(Function):
    """Training-mode batch norm, fused: normalize by batch statistics, then scale and shift.

    Per channel c, over every other axis (M values): out = (x - mean) / sqrt(var + eps) * w + b,
    with the biased variance. When running statistics are passed they are updated in place
    with the unbiased variance, as PyTorch does.
    """

    op_name = "BatchNorm"  # its grad_fn is BatchNormBackward, the name PyTorch users know

    @staticmethod
    def forward(ctx: Node, x: Array, weight: Array, bias: Array, *, eps: float,
                momentum: float, running_mean: Array | None = None,
                running_var: Array | None = None) -> Array:
        axes = (0, *range(2, x.ndim))
        shape = (1, -1) + (1,) * (x.ndim - 2)  # per-channel values broadcast over the rest
        count = x.size // x.shape[1]
        mean = x.mean(axis=axes, keepdims=True)
        centered = x - mean
        var = np.mean(np.square(centered), axis=axes, keepdims=True)
        inv_std = 1.0 / np.sqrt(var + eps)
        x_hat = np.multiply(centered, inv_std, out=centered)
        out = x_hat * weight.reshape(shape) + bias.reshape(shape)
        if running_mean is not None and running_var is not None:
            running_mean *= 1.0 - momentum
            running_mean += momentum * mean.reshape(-1)
            running_var *= 1.0 - momentum
            running_var += (momentum * count / (count - 1)) * var.reshape(-1)
        ctx.save_for_backward(x_hat, inv_std, weight)
        ctx.axes, ctx.shape = axes, shape
        return out

    @staticmethod
    def backward(ctx: Node, grad: Array) -> tuple[Array | None, Array, Array]:
        x_hat, inv_std, weight = ctx.saved_tensors
        axes, count = ctx.axes, grad.size // grad.shape[1]
        grad_bias = grad.sum(axis=axes, keepdims=True)
        grad_weight = np.sum(grad * x_hat, axis=axes, keepdims=True)
        grad_x = None
        if ctx.needs_input_grad[0]:
            # d/dx of the normalization: remove the parts of grad along 1 and along x_hat
            scale = weight.reshape(ctx.shape) * inv_std
            grad_x = grad - grad_bias * (1.0 / count)
            grad_x -= x_hat * (grad_weight * (1.0 / count))
            grad_x *= scale
        return grad_x, grad_weight.reshape(-1), grad_bias.reshape(-1)


def _check_per_channel(x: Tensor, **values: Any) -> None:
    for name, value in values.items():
        if x.ndim < 2 or (value is not None and np.shape(_as_array(value)) != (x.shape[1],)):
            raise ShapeError(explain(
                what=f"batch_norm got input of shape {x.shape} and {name} of shape "
                     f"{None if value is None else np.shape(_as_array(value))}",
                why="statistics and affine parameters hold one value per channel (axis 1)",
                fix="pass (N, C) or (N, C, ...) input and (C,) statistics and parameters",
            ))


def batch_norm(x: Tensor, running_mean: Any, running_var: Any, weight: Tensor | None = None,
               bias: Tensor | None = None, training: bool = False, momentum: float = 0.1,
               eps: float = 1e-5) -> Tensor:
    """Normalize each channel (axis 1) to zero mean and unit variance, then scale and shift.

    In training, batch statistics are used and the running ones (when given) are updated in
    place: ``running = (1 - momentum) * running + momentum * batch`` (unbiased variance).
    Otherwise the running statistics are used.

    Shapes:
        x: (N, C) or (N, C, *spatial); running stats, weight, bias: (C,) -> out like x.
    """
    _check_float("batch_norm", x)
    _check_per_channel(x, running_mean=running_mean, running_var=running_var, weight=weight,
                       bias=bias)
    channels = x.shape[1]
    if weight is None:
        weight = Tensor._from_op(np.ones(channels, dtype=x.dtype), None)
    if bias is None:
        bias = Tensor._from_op(np.zeros(channels, dtype=x.dtype), None)
    mean_array = None if running_mean is None else _as_array(running_mean)  # updated in place
    var_array = None if running_var is None else _as_array(running_var)
    if training:
        if x.size // channels < 2:
            raise ShapeError(explain(
                what=f"batch_norm in training got input of shape {x.shape}: one value per channel",
                why="a batch variance needs more than one value per channel",
                fix="use a batch larger than 1, or call .eval() to use the running statistics",
            ))
        return BatchNormalization.apply(x, weight, bias, eps=eps, momentum=momentum,
                                        running_mean=mean_array, running_var=var_array)
    if mean_array is None or var_array is None:
        raise ShapeError(explain(
            what="batch_norm in evaluation mode got no running statistics",
            why="outside training, batch norm normalizes with the running mean and variance",
            fix="pass running_mean and running_var, or training=True",
        ))
    shape = (1, -1) + (1,) * (x.ndim - 2)
    inv_std = (1.0 / np.sqrt(var_array + eps)).astype(x.dtype)
    scale = weight * inv_std                            # (C,), differentiable in weight
    shift = bias - Tensor._from_op(mean_array.astype(x.dtype), None) * scale
    return x * scale.reshape(shape) + shift.reshape(shape)


# --- Layers --------------------------------------------------------------------------------------


class Conv2d(Module):
    """A learned 2-D convolution over NCHW batches.

    Args:
        in_channels, out_channels: channels of the input and of the output.
        kernel_size, stride, dilation: an int or a (height, width) pair.
        padding: an int, a pair, 'valid' or 'same' (stride 1).
        bias: learn a per-output-channel offset.
        groups: independent channel groups (``groups=in_channels`` is depthwise).

    Shapes:
        x: (N, in_channels, H, W) -> (N, out_channels, Ho, Wo); see ``conv2d``.

    The weight (out_channels, in_channels / groups, kh, kw) starts as He (Kaiming) normal
    with std sqrt(2 / fan_in), fan_in = in_channels / groups * kh * kw, as upstream; the
    bias starts at zero.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: IntPair,
                 stride: IntPair = 1, padding: IntPair | str = 0, bias: bool = True,
                 dilation: IntPair = 1, groups: int = 1) -> None:
        super().__init__()
        self.kernel_size = as_pair(kernel_size, "kernel_size")
        self.stride, self.dilation = as_pair(stride, "stride"), as_pair(dilation, "dilation")
        self.padding = padding if isinstance(padding, str) else as_pair(padding, "padding", 0)
        conv_pads(self.padding, self.kernel_size, self.dilation, self.stride)  # check early
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        shape = (out_channels, in_channels // max(groups, 1), *self.kernel_size)
        _check_groups(in_channels, shape, groups)
        self.weight = Parameter(init.kaiming_normal(shape, fan_in=math.prod(shape[1:])))
        self.bias = Parameter(np.zeros(out_channels, dtype=np.float32)) if bias else None

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim == 4 and x.shape[1] != self.in_channels:
            raise ShapeError(explain(
                what=f"Conv2d(in_channels={self.in_channels}) got an input with {x.shape[1]} "
                     f"channels (shape {x.shape})",
                why="axis 1 of an NCHW input holds the channels the filters were built for",
                fix=f"build the layer with in_channels={x.shape[1]}, or check the previous "
                    "layer's out_channels",
            ))
        return conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation,
                      self.groups)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}"
                + (f", dilation={self.dilation}" if self.dilation != (1, 1) else "")
                + (f", groups={self.groups}" if self.groups != 1 else "")
                + (", bias=False" if self.bias is None else ""))


class _Pool2d(Module):
    """Shared settings of the pooling layers (no parameters)."""

    def __init__(self, kernel_size: IntPair, stride: IntPair | None = None,
                 padding: IntPair = 0) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding = padding
        as_pair(kernel_size, "kernel_size")  # fail at construction, not at the first batch
        as_pair(self.stride, "stride")
        as_pair(padding, "padding", minimum=0)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxPool2d(_Pool2d):
    """Keep the largest value of each window (channels pooled independently).

    Shapes:
        x: (N, C, H, W) -> (N, C, Ho, Wo), Ho = (H + 2 * padding - kh) // stride + 1.
    """

    def forward(self, x: Tensor) -> Tensor:
        return max_pool2d(x, self.kernel_size, self.stride, self.padding)


class AvgPool2d(_Pool2d):
    """Average each window, padded zeros included in the count (channels pooled independently).

    Shapes:
        x: (N, C, H, W) -> (N, C, Ho, Wo), Ho = (H + 2 * padding - kh) // stride + 1.
    """

    def forward(self, x: Tensor) -> Tensor:
        return avg_pool2d(x, self.kernel_size, self.stride, self.padding)


class _BatchNorm(Module):
    """Batch normalization over axis 1 with learned scale (weight) and shift (bias).

    Training uses the batch's statistics and updates ``running_mean``/``running_var``
    (buffers, saved in the state dict); evaluation uses the running ones. ``momentum=None``
    makes the running statistics a cumulative average over all batches seen.
    """

    _input_ndims: tuple[int, ...] = ()
    running_mean: Tensor  # buffers, set through register_buffer
    running_var: Tensor
    num_batches_tracked: Tensor

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1
                 ) -> None:
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.weight = Parameter(np.ones(num_features, dtype=np.float32))
        self.bias = Parameter(np.zeros(num_features, dtype=np.float32))
        self.register_buffer("running_mean", Tensor(np.zeros(num_features, dtype=np.float32)))
        self.register_buffer("running_var", Tensor(np.ones(num_features, dtype=np.float32)))
        self.register_buffer("num_batches_tracked", Tensor(np.zeros((), dtype=np.int64),
                                                           dtype=np.int64))

    @property
    def gamma(self) -> Parameter:
        """Upstream's name for ``weight`` (a property, so it is not counted twice)."""
        return self.weight

    @property
    def beta(self) -> Parameter:
        """Upstream's name for ``bias``."""
        return self.bias

    def forward(self, x: Tensor) -> Tensor:
        name = type(self).__name__
        if x.ndim not in self._input_ndims or x.shape[1] != self.num_features:
            dims = " or ".join(f"{d}-D" for d in self._input_ndims)
            raise ShapeError(explain(
                what=f"{name}({self.num_features}) got input of shape {x.shape}",
                why=f"it expects {dims} input with {self.num_features} channels on axis 1",
                fix="check the previous layer's output channels, or use the BatchNorm class "
                    "that matches the input's rank",
            ))
        momentum = self.momentum
        if momentum is None:  # cumulative average: the n-th batch gets weight 1/n
            momentum = 1.0 / (int(self.num_batches_tracked.data) + 1)
        out = batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                         self.training, momentum, self.eps)
        if self.training:
            self.num_batches_tracked.data += 1
        return out

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}"


class BatchNorm2d(_BatchNorm):
    """Batch normalization of an NCHW batch: statistics per channel over (N, H, W)."""

    _input_ndims = (4,)


class BatchNorm1d(_BatchNorm):
    """Batch normalization of (N, C) or (N, C, L) input: statistics per channel."""

    _input_ndims = (2, 3)


# --- Upstream-compatible names -------------------------------------------------------------------
MultiChannelConv2D = Conv2D = Conv2d
MaxPool2D = MaxPool2d
AvgPool2D = AvgPool2d

__all__ = [
    "AvgPool2D", "AvgPool2d", "AvgPooling2d", "BatchNorm1d", "BatchNorm2d", "BatchNormalization",
    "Conv2D", "Conv2d", "Convolution2d", "MaxPool2D", "MaxPool2d", "MaxPooling2d",
    "MultiChannelConv2D", "avg_pool2d", "batch_norm", "col2im", "conv2d", "im2col", "max_pool2d",
]
