"""Nonlinearities as fused, numerically stable ops (no overflow warnings at +-1000).

Each is one op with a hand-written backward: composing them from exp/log/div would be
slower, and for sigmoid, softmax and log-softmax it would overflow at large inputs.
"""

from __future__ import annotations

import math

import numpy as np

from tinytorch.core.autograd import Function, Node
from tinytorch.core.ops import blocked
from tinytorch.core.ops.blocked import row_blocks

Array = np.ndarray

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_GELU_CUBIC = 0.044715
_GELU_SIGMOID_SCALE = 1.702


def stable_sigmoid(x: Array) -> Array:
    """1 / (1 + e^-x) without overflow: e^-|x| never exceeds 1."""
    z = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + z), z / (1 + z)).astype(x.dtype, copy=False)


def erf(x: Array) -> Array:
    """The error function, vectorized (Abramowitz & Stegun 7.1.26, |error| < 1.5e-7)."""
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741
                + t * (-1.453152027 + t * 1.061405429))))
    return (sign * (1.0 - poly * np.exp(-a * a))).astype(x.dtype, copy=False)


def _flat_blocks(*arrays: Array) -> tuple[list[slice], list[Array]]:
    """The arrays as flat (1-D) arrays and the cache-sized blocks to walk them in."""
    flats = [a.reshape(-1) for a in arrays]          # a view when contiguous, else one copy
    return row_blocks(flats[0].size, 1), flats


def _gelu_tanh_forward(x: Array) -> tuple[Array, Array]:
    """(t, out) with t = tanh(sqrt(2/pi) (x + 0.044715 x^3)) and out = 0.5 x (1 + t).

    Nine in-place passes per cache-sized block, so only the first reads main memory. An
    array that fits in one block (a generated token's activations) skips the block loop.
    """
    t, out = np.empty(x.shape, x.dtype), np.empty(x.shape, x.dtype)
    if x.size <= blocked.BLOCK_ELEMENTS:
        _gelu_tanh_block(x, t, out)
        return t, out
    blocks, (xf, tf, of) = _flat_blocks(x, t, out)
    for b in blocks:
        _gelu_tanh_block(xf[b], tf[b], of[b])
    return t, out


def _gelu_tanh_block(x: Array, t: Array, out: Array) -> None:
    """Write tanh(sqrt(2/pi) (x + 0.044715 x^3)) into ``t`` and 0.5 x (1 + t) into ``out``."""
    np.multiply(x, x, out=t)
    t *= _GELU_CUBIC
    t += 1
    t *= x
    t *= _SQRT_2_OVER_PI
    np.tanh(t, out=t)
    np.add(t, 1, out=out)
    out *= x
    out *= 0.5


def _gelu_tanh_backward(x: Array, t: Array, grad: Array) -> Array:
    """grad * (0.5 (1 + t) + 0.5 x (1 - t^2) d(inner)/dx), block by block."""
    d = np.empty(x.shape, x.dtype)
    blocks, (xf, tf, gf, df) = _flat_blocks(x, t, np.broadcast_to(grad, x.shape), d)
    sech2 = np.empty(blocks[0].stop - blocks[0].start if blocks else 0, x.dtype)  # scratch
    for b in blocks:
        xb, tb, db = xf[b], tf[b], df[b]
        sb = sech2[:db.size]
        np.multiply(xb, xb, out=db)
        db *= 3 * _GELU_CUBIC
        db += 1
        db *= xb
        db *= _SQRT_2_OVER_PI                  # x * d(inner)/dx
        np.multiply(tb, tb, out=sb)
        np.subtract(1, sb, out=sb)             # 1 - tanh^2
        db *= sb
        db += tb
        db += 1
        db *= 0.5
        db *= gf[b]
    return d


class Relu(Function):
    """out = max(x, 0)."""

    @staticmethod
    def forward(ctx: Node, x: Array) -> Array:
        out = np.maximum(x, 0)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx: Node, grad: Array) -> Array:
        (out,) = ctx.saved_tensors
        return grad * (out > 0)


class LeakyRelu(Function):
    """out = x where x > 0 else slope * x."""

    @staticmethod
    def forward(ctx: Node, x: Array, *, negative_slope: float = 0.01) -> Array:
        positive = x > 0
        ctx.save_for_backward(positive)
        ctx.slope = negative_slope
        return np.where(positive, x, x * negative_slope)

    @staticmethod
    def backward(ctx: Node, grad: Array) -> Array:
        (positive,) = ctx.saved_tensors
        return np.where(positive, grad, grad * ctx.slope)


class Sigmoid(Function):
    """out = 1 / (1 + e^-x)."""

    @staticmethod
    def forward(ctx: Node, x: Array) -> Array:
        out = stable_sigmoid(x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx: Node, grad: Array) -> Array:
        (out,) = ctx.saved_tensors
        return grad * out * (1 - out)


class Tanh(Function):
    """out = tanh(x)."""

    @staticmethod
    def forward(ctx: Node, x: Array) -> Array:
        out = np.tanh(x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx: Node, grad: Array) -> Array:
        (out,) = ctx.saved_tensors
        return grad * (1 - out * out)


class Silu(Function):
    """out = x * sigmoid(x) (also called swish)."""

    @staticmethod
    def forward(ctx: Node, x: Array) -> Array:
        s = stable_sigmoid(x)
        ctx.save_for_backward(x, s)
        return x * s

    @staticmethod
    def backward(ctx: Node, grad: Array) -> Array:
        x, s = ctx.saved_tensors
        return grad * (s * (1 + x * (1 - s)))


class Gelu(Function):
    """Gaussian error linear unit, x * Phi(x), in one of three forms.

    ``approximate='tanh'`` (default, as GPT-2): 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)));
    ``'none'``: the exact x * Phi(x) with the Gaussian CDF Phi; ``'sigmoid'``: x * sigmoid(1.702 x).
    """

    @staticmethod
    def forward(ctx: Node, x: Array, *, approximate: str = "tanh") -> Array:
        ctx.approximate = approximate
        if approximate == "tanh":
            t, out = _gelu_tanh_forward(x)
            ctx.save_for_backward(x, t)
            return out
        if approximate == "sigmoid":
            s = stable_sigmoid(_GELU_SIGMOID_SCALE * x)
            ctx.save_for_backward(x, s)
            return x * s
        cdf = 0.5 * (1 + erf(x * (1 / math.sqrt(2))))
        ctx.save_for_backward(x, cdf)
        return x * cdf

    @staticmethod
    def backward(ctx: Node, grad: Array) -> Array:
        x, saved = ctx.saved_tensors
        if ctx.approximate == "tanh":
            return _gelu_tanh_backward(x, saved, grad)
        if ctx.approximate == "sigmoid":
            s = saved
            return grad * (s + _GELU_SIGMOID_SCALE * x * s * (1 - s))
        pdf = np.exp(-0.5 * x * x) * (1 / math.sqrt(2 * math.pi))
        return grad * (saved + x * pdf)


class Softmax(Function):
    """out = e^x / sum(e^x) along ``axis``, shifted by the max so exp never overflows."""

    @staticmethod
    def forward(ctx: Node, x: Array, *, axis: int = -1) -> Array:
        shifted = x - x.max(axis=axis, keepdims=True)
        out = np.exp(shifted)
        out /= out.sum(axis=axis, keepdims=True)
        ctx.save_for_backward(out)
        ctx.axis = axis
        return out

    @staticmethod
    def backward(ctx: Node, grad: Array) -> Array:
        (out,) = ctx.saved_tensors
        inner = (grad * out).sum(axis=ctx.axis, keepdims=True)
        return out * (grad - inner)


class LogSoftmax(Function):
    """out = x - logsumexp(x) along ``axis``, fused: exp/sum/log composed overflows near 1000."""

    @staticmethod
    def forward(ctx: Node, x: Array, *, axis: int = -1) -> Array:
        shifted = x - x.max(axis=axis, keepdims=True)
        out = shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
        ctx.save_for_backward(out)
        ctx.axis = axis
        return out

    @staticmethod
    def backward(ctx: Node, grad: Array) -> Array:
        (out,) = ctx.saved_tensors
        return grad - np.exp(out) * grad.sum(axis=ctx.axis, keepdims=True)
