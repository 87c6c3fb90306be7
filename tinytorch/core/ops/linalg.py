"""Matrix multiplication with NumPy's rules for 1-D and batched operands.

Rules (as ``np.matmul`` and PyTorch): a 1-D left operand acts as a row vector and a 1-D right
operand as a column vector, the added axis removed afterwards; leading (batch) axes broadcast.
"""

from __future__ import annotations

import numpy as np

from tinytorch.core.autograd import Function, Node
from tinytorch.core.broadcasting import sum_rows

Array = np.ndarray


def _blas_ready(x: Array) -> Array:
    """Copy broadcast views (zero strides): NumPy cannot hand them to BLAS and loops slowly."""
    if x.ndim >= 2 and 0 in x.strides[-2:]:
        return np.ascontiguousarray(x)
    return x


class MatMul(Function):
    """out = a @ b."""

    op_name = "Matmul"  # its grad_fn is MatmulBackward, the name PyTorch users know

    @staticmethod
    def forward(ctx: Node, a: Array, b: Array) -> Array:
        ctx.save_for_backward(a, b)
        if a.ndim > 2 and b.ndim == 2:  # (..., n, k) @ (k, m): one big GEMM, not one per batch
            rows = a.reshape(-1, a.shape[-1])
            return (rows @ b).reshape(a.shape[:-1] + (b.shape[1],))
        return np.matmul(_blas_ready(a), _blas_ready(b))

    @staticmethod
    def backward(ctx: Node, grad: Array) -> tuple[Array | None, Array | None]:
        a, b = ctx.saved_tensors
        grad = _blas_ready(grad)
        if a.ndim > 2 and b.ndim == 2:
            return _folded_backward(ctx, a, b, grad)
        a2 = a[None, :] if a.ndim == 1 else a          # (..., n, k)
        b2 = b[:, None] if b.ndim == 1 else b          # (..., k, m)
        g2 = grad
        if b.ndim == 1:
            g2 = np.expand_dims(g2, -1)                # restore the column axis m = 1
        if a.ndim == 1:
            g2 = np.expand_dims(g2, -2)                # restore the row axis n = 1
        grad_a = grad_b = None
        if ctx.needs_input_grad[0]:
            grad_a = np.matmul(g2, np.swapaxes(b2, -1, -2))            # (..., n, k)
            if a.ndim == 1:
                grad_a = grad_a[..., 0, :]
        if ctx.needs_input_grad[1]:
            grad_b = np.matmul(np.swapaxes(a2, -1, -2), g2)            # (..., k, m)
            if b.ndim == 1:
                grad_b = grad_b[..., 0]
        return grad_a, grad_b


def _folded_backward(ctx: Node, a: Array, b: Array,
                     grad: Array) -> tuple[Array | None, Array | None]:
    """Backward of (..., n, k) @ (k, m) with the batch axes folded into rows: two GEMMs."""
    g2 = grad.reshape(-1, grad.shape[-1])                                # (rows, m)
    grad_a = (g2 @ b.T).reshape(a.shape) if ctx.needs_input_grad[0] else None
    grad_b = a.reshape(-1, a.shape[-1]).T @ g2 if ctx.needs_input_grad[1] else None  # (k, m)
    return grad_a, grad_b


class Linear(Function):
    """out = x @ weight + bias in one op: the bias is added into the GEMM's output in place.

    As a composition (matmul, then add) the bias costs a second full-size output array, and its
    gradient goes through the engine's generic broadcast reduction. Here the batch axes are
    folded into the GEMM's rows and the bias gradient is one column sum of the output gradient.

    Shapes:
        x: (..., in), weight: (in, out), bias: (out,) or absent -> (..., out)
    """

    @staticmethod
    def forward(ctx: Node, x: Array, weight: Array, bias: Array | None = None) -> Array:
        rows = x.reshape(-1, x.shape[-1])
        out = rows @ weight
        if bias is not None:
            out += bias                                   # in place: no second output array
        ctx.save_for_backward(rows, weight)
        ctx.shape = x.shape
        return out.reshape(x.shape[:-1] + (weight.shape[1],))

    @staticmethod
    def backward(ctx: Node, grad: Array) -> tuple[Array | None, ...]:
        rows, weight = ctx.saved_tensors
        g2 = _blas_ready(grad).reshape(-1, grad.shape[-1])                 # (rows, out)
        needs = ctx.needs_input_grad
        grad_x = (g2 @ weight.T).reshape(ctx.shape) if needs[0] else None
        grad_w = rows.T @ g2 if needs[1] else None
        grad_b = sum_rows(g2) if len(needs) > 2 and needs[2] else None
        return grad_x, grad_w, grad_b
