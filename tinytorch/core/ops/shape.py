"""Ops that move elements without changing them: reshape, permute, expand, index, join, pad."""

from __future__ import annotations

from typing import Any

import numpy as np

from tinytorch.core.autograd import Function, Node, SliceGradient
from tinytorch.core.errors import IndexOutOfRangeError, explain

Array = np.ndarray


class Reshape(Function):
    """out = x viewed with a new shape holding the same elements."""

    @staticmethod
    def forward(ctx: Node, x: Array, *, shape: tuple[int, ...]) -> Array:
        ctx.shape = x.shape
        return x.reshape(shape)

    @staticmethod
    def backward(ctx: Node, grad: Array) -> Array:
        return grad.reshape(ctx.shape)


class Permute(Function):
    """out = x with its axes reordered (``axes[i]`` is the input axis that becomes axis i)."""

    @staticmethod
    def forward(ctx: Node, x: Array, *, axes: tuple[int, ...]) -> Array:
        ctx.axes = axes
        return x.transpose(axes)

    @staticmethod
    def backward(ctx: Node, grad: Array) -> Array:
        return grad.transpose(np.argsort(ctx.axes))


class Expand(Function):
    """out = x broadcast to ``shape`` (a read-only view; the backward is a sum)."""

    @staticmethod
    def forward(ctx: Node, x: Array, *, shape: tuple[int, ...]) -> Array:
        return np.broadcast_to(x, shape)

    @staticmethod
    def backward(ctx: Node, grad: Array) -> Array:
        return grad  # the engine sums it back to the input's shape


def _is_basic(index: tuple[Any, ...]) -> bool:
    """True when indexing selects each element at most once (no integer or boolean arrays)."""
    return all(isinstance(i, (int, np.integer, slice)) or i is None or i is Ellipsis
               for i in index)


def _expand_boolean(index: tuple[Any, ...]) -> tuple[Any, ...]:
    """Replace each boolean mask by the integer arrays of its True positions (same selection)."""
    out: list[Any] = []
    for i in index:
        if isinstance(i, np.ndarray) and i.dtype == bool:
            out.extend(np.nonzero(i))
        else:
            out.append(i)
    return tuple(out)


class Index(Function):
    """out = x[index], basic or advanced; the backward scatter-adds, so repeats accumulate."""

    @staticmethod
    def forward(ctx: Node, x: Array, *, index: Any) -> Array:
        index = _expand_boolean(index if isinstance(index, tuple) else (index,))
        ctx.index, ctx.shape = index, x.shape
        try:
            return np.asarray(x[index])
        except IndexError as exc:
            raise IndexOutOfRangeError(explain(
                what=f"index {_describe(index)} is out of range for a tensor of shape {x.shape} "
                     f"({exc})",
                why="every index along an axis of size n must lie in -n..n-1",
                fix="check the index against the tensor's shape",
            )) from None

    @staticmethod
    def backward(ctx: Node, grad: Array) -> Array | SliceGradient:
        if _is_basic(ctx.index):  # each element once: the engine adds it into a shared buffer
            return SliceGradient(ctx.shape, ctx.index, grad)
        out = np.zeros(ctx.shape, dtype=grad.dtype)
        np.add.at(out, ctx.index, grad)
        return out


def _describe(index: tuple[Any, ...]) -> str:
    parts = [f"array{list(i.shape)}" if isinstance(i, np.ndarray) else repr(i) for i in index]
    return "[" + ", ".join(parts) + "]"


class Concat(Function):
    """out = the inputs joined along an existing ``axis``."""

    @staticmethod
    def forward(ctx: Node, *xs: Array, axis: int = 0) -> Array:
        ctx.axis = axis
        ctx.sizes = [x.shape[axis] for x in xs]
        return np.concatenate(xs, axis=axis)

    @staticmethod
    def backward(ctx: Node, grad: Array) -> tuple[Array, ...]:
        return tuple(np.split(grad, np.cumsum(ctx.sizes)[:-1], axis=ctx.axis))


class Stack(Function):
    """out = the inputs (all one shape) stacked along a new ``axis``."""

    @staticmethod
    def forward(ctx: Node, *xs: Array, axis: int = 0) -> Array:
        out = np.stack(xs, axis=axis)
        ctx.axis = axis % out.ndim
        return out

    @staticmethod
    def backward(ctx: Node, grad: Array) -> tuple[Array, ...]:
        return tuple(np.moveaxis(grad, ctx.axis, 0))


class Pad(Function):
    """out = x padded with a constant; ``pad_width`` is one (before, after) pair per axis."""

    @staticmethod
    def forward(ctx: Node, x: Array, *, pad_width: tuple[tuple[int, int], ...],
                value: float = 0.0) -> Array:
        ctx.inner = tuple(slice(before, before + n) for (before, _), n in zip(pad_width, x.shape,
                                                                               strict=True))
        return np.pad(x, pad_width, mode="constant", constant_values=value)

    @staticmethod
    def backward(ctx: Node, grad: Array) -> Array:
        return grad[ctx.inner]
