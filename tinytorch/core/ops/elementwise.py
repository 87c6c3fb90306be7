"""Elementwise arithmetic: forward and backward of each op side by side, on NumPy arrays.

Backward formulas return gradients in the broadcast shape of the forward; the engine sums
them back to each input's shape (see ``broadcasting.unbroadcast``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinytorch.core.autograd import Function, Node

Array = np.ndarray
Grads = tuple[Array | None, ...]


class Add(Function):
    """out = a + b."""

    @staticmethod
    def forward(ctx: Node, a: Array, b: Array) -> Array:
        return a + b

    @staticmethod
    def backward(ctx: Node, grad: Array) -> Grads:
        return grad, grad


class Sub(Function):
    """out = a - b."""

    @staticmethod
    def forward(ctx: Node, a: Array, b: Array) -> Array:
        return a - b

    @staticmethod
    def backward(ctx: Node, grad: Array) -> Grads:
        return grad, (-grad if ctx.needs_input_grad[1] else None)


class Mul(Function):
    """out = a * b."""

    @staticmethod
    def forward(ctx: Node, a: Array, b: Array) -> Array:
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx: Node, grad: Array) -> Grads:
        a, b = ctx.saved_tensors
        grad_a = grad * b if ctx.needs_input_grad[0] else None
        grad_b = grad * a if ctx.needs_input_grad[1] else None
        return grad_a, grad_b


class Div(Function):
    """out = a / b."""

    @staticmethod
    def forward(ctx: Node, a: Array, b: Array) -> Array:
        ctx.save_for_backward(a, b)
        return a / b

    @staticmethod
    def backward(ctx: Node, grad: Array) -> Grads:
        a, b = ctx.saved_tensors
        grad_a = grad / b if ctx.needs_input_grad[0] else None
        grad_b = -grad * a / (b * b) if ctx.needs_input_grad[1] else None
        return grad_a, grad_b


class Neg(Function):
    """out = -a."""

    @staticmethod
    def forward(ctx: Node, a: Array) -> Array:
        return -a

    @staticmethod
    def backward(ctx: Node, grad: Array) -> Array:
        return -grad


class Pow(Function):
    """out = a ** exponent, for a constant (Python number) exponent."""

    @staticmethod
    def forward(ctx: Node, a: Array, *, exponent: float) -> Array:
        ctx.save_for_backward(a)
        ctx.exponent = exponent
        if exponent == 2:
            return a * a
        return np.power(a, exponent)

    @staticmethod
    def backward(ctx: Node, grad: Array) -> Array:
        (a,) = ctx.saved_tensors
        p = ctx.exponent
        if p == 2:
            return grad * (a + a)
        return grad * (p * np.power(a, p - 1))


class Exp(Function):
    """out = e ** a."""

    @staticmethod
    def forward(ctx: Node, a: Array) -> Array:
        out = np.exp(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx: Node, grad: Array) -> Array:
        (out,) = ctx.saved_tensors
        return grad * out


class Log(Function):
    """out = ln(a)."""

    @staticmethod
    def forward(ctx: Node, a: Array) -> Array:
        ctx.save_for_backward(a)
        return np.log(a)

    @staticmethod
    def backward(ctx: Node, grad: Array) -> Array:
        (a,) = ctx.saved_tensors
        return grad / a


class Sqrt(Function):
    """out = sqrt(a)."""

    @staticmethod
    def forward(ctx: Node, a: Array) -> Array:
        out = np.sqrt(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx: Node, grad: Array) -> Array:
        (out,) = ctx.saved_tensors
        return grad / (2 * out)


class Abs(Function):
    """out = |a| (gradient sign(a), 0 at 0 as in PyTorch)."""

    @staticmethod
    def forward(ctx: Node, a: Array) -> Array:
        ctx.save_for_backward(a)
        return np.abs(a)

    @staticmethod
    def backward(ctx: Node, grad: Array) -> Array:
        (a,) = ctx.saved_tensors
        return grad * np.sign(a)


class Clip(Function):
    """out = min(max(a, low), high); the gradient passes only where a was inside [low, high]."""

    @staticmethod
    def forward(ctx: Node, a: Array, *, low: float | None, high: float | None) -> Array:
        inside = np.ones(a.shape, dtype=bool)
        if low is not None:
            inside &= a >= low
        if high is not None:
            inside &= a <= high
        ctx.save_for_backward(inside)
        return np.clip(a, low, high).astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx: Node, grad: Array) -> Array:
        (inside,) = ctx.saved_tensors
        return grad * inside


class _Choose(Function):
    """Shared by Maximum and Minimum: the gradient goes to the chosen operand; ties split it."""

    choose = staticmethod(np.maximum)
    wins = staticmethod(np.greater)

    @classmethod
    def forward(cls, ctx: Node, a: Array, b: Array) -> Array:
        ctx.save_for_backward(a, b)
        return cls.choose(a, b)

    @classmethod
    def backward(cls, ctx: Node, grad: Array) -> Grads:
        a, b = ctx.saved_tensors
        share = cls.wins(a, b).astype(grad.dtype) + (a == b).astype(grad.dtype) * 0.5
        return grad * share, grad * (1 - share)


class Maximum(_Choose):
    """out = max(a, b) elementwise; ties split the gradient evenly, as PyTorch does."""

    choose = staticmethod(np.maximum)
    wins = staticmethod(np.greater)


class Minimum(_Choose):
    """out = min(a, b) elementwise; ties split the gradient evenly, as PyTorch does."""

    choose = staticmethod(np.minimum)
    wins = staticmethod(np.less)


class Where(Function):
    """out = a where ``condition`` else b (the condition is a boolean array, not differentiated)."""

    @staticmethod
    def forward(ctx: Node, a: Array, b: Array, *, condition: Any) -> Array:
        condition = np.asarray(condition, dtype=bool)
        ctx.save_for_backward(condition)
        out = np.where(condition, a, b)
        dtype = np.result_type(a, b)
        return out.astype(dtype, copy=False)

    @staticmethod
    def backward(ctx: Node, grad: Array) -> Grads:
        (condition,) = ctx.saved_tensors
        zero = np.zeros((), dtype=grad.dtype)
        grad_a = np.where(condition, grad, zero) if ctx.needs_input_grad[0] else None
        grad_b = np.where(condition, zero, grad) if ctx.needs_input_grad[1] else None
        return grad_a, grad_b
