"""Shape rules shared by every op: NumPy broadcasting, its backward (a sum), and axis handling.

The backward of a broadcast is a sum over the stretched axes. The autograd engine calls
``unbroadcast`` in exactly one place, so an op's backward stays pure math and cannot forget it.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import numpy as np

from tinytorch.core.errors import ShapeError, explain

Shape = tuple[int, ...]


def broadcasts_to(shape: Shape, target: Shape) -> bool:
    """True when NumPy broadcasting can stretch ``shape`` to ``target``.

    Example:
        >>> broadcasts_to((3, 1), (2, 3, 4)), broadcasts_to((3,), (3, 4))
        (True, False)
    """
    return len(shape) <= len(target) and all(
        s in (1, t) for s, t in zip(shape[::-1], target[::-1], strict=False)
    )


def unbroadcast(grad: np.ndarray, shape: Shape) -> np.ndarray:
    """Sum ``grad`` down to ``shape``, undoing NumPy broadcasting (whose backward is a sum).

    Example:
        >>> unbroadcast(np.ones((2, 3, 4)), (3, 1)).ravel().tolist()
        [8.0, 8.0, 8.0]
    """
    lead = grad.ndim - len(shape)  # axes that broadcasting prepended
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and grad.shape[lead + i] != 1
    )
    if not axes:
        return grad
    if axes == tuple(range(len(axes))) and grad.dtype.kind == "f" and grad.flags.c_contiguous:
        # summing leading axes (a bias, a position table)
        return sum_rows(grad.reshape(-1, math.prod(grad.shape[len(axes):]))).reshape(shape)
    return grad.sum(axis=axes, keepdims=True).reshape(shape)


def sum_rows(rows: np.ndarray) -> np.ndarray:
    """``rows.sum(axis=0)`` of a 2-D float array as one vector-matrix product.

    BLAS runs it several times faster than NumPy's reduction over rows at the sizes of a
    model's gradients (compare ``ones @ g`` and ``g.sum(axis=0)`` with ``timeit``): the bias
    gradients of Linear and LayerNorm, and broadcast adds, are such sums.

    Example:
        >>> sum_rows(np.arange(6.0).reshape(3, 2)).tolist()
        [6.0, 9.0]
    """
    return constant(len(rows), 1.0, rows.dtype) @ rows


@functools.lru_cache(maxsize=64)
def constant(shape: int | Shape, value: float, dtype: np.dtype) -> np.ndarray:
    """A read-only array filled with ``value``, made once per (shape, value, dtype).

    Row and column sums and means done as matrix-vector products multiply by such a vector;
    small ops would otherwise rebuild it on every call (``np.ones`` costs a few microseconds,
    as much as the product itself).
    """
    array = np.full(shape, value, dtype)
    array.flags.writeable = False
    return array


def normalize_axis(axis: int, ndim: int) -> int:
    """Turn a possibly negative ``axis`` into its index in ``range(ndim)``, checking the range."""
    if not -ndim <= axis < max(ndim, 1):
        raise ShapeError(explain(
            what=f"axis {axis} is out of range for a tensor with {ndim} dimension(s)",
            why=f"valid axes are {-ndim}..{ndim - 1} (negative values count from the end)",
            fix="pick an axis inside that range",
        ))
    return axis % ndim if ndim else 0


def normalize_axes(axis: int | Sequence[int] | None, ndim: int) -> tuple[int, ...]:
    """All axes when ``axis`` is None, else the given ones made non-negative and sorted."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (int, np.integer)):
        return (normalize_axis(int(axis), ndim),)
    return tuple(sorted({normalize_axis(int(a), ndim) for a in axis}))
