"""Kernel-window geometry on NumPy arrays: where windows sit, im2col/col2im, separable pooling.

``tinytorch.core.spatial`` builds its convolution, pooling and their gradients from these
helpers. They live apart because they are pure array geometry: arrays in, arrays out, no
Tensor and no autograd. So they can be read, tested and reused on their own, and they sit low
in the layering (only ``errors`` and ``buffers`` below them). Why the arrays made here keep the
batch axis innermost (the ``CHWN`` layout) is explained in ``tinytorch.core.spatial``.

Example:
    >>> window_geometry((1, 3, 5, 5), 3, stride=2, padding=1, dilation=1, op="demo").out_hw
    (3, 3)
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from tinytorch.core.buffers import Layout, batch_innermost, buffer_pool, copy_into, layout_of
from tinytorch.core.errors import ShapeError, explain

Array = np.ndarray
IntPair = int | tuple[int, int]
Pads = tuple[int, int, int, int]  # (top, bottom, left, right)
CHWN: Layout = (1, 2, 3, 0)  # the NCHW axes with the batch innermost: the layout made here


# --- Window geometry -----------------------------------------------------------------------------


def as_pair(value: Any, name: str, minimum: int = 1) -> tuple[int, int]:
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


def conv_pads(padding: Any, kernel: tuple[int, int], dilation: tuple[int, int],
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
    ph, pw = as_pair(padding, "padding", minimum=0)
    return ph, ph, pw, pw


@dataclass(frozen=True)
class Geometry:
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


def window_geometry(shape: tuple[int, ...], kernel_size: Any, stride: Any, padding: Any,
              dilation: Any, op: str) -> Geometry:
    """Check an NCHW shape against a kernel and return where its windows sit."""
    return _cached_geometry(*(_hashable(v) for v in (tuple(shape), kernel_size, stride, padding,
                                                       dilation)), op)


@functools.lru_cache(maxsize=512)  # a training loop asks the same question every step
def _cached_geometry(shape: tuple[int, ...], kernel_size: Any, stride: Any, padding: Any,
                     dilation: Any, op: str) -> Geometry:
    if len(shape) != 4:
        raise ShapeError(explain(
            what=f"{op} expects a 4-D input (N, C, H, W), got shape {tuple(shape)}",
            why="it slides a window over the two spatial axes of a batch of multi-channel images",
            fix="add a batch axis with x.unsqueeze(0) for a single (C, H, W) image, or a channel "
                "axis with x.unsqueeze(1) for (N, H, W)",
        ))
    kernel, dil = as_pair(kernel_size, "kernel_size"), as_pair(dilation, "dilation")
    strides = as_pair(stride, "stride")
    geom = Geometry(kernel, strides, dil, conv_pads(padding, kernel, dil, strides),
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


def pad(x: Array, geom: Geometry, value: float = 0.0, layout: Layout | None = None) -> Array:
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
    if layout == CHWN and layout_of(x) != layout:
        x = batch_innermost(x)           # BLAS transposes NCHW faster than a cross-layout copy
    padded[geom.crop()] = x
    return padded


def unfold(xp: Array, geom: Geometry) -> Array:
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


def fold(cols: Array, geom: Geometry) -> Array:
    """col2im: add columns back onto the padded pixels they came from (``unfold``'s adjoint).

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
    instead, for speed; see ``tinytorch.core.spatial``.)

    Shapes:
        x: (N, C, H, W) -> returns (C * kh * kw, N * Ho * Wo)

    Example:
        >>> im2col(np.arange(16.0).reshape(1, 1, 4, 4), 2, stride=2)[:, 0].tolist()
        [0.0, 1.0, 4.0, 5.0]
    """
    x = np.asarray(x)  # a Tensor hands over its own array (no copy)
    geom = window_geometry(x.shape, kernel_size, stride, padding, dilation, "im2col")
    cols = unfold(pad(x, geom, layout=CHWN), geom).transpose(0, 1, 2, 5, 3, 4)
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
    cols = np.asarray(cols)
    geom = window_geometry(input_shape, kernel_size, stride, padding, dilation, "col2im")
    n, c = input_shape[:2]
    cols6 = cols.reshape(c, *geom.kernel, n, *geom.out_hw).transpose(0, 1, 2, 4, 5, 3)
    return np.ascontiguousarray(fold(cols6, geom)[geom.crop()])


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


def max_along(a: Array, axis: int, kernel: int, stride: int, count: int, track: bool
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


def sum_along(a: Array, axis: int, kernel: int, stride: int, count: int) -> Array:
    """Window sums along one axis."""
    views = _along(a, axis, kernel, stride, count)
    total = buffer_pool().laid_out(views[0].shape, layout_of(a), a.dtype)
    if kernel == 1:
        return copy_into(total, views[0])
    np.add(views[0], views[1], out=total)
    for view in views[2:]:
        total += view
    return total


def spread_along(grad: Array, arg: Array | None, axis: int, kernel: int, stride: int,
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


def pool_geometry(shape: tuple[int, ...], kernel_size: Any, stride: Any, padding: Any, op: str
                  ) -> Geometry:
    """Check an NCHW shape against a pooling window (stride None: the kernel size)."""
    return _cached_pool_geometry(shape, *(_hashable(v) for v in (kernel_size, stride, padding)),
                                 op)


@functools.lru_cache(maxsize=512)
def _cached_pool_geometry(shape: tuple[int, ...], kernel_size: Any, stride: Any, padding: Any,
                          op: str) -> Geometry:
    kernel = as_pair(kernel_size, "kernel_size")
    geom = window_geometry(shape, kernel, kernel if stride is None else stride, padding, 1, op)
    top, _, left, _ = geom.pads
    if top > kernel[0] // 2 or left > kernel[1] // 2:
        raise ShapeError(explain(
            what=f"{op}: padding {padding} is more than half the {kernel[0]}x{kernel[1]} kernel",
            why="a window made only of padding has no input value to pool (PyTorch's rule)",
            fix=f"use padding at most {kernel[0] // 2} (height) and {kernel[1] // 2} (width)",
        ))
    return geom


__all__ = [
    "CHWN", "Array", "Geometry", "IntPair", "Pads", "as_pair", "col2im", "conv_pads", "fold",
    "im2col", "max_along", "pad", "pool_geometry", "spread_along", "sum_along", "unfold",
    "window_geometry",
]
