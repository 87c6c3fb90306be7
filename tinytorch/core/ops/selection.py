"""Picking elements by index along one axis: gather and index_select, each with a scatter-add
backward (an element picked twice receives both gradients)."""

from __future__ import annotations

import numpy as np

from tinytorch.core.autograd import Function, Node

Array = np.ndarray


def _grid(index: Array, axis: int) -> tuple[Array, ...]:
    """Full integer coordinates for ``take_along_axis(x, index, axis)``, for a scatter-add."""
    coords: list[Array] = list(np.indices(index.shape, sparse=True))
    coords[axis] = index
    return tuple(coords)


class Gather(Function):
    """out[i][j][k] = x[i][index[i][j][k]][k] for ``axis=1`` (PyTorch's ``gather``).

    ``index`` has x's number of axes; along the other axes it may be shorter than x (the
    leading part of x is used, as in PyTorch).
    """

    @staticmethod
    def forward(ctx: Node, x: Array, *, axis: int, index: Array) -> Array:
        window = tuple(slice(None) if d == axis else slice(0, n) for d, n in enumerate(index.shape))
        ctx.axis, ctx.index, ctx.shape = axis, index, x.shape
        return np.take_along_axis(x[window], index, axis=axis)

    @staticmethod
    def backward(ctx: Node, grad: Array) -> Array:
        out = np.zeros(ctx.shape, dtype=grad.dtype)
        np.add.at(out, _grid(ctx.index, ctx.axis), grad)
        return out


class IndexSelect(Function):
    """out = the slices of x at positions ``index`` (1-D) along ``axis``."""

    @staticmethod
    def forward(ctx: Node, x: Array, *, axis: int, index: Array) -> Array:
        ctx.axis, ctx.index, ctx.shape = axis, index, x.shape
        return np.take(x, index, axis=axis)

    @staticmethod
    def backward(ctx: Node, grad: Array) -> Array:
        out = np.zeros(ctx.shape, dtype=grad.dtype)
        # axis first on both sides, so the index picks whole slices: one unbuffered add
        np.add.at(np.moveaxis(out, ctx.axis, 0), ctx.index, np.moveaxis(grad, ctx.axis, 0))
        return out
