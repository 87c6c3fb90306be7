"""Reductions: Sum, Max and Min over any axes (mean, var and std compose from these)."""

from __future__ import annotations

import numpy as np

from tinytorch.core.autograd import Function, Node
from tinytorch.core.broadcasting import normalize_axes

Array = np.ndarray


def _restore_axes(grad: Array, axes: tuple[int, ...], keepdims: bool) -> Array:
    """Put back the reduced axes (as size 1) so the gradient broadcasts over the input."""
    return grad if keepdims else np.expand_dims(grad, axes)


class Sum(Function):
    """out = sum of x over ``axis`` (all axes when None)."""

    @staticmethod
    def forward(ctx: Node, x: Array, *, axis: int | tuple[int, ...] | None = None,
                keepdims: bool = False) -> Array:
        ctx.axes = normalize_axes(axis, x.ndim)
        ctx.keepdims = keepdims
        ctx.shape = x.shape
        return np.asarray(x.sum(axis=ctx.axes, keepdims=keepdims))

    @staticmethod
    def backward(ctx: Node, grad: Array) -> Array:
        return np.broadcast_to(_restore_axes(grad, ctx.axes, ctx.keepdims), ctx.shape)


class _Extreme(Function):
    """Shared backward of Max and Min: the gradient goes to the extreme elements, ties split it."""

    reducer = staticmethod(np.max)

    @classmethod
    def forward(cls, ctx: Node, x: Array, *, axis: int | tuple[int, ...] | None = None,
                keepdims: bool = False) -> Array:
        axes = normalize_axes(axis, x.ndim)
        kept = cls.reducer(x, axis=axes, keepdims=True)
        ctx.save_for_backward(x == kept)
        ctx.axes, ctx.keepdims = axes, keepdims
        return kept if keepdims else np.asarray(np.squeeze(kept, axis=axes))

    @staticmethod
    def backward(ctx: Node, grad: Array) -> Array:
        (hits,) = ctx.saved_tensors
        share = hits / hits.sum(axis=ctx.axes, keepdims=True, dtype=grad.dtype)
        return _restore_axes(grad, ctx.axes, ctx.keepdims) * share.astype(grad.dtype, copy=False)


class Max(_Extreme):
    """out = max of x over ``axis``."""

    reducer = staticmethod(np.max)


class Min(_Extreme):
    """out = min of x over ``axis``."""

    reducer = staticmethod(np.min)
