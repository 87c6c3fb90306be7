"""Changing a tensor's dtype, differentiably: the gradient flows back in the input's dtype."""

from __future__ import annotations

from typing import Any

import numpy as np

from tinytorch.core.autograd import Function, Node

Array = np.ndarray


class Cast(Function):
    """out = x stored as ``dtype`` (``.to(float64)``, ``.float()``, ``.half()``, ...)."""

    op_name = "ToCopy"  # PyTorch names this node ToCopyBackward
    sets_dtype = True

    @staticmethod
    def forward(ctx: Node, x: Array, *, dtype: Any) -> Array:
        ctx.dtype = x.dtype
        return x.astype(dtype, order="C")  # always a row-major copy (contiguous() uses it)

    @staticmethod
    def backward(ctx: Node, grad: Array) -> Array:
        return grad.astype(ctx.dtype, copy=False)
