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

import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from tinytorch.core import init
from tinytorch.core.autograd import Function, Node, is_grad_enabled
from tinytorch.core.buffers import Layout, buffer_pool, copy_into, in_layout, layout_of
from tinytorch.core.errors import DTypeError, ShapeError, explain
from tinytorch.core.layers import Module
from tinytorch.core.tensor import Parameter, Tensor

Array = np.ndarray
IntPair = int | tuple[int, int]
Pads = tuple[int, int, int, int]  # (top, bottom, left, right)
CHWN: Layout = (1, 2, 3, 0)  # the NCHW axes with the batch innermost: the layout made here


# --- Tensors and arrays --------------------------------------------------------------------------


def _as_array(value: Any) -> Array:
    """The array behind a Tensor, or ``value`` as an array (the same object if it is one)."""
    return value.data if isinstance(value, Tensor) else np.asarray(value)


# --- Window geometry -----------------------------------------------------------------------------


def _pair(value: Any, name: str, minimum: int = 1) -> tuple[int, int]:
    """An int or a pair of ints as (height, width), each at least ``minimum``."""
    pair = (value, value) if isinstance(value, (int, np.integer)) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, (int, np.integer)) and v >= minimum for v in pair):
        raise ShapeError(explain(
            what=f"{name}={value!r} is not valid",
            why=f"{name} is an int or a pair of ints (height, width), each at least {minimum}",
            fix=f"pass e.g. {name}={max(minimum, 1)} or {name}=({max(minimum, 1)}, "
                f"{max(minimum, 1)})",
        ))
    return int(pair[0]), int(pair[1])


def _conv_pads(padding: Any, kernel: tuple[int, int], dilation: tuple[int, int],
               stride: tuple[int, int]) -> Pads:
    """Resolve an int, a pair, 'valid' or 'same' into (top, bottom, left, right) padding."""
    if isinstance(padding, str):
        if padding == "valid":
            return 0, 0, 0, 0
        if padding != "same" or stride != (1, 1):
            raise ShapeError(explain(
                what=f"padding={padding!r} with stride={stride} is not supported",
                why="padding is 'valid', 'same' (stride 1 only, as in PyTorch) or an int or pair",
                fix="use padding='same' with stride=1, or give the padding in pixels",
            ))
        pads: list[int] = []
        for k, d in zip(kernel, dilation, strict=True):
            total = d * (k - 1)  # extra pixels so the output keeps the input's size
            pads += [total // 2, total - total // 2]  # odd totals put the extra one after
        return pads[0], pads[1], pads[2], pads[3]
    ph, pw = _pair(padding, "padding", minimum=0)
    return ph, ph, pw, pw


@dataclass(frozen=True)
class _Geometry:
    """Where the kernel windows of an op sit on its (padded) input."""

    kernel: tuple[int, int]
    stride: tuple[int, int]
    dilation: tuple[int, int]
    pads: Pads
    in_hw: tuple[int, int]

    @property
    def padded_hw(self) -> tuple[int, int]:
        top, bottom, left, right = self.pads
        return self.in_hw[0] + top + bottom, self.in_hw[1] + left + right

    @property
    def span(self) -> tuple[int, int]:
        """Pixels one window covers, dilation included."""
        (kh, kw), (dh, dw) = self.kernel, self.dilation
        return dh * (kh - 1) + 1, dw * (kw - 1) + 1

    @property
    def out_hw(self) -> tuple[int, int]:
        """Output size: how many window positions fit along each axis."""
        (hp, wp), (span_h, span_w), (sh, sw) = self.padded_hw, self.span, self.stride
        return (hp - span_h) // sh + 1, (wp - span_w) // sw + 1

    @property
    def overlapping(self) -> bool:
        """True when neighbouring windows share pixels (then gradients must be added up)."""
        return self.stride[0] < self.span[0] or self.stride[1] < self.span[1]

    def offsets(self) -> list[tuple[int, int, slice, slice]]:
        """For each kernel offset (i, j): the rows and columns it reads of a padded image."""
        (kh, kw), (sh, sw), (dh, dw) = self.kernel, self.stride, self.dilation
        ho, wo = self.out_hw
        return [(i, j, slice(i * dh, i * dh + sh * (ho - 1) + 1, sh),
                 slice(j * dw, j * dw + sw * (wo - 1) + 1, sw))
                for i in range(kh) for j in range(kw)]

    def crop(self) -> tuple[slice, slice, slice, slice]:
        """The index of the original pixels inside a padded NCHW batch."""
        (h, w), (top, _, left, _) = self.in_hw, self.pads
        return slice(None), slice(None), slice(top, top + h), slice(left, left + w)


def _hashable(value: Any) -> Any:
    """Lists and arrays become tuples, so that geometry arguments can key the cache."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    return tuple(_hashable(v) for v in value) if isinstance(value, (list, tuple)) else value


def _geometry(shape: tuple[int, ...], kernel_size: Any, stride: Any, padding: Any,
              dilation: Any, op: str) -> _Geometry:
    """Check an NCHW shape against a kernel and return where its windows sit."""
    return _cached_geometry(*(_hashable(v) for v in (tuple(shape), kernel_size, stride, padding,
                                                       dilation)), op)


@functools.lru_cache(maxsize=512)  # a training loop asks the same question every step
def _cached_geometry(shape: tuple[int, ...], kernel_size: Any, stride: Any, padding: Any,
                     dilation: Any, op: str) -> _Geometry:
    if len(shape) != 4:
        raise ShapeError(explain(
            what=f"{op} expects a 4-D input (N, C, H, W), got shape {tuple(shape)}",
            why="it slides a window over the two spatial axes of a batch of multi-channel images",
            fix="add a batch axis with x.unsqueeze(0) for a single (C, H, W) image, or a channel "
                "axis with x.unsqueeze(1) for (N, H, W)",
        ))
    kernel, dil = _pair(kernel_size, "kernel_size"), _pair(dilation, "dilation")
    strides = _pair(stride, "stride")
    geom = _Geometry(kernel, strides, dil, _conv_pads(padding, kernel, dil, strides),
                     (int(shape[2]), int(shape[3])))
    if any(s > p for s, p in zip(geom.span, geom.padded_hw, strict=True)):
        raise ShapeError(explain(
            what=f"{op}: the {kernel[0]}x{kernel[1]} kernel (dilation {dil}) spans "
                 f"{geom.span[0]}x{geom.span[1]} pixels, but the padded input is only "
                 f"{geom.padded_hw[0]}x{geom.padded_hw[1]} (input {shape[2]}x{shape[3]}, "
                 f"padding {geom.pads})",
            why="every output pixel needs a whole window inside the padded input",
            fix="use a smaller kernel or dilation, add padding, or feed a larger image",
        ))
    return geom


# --- im2col / col2im -----------------------------------------------------------------------------


def _pad(x: Array, geom: _Geometry, value: float = 0.0, layout: Layout | None = None) -> Array:
    """``x`` surrounded by ``value`` as ``geom.pads`` asks, stored in ``layout`` (default: x's).

    Returns ``x`` itself when there is nothing to add and its layout already fits.
    """
    layout = layout_of(x) if layout is None else layout
    if not any(geom.pads) and layout_of(x) == layout:
        return x
    (hp, wp), (top, bottom, left, right) = geom.padded_hw, geom.pads
    padded = buffer_pool().laid_out((*x.shape[:2], hp, wp), layout, x.dtype)
    padded[:, :, :top] = value  # only the border: the interior is overwritten next
    padded[:, :, hp - bottom:] = value
    padded[:, :, :, :left] = value
    padded[:, :, :, wp - right:] = value
    padded[geom.crop()] = x
    return padded


def _unfold(xp: Array, geom: _Geometry) -> Array:
    """im2col of a padded batch, its columns ordered (y, x, n), ready for the GEMM.

    Shapes:
        xp: (N, C, Hp, Wp) -> returns (C, kh, kw, Ho, Wo, N), a view of a (K, M) matrix.
    """
    (n, c), (kh, kw), (ho, wo) = xp.shape[:2], geom.kernel, geom.out_hw
    cols = buffer_pool().matrix(c * kh * kw, ho * wo * n, xp.dtype).reshape(c, kh, kw, ho, wo, n)
    image = xp.transpose(1, 2, 3, 0)  # (C, Hp, Wp, N): contiguous when xp is laid out CHWN
    for i, j, rows, columns in geom.offsets():
        cols[:, i, j] = image[:, rows, columns]
    return cols


def _fold(cols: Array, geom: _Geometry) -> Array:
    """col2im: add columns back onto the padded pixels they came from (``_unfold``'s adjoint).

    Shapes:
        cols: (C, kh, kw, Ho, Wo, N) -> returns (N, C, Hp, Wp), laid out CHWN.
    """
    c, n = cols.shape[0], cols.shape[5]
    image = buffer_pool().empty((c, *geom.padded_hw, n), cols.dtype)  # (C, Hp, Wp, N)
    image.fill(0)
    for i, j, rows, columns in geom.offsets():
        if geom.overlapping:
            image[:, rows, columns] += cols[:, i, j]
        else:  # each pixel is read by at most one window: a copy is enough
            image[:, rows, columns] = cols[:, i, j]
    return image.transpose(3, 0, 1, 2)


def im2col(x: Any, kernel_size: IntPair, stride: IntPair = 1, padding: IntPair = 0,
           dilation: IntPair = 1) -> Array:
    """Unfold every kernel window of an NCHW batch into one column of a matrix.

    Row ``(c * kh + i) * kw + j`` holds channel c seen through kernel offset (i, j); column
    ``(n * Ho + y) * Wo + x`` is output pixel (y, x) of image n. A convolution is then
    ``weight.reshape(O, -1) @ im2col(x, ...)``. (``Conv2d`` orders its columns (y, x, n)
    instead, for speed; see the module docstring.)

    Shapes:
        x: (N, C, H, W) -> returns (C * kh * kw, N * Ho * Wo)

    Example:
        >>> im2col(np.arange(16.0).reshape(1, 1, 4, 4), 2, stride=2)[:, 0].tolist()
        [0.0, 1.0, 4.0, 5.0]
    """
    x = _as_array(x)
    geom = _geometry(x.shape, kernel_size, stride, padding, dilation, "im2col")
    cols = _unfold(_pad(x, geom, layout=CHWN), geom).transpose(0, 1, 2, 5, 3, 4)
    return np.ascontiguousarray(cols).reshape(math.prod(cols.shape[:3]), -1)


def col2im(cols: Any, input_shape: tuple[int, int, int, int], kernel_size: IntPair,
           stride: IntPair = 1, padding: IntPair = 0, dilation: IntPair = 1) -> Array:
    """Sum columns back into an NCHW batch, the adjoint (not the inverse) of ``im2col``.

    A pixel read by several windows receives the sum of their columns, which is exactly the
    gradient of ``im2col``.

    Shapes:
        cols: (C * kh * kw, N * Ho * Wo) -> returns ``input_shape`` (N, C, H, W)

    Example:
        >>> x = np.ones((1, 1, 3, 3))
        >>> col2im(im2col(x, 2), x.shape, 2)[0, 0].tolist()  # how many windows see each pixel
        [[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]
    """
    cols = _as_array(cols)
    geom = _geometry(input_shape, kernel_size, stride, padding, dilation, "col2im")
    n, c = input_shape[:2]
    cols6 = cols.reshape(c, *geom.kernel, n, *geom.out_hw).transpose(0, 1, 2, 4, 5, 3)
    return np.ascontiguousarray(_fold(cols6, geom)[geom.crop()])


# --- Convolution ---------------------------------------------------------------------------------


class Convolution2d(Function):
    """out = cross-correlation of x with weight (+ bias), as im2col and one (grouped) GEMM.

    Shapes:
        x: (N, C, H, W), weight: (O, C / groups, kh, kw), bias: (O,) -> out: (N, O, Ho, Wo)
    """

    @staticmethod
    def forward(ctx: Node, x: Array, weight: Array, bias: Array | None = None, *,
                geom: _Geometry, groups: int = 1) -> Array:
        n, o, (ho, wo) = x.shape[0], weight.shape[0], geom.out_hw
        cols = _unfold(_pad(x, geom, layout=CHWN), geom)
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
            g = copy_into(buffer_pool().matrix(g.shape[0], g[0].size, g.dtype).reshape(g.shape), g)
        g = g.reshape(groups, og, -1)                                      # (G, O/G, M)
        grad_x = grad_w = grad_b = None
        if ctx.needs_input_grad[0]:
            dcols = buffer_pool().matrix(groups * cols.shape[1], cols.shape[2], cols.dtype)
            np.matmul(w.transpose(0, 2, 1), g, out=dcols.reshape(cols.shape))  # (G, K, M)
            dcols = dcols.reshape(ctx.channels, *geom.kernel, *geom.out_hw, -1)
            grad_x = _fold(dcols, geom)[geom.crop()]
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
    if any(d.kind != "f" for d in dtypes) or len(dtypes) > 1:
        raise DTypeError(explain(
            what=f"{op} got tensors of dtypes {sorted(str(d) for d in dtypes)}",
            why="the input, weight and bias must share one floating-point dtype",
            fix="convert with x.astype(np.float32), the dtype of the layers' parameters",
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
    geom = _geometry(x.shape, weight.shape[2:], stride, padding, dilation, "conv2d")
    _check_groups(x.shape[1], weight.shape, groups)
    _check_float("conv2d", x, weight, bias)
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
# A 2-D window max (or sum) is separable: reduce along the width first, then along the height.
# That costs kh + kw passes instead of kh * kw. For a max, strict ">" in both stages picks the
# first maximum in row-major window order, the element PyTorch routes the gradient to.


def _along(a: Array, axis: int, kernel: int, stride: int, count: int) -> list[Array]:
    """The ``kernel`` strided views of ``a`` along ``axis``: view j holds a[j + stride * t]."""
    index: list[slice] = [slice(None)] * a.ndim
    views = []
    for j in range(kernel):
        index[axis] = slice(j, j + stride * (count - 1) + 1, stride)
        views.append(a[tuple(index)])
    return views


def _max_along(a: Array, axis: int, kernel: int, stride: int, count: int, track: bool
               ) -> tuple[Array, Array | None]:
    """Window maxima along one axis and, when ``track``, which offset held each (first wins)."""
    views, layout = _along(a, axis, kernel, stride, count), layout_of(a)
    best = buffer_pool().laid_out(views[0].shape, layout, a.dtype)
    if kernel == 1:
        return copy_into(best, views[0]), np.zeros(best.shape, np.uint8) if track else None
    np.maximum(views[0], views[1], out=best)  # NaN wins, as in torch
    arg = None
    if track:
        arg = np.greater(views[1], views[0], out=buffer_pool().laid_out(best.shape, layout, bool))
        arg = arg.view(np.uint8)
    for j in range(2, kernel):
        if arg is not None:
            arg = np.where(views[j] > best, np.uint8(j), arg)
        np.maximum(best, views[j], out=best)
    return best, arg


def _sum_along(a: Array, axis: int, kernel: int, stride: int, count: int) -> Array:
    """Window sums along one axis."""
    views = _along(a, axis, kernel, stride, count)
    total = buffer_pool().laid_out(views[0].shape, layout_of(a), a.dtype)
    if kernel == 1:
        return copy_into(total, views[0])
    np.add(views[0], views[1], out=total)
    for view in views[2:]:
        total += view
    return total


def _spread_along(grad: Array, arg: Array | None, axis: int, kernel: int, stride: int,
                  size: int, layout: Layout) -> Array:
    """Adjoint of a window reduction along ``axis``: send each gradient back to its window.

    With ``arg`` (a max) only the offset that won gets it; without (a sum) every offset does.
    The result, ``size`` long along ``axis``, is stored in ``layout``.
    """
    shape = list(grad.shape)
    shape[axis] = size
    out = buffer_pool().laid_out(tuple(shape), layout, grad.dtype)
    count, overlapping = grad.shape[axis], stride < kernel
    if not (stride == kernel and size == kernel * count):  # some pixels get no gradient
        out.fill(0)
    for j, view in enumerate(_along(out, axis, kernel, stride, count)):
        if arg is None:
            routed = grad
        elif overlapping:
            routed = grad * (arg == j)
        else:  # each position belongs to one window: write straight into it
            np.multiply(grad, arg == j, out=view)
            continue
        if overlapping:
            view += routed
        else:
            view[...] = routed
    return out


class MaxPooling2d(Function):
    """out = the largest value of each window; its gradient goes to the first maximum (as torch)."""

    @staticmethod
    def forward(ctx: Node, x: Array, *, geom: _Geometry) -> Array:
        (kh, kw), (sh, sw), (ho, wo) = geom.kernel, geom.stride, geom.out_hw
        track = is_grad_enabled() and ctx.needs_input_grad[0]  # argmaxes only for backward
        rows, col_arg = _max_along(_pad(x, geom, -np.inf), 3, kw, sw, wo, track)  # (N,C,Hp,Wo)
        out, row_arg = _max_along(rows, 2, kh, sh, ho, track)                     # (N,C,Ho,Wo)
        ctx.args, ctx.geom, ctx.layout = (row_arg, col_arg), geom, layout_of(x)
        return out

    @staticmethod
    def backward(ctx: Node, grad: Array) -> Array:
        (row_arg, col_arg), geom, layout = ctx.args, ctx.geom, ctx.layout
        (kh, kw), (sh, sw), (hp, wp) = geom.kernel, geom.stride, geom.padded_hw
        grad = in_layout(grad, layout)
        rows = _spread_along(grad, row_arg, 2, kh, sh, hp, layout)
        return _spread_along(rows, col_arg, 3, kw, sw, wp, layout)[geom.crop()]


class AvgPooling2d(Function):
    """out = the mean of each window, padding zeros included in the count (torch's default)."""

    @staticmethod
    def forward(ctx: Node, x: Array, *, geom: _Geometry) -> Array:
        (kh, kw), (sh, sw), (ho, wo) = geom.kernel, geom.stride, geom.out_hw
        rows = _sum_along(_pad(x, geom), 3, kw, sw, wo)  # (N, C, Hp, Wo)
        out = _sum_along(rows, 2, kh, sh, ho)            # (N, C, Ho, Wo)
        out *= 1.0 / (kh * kw)
        ctx.geom, ctx.layout = geom, layout_of(x)
        return out

    @staticmethod
    def backward(ctx: Node, grad: Array) -> Array:
        geom, layout = ctx.geom, ctx.layout
        (kh, kw), (sh, sw), (hp, wp) = geom.kernel, geom.stride, geom.padded_hw
        share = in_layout(grad, layout) * (1.0 / (kh * kw))
        rows = _spread_along(share, None, 2, kh, sh, hp, layout)
        return _spread_along(rows, None, 3, kw, sw, wp, layout)[geom.crop()]


def _pool_geometry(x: Tensor, kernel_size: Any, stride: Any, padding: Any, op: str
                   ) -> _Geometry:
    return _cached_pool_geometry(x.shape, *(_hashable(v) for v in (kernel_size, stride, padding)),
                                 op)


@functools.lru_cache(maxsize=512)
def _cached_pool_geometry(shape: tuple[int, ...], kernel_size: Any, stride: Any, padding: Any,
                          op: str) -> _Geometry:
    kernel = _pair(kernel_size, "kernel_size")
    geom = _geometry(shape, kernel, kernel if stride is None else stride, padding, 1, op)
    top, _, left, _ = geom.pads
    if top > kernel[0] // 2 or left > kernel[1] // 2:
        raise ShapeError(explain(
            what=f"{op}: padding {padding} is more than half the {kernel[0]}x{kernel[1]} kernel",
            why="a window made only of padding has no input value to pool (PyTorch's rule)",
            fix=f"use padding at most {kernel[0] // 2} (height) and {kernel[1] // 2} (width)",
        ))
    return geom


def max_pool2d(x: Tensor, kernel_size: IntPair, stride: IntPair | None = None,
               padding: IntPair = 0) -> Tensor:
    """Largest value of each kernel window (stride defaults to the kernel size).

    Shapes:
        x: (N, C, H, W) -> (N, C, Ho, Wo), Ho = (H + 2 * padding - kh) // stride + 1.
    """
    geom = _pool_geometry(x, kernel_size, stride, padding, "max_pool2d")
    _check_float("max_pool2d", x)
    return MaxPooling2d.apply(x, geom=geom)


def avg_pool2d(x: Tensor, kernel_size: IntPair, stride: IntPair | None = None,
               padding: IntPair = 0) -> Tensor:
    """Mean of each kernel window, counting padded zeros (stride defaults to the kernel size).

    Shapes:
        x: (N, C, H, W) -> (N, C, Ho, Wo), Ho = (H + 2 * padding - kh) // stride + 1.
    """
    geom = _pool_geometry(x, kernel_size, stride, padding, "avg_pool2d")
    _check_float("avg_pool2d", x)
    return AvgPooling2d.apply(x, geom=geom)


# --- Batch normalization -------------------------------------------------------------------------


class BatchNormalization(Function):
    """Training-mode batch norm, fused: normalize by batch statistics, then scale and shift.

    Per channel c, over every other axis (M values): out = (x - mean) / sqrt(var + eps) * w + b,
    with the biased variance. When running statistics are passed they are updated in place
    with the unbiased variance, as PyTorch does.
    """

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
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.stride, self.dilation = _pair(stride, "stride"), _pair(dilation, "dilation")
        self.padding = padding if isinstance(padding, str) else _pair(padding, "padding", 0)
        _conv_pads(self.padding, self.kernel_size, self.dilation, self.stride)  # check early
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
        _pair(kernel_size, "kernel_size")  # fail at construction, not at the first batch
        _pair(self.stride, "stride")
        _pair(padding, "padding", minimum=0)

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
