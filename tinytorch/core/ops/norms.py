"""Vector p-norms over any axes, with the subgradient 0 where the norm is 0 (as PyTorch)."""

from __future__ import annotations

import math

import numpy as np

from tinytorch.core.autograd import Function, Node

Array = np.ndarray


class Norm(Function):
    """out = (sum |x|^p)^(1/p) over ``axes``; ``p=inf`` is max |x| (ties share the gradient)."""

    @staticmethod
    def forward(ctx: Node, x: Array, *, p: float, axes: tuple[int, ...],
                keepdims: bool) -> Array:
        magnitude = np.abs(x)
        if math.isinf(p):
            kept = magnitude.max(axis=axes, keepdims=True)
        elif p == 2:
            kept = np.sqrt((x * x).sum(axis=axes, keepdims=True))
        else:
            kept = (magnitude ** p).sum(axis=axes, keepdims=True) ** (1.0 / p)
        ctx.save_for_backward(x, kept)
        ctx.p, ctx.axes, ctx.keepdims = p, axes, keepdims
        return kept if keepdims else np.asarray(np.squeeze(kept, axis=axes))

    @staticmethod
    def backward(ctx: Node, grad: Array) -> Array:
        x, kept = ctx.saved_tensors
        grad = grad if ctx.keepdims else np.expand_dims(grad, ctx.axes)
        p = ctx.p
        safe = np.where(kept == 0, 1, kept)  # a zero norm has the zero subgradient
        if math.isinf(p):
            hits = (np.abs(x) == kept) & (kept != 0)
            count = np.maximum(hits.sum(axis=ctx.axes, keepdims=True), 1)
            slope = np.sign(x) * (hits / count).astype(x.dtype, copy=False)
        elif p == 2:
            slope = x / safe
        elif p == 1:
            slope = np.sign(x)
        else:
            slope = np.sign(x) * np.abs(x) ** (p - 1) / safe ** (p - 1)
        out: Array = grad * slope
        return out
