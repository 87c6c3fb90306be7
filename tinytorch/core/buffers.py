"""Scratch arrays reused from step to step, and arrays stored in a chosen memory layout.

Two tools for the hot loops of the NumPy kernels (the convolutions and pools of ``spatial``):

Buffer reuse:
    A training loop allocates the same large temporaries every step. ``buffer_pool()`` hands
    out arrays of a given shape and dtype, and hands the same array out again once nothing
    refers to it any more, so those steps stop paying for fresh memory.

Memory layout:
    A layout lists an array's axes from the outermost in memory (largest stride) to the
    innermost. NumPy runs an element-wise op, a copy or an add several times faster when all
    its operands share one layout, so ``laid_out`` creates arrays in a chosen layout and
    ``in_layout`` converts one only when it differs.

Example:
    >>> pool = BufferPool()
    >>> a = pool.laid_out((2, 3, 4, 5), (1, 2, 3, 0), np.float32)  # the batch axis innermost
    >>> a.shape, layout_of(a)
    ((2, 3, 4, 5), (1, 2, 3, 0))
"""

from __future__ import annotations

import functools
import math
import sys
import threading
from collections import OrderedDict
from typing import Any

import numpy as np

Array = np.ndarray
Layout = tuple[int, ...]  # an array's axes in memory order, outermost first


def layout_of(a: Array) -> Layout:
    """The axes of ``a`` from the largest memory stride to the smallest."""
    return tuple(sorted(range(a.ndim), key=lambda axis: -a.strides[axis]))


class BufferPool:
    """Arrays for the large temporaries and outputs of the kernels, reused from step to step.

    Why: glibc returns freed multi-megabyte blocks to the kernel, so a training loop that
    allocates the same arrays every step page-faults them back in every time (0.1-0.4 ms per
    MB here; ``tinytorch.perf.tune_allocator`` is the process-wide fix). The pool keeps a few
    arrays per shape and hands one out again only once nothing else refers to it:
    ``sys.getrefcount`` counts every holder, and a view keeps its base alive, so an array saved
    for backward, or inside a tensor someone still holds, is never handed out twice.
    """

    min_bytes = 1 << 16  # smaller arrays come cheaply from malloc's heap
    per_shape = 4
    max_bytes = 256 << 20  # the least recently used shapes are forgotten beyond this

    def __init__(self) -> None:
        self._arrays: OrderedDict[tuple[Any, ...], list[Array]] = OrderedDict()
        self._bytes = 0

    def empty(self, shape: tuple[int, ...], dtype: Any) -> Array:
        """An uninitialized C-contiguous array, reused when a free one of this shape exists."""
        dtype = np.dtype(dtype)
        if _holders is None or math.prod(shape) * dtype.itemsize < self.min_bytes:
            return np.empty(shape, dtype)
        key = (shape, dtype)
        arrays = self._arrays.setdefault(key, [])
        self._arrays.move_to_end(key)
        for i in range(len(arrays)):
            if _holders(arrays, i) == _UNHELD:
                return arrays[i]
        array = np.empty(shape, dtype)
        if len(arrays) < self.per_shape:
            arrays.append(array)
            self._bytes += array.nbytes
            while self._bytes > self.max_bytes and len(self._arrays) > 1:
                _, dropped = self._arrays.popitem(last=False)
                self._bytes -= sum(a.nbytes for a in dropped)
        return array

    def matrix(self, rows: int, cols: int, dtype: Any) -> Array:
        """A (rows, cols) matrix whose rows lie 64 bytes further apart than ``cols`` needs.

        Rows a multiple of 4 KiB apart map to the same cache sets, and BLAS then runs up to a
        third slower (measured on the convolutions in ``spatial``); the small gap avoids that.
        """
        gap = 64 // np.dtype(dtype).itemsize
        return self.empty((rows, cols + gap), dtype)[:, :cols]

    def laid_out(self, shape: tuple[int, ...], layout: Layout, dtype: Any) -> Array:
        """An array of logical ``shape`` whose axes lie in memory in ``layout`` order."""
        memory = self.empty(tuple(shape[axis] for axis in layout), dtype)
        return memory.transpose(np.argsort(layout))


def _count_holders(arrays: list[Array], i: int) -> int:
    return sys.getrefcount(arrays[i])


# getrefcount is CPython's; elsewhere (PyPy) the pool simply allocates fresh arrays.
_holders = _count_holders if hasattr(sys, "getrefcount") else None
_UNHELD = _count_holders([np.empty(0)], 0) if _holders else 0  # only the pool's list holds it
_pools = threading.local()


def buffer_pool() -> BufferPool:
    """This thread's pool (one per thread, so two threads never share a buffer)."""
    pool = getattr(_pools, "pool", None)
    if pool is None:
        pool = _pools.pool = BufferPool()
    return pool


def in_layout(a: Array, layout: Layout) -> Array:
    """``a`` itself if it is stored in ``layout``, else a copy that is.

    Ops on arrays of mixed layouts run several times slower than on matching ones.
    """
    if layout_of(a) == layout:
        return a
    return copy_into(buffer_pool().laid_out(a.shape, layout, a.dtype), a)


def copy_into(target: Array, source: Array) -> Array:
    """Copy ``source`` into ``target`` (broadcasting as NumPy does) and return ``target``."""
    np.copyto(target, source)
    return target


BLAS_COPY_MAX_AXIS = 64  # beyond this the product costs more than NumPy's strided copy
BLAS_COPY_MIN_ELEMENTS = 1 << 16  # below this the call costs more than it saves (measured)


def transposing_copy(target: Array, source: Array) -> Array:
    """Copy a 2-D float ``source`` that is stored transposed into the C-ordered ``target``.

    NumPy copies a transposed view element by element, reading one value per cache line; BLAS
    packs and transposes operands with vectorized kernels. So the copy is done as the product
    ``source @ I``: for a (32768, 32) float32 view 0.54 ms instead of 3.3 ms. ``x * 1 + 0 * y``
    is exactly ``x`` for finite ``y``, so the result has the copy's bits (except that -0.0
    comes out as 0.0). An inf or NaN would spread along its row: a non-finite sum of the result
    sends the copy back to NumPy. Only worth it while rows are short (the product costs 2 * n
    flops per element).

    Shapes:
        source: (m, n), ``source.T`` C-contiguous; target: (m, n), C-contiguous.
    """
    n = source.shape[1]
    if not blas_transposes(source.dtype, n, source.size):
        return copy_into(target, source)
    with np.errstate(invalid="ignore", over="ignore"):
        np.matmul(source, _identity(n, source.dtype), out=target)
        finite = math.isfinite(float(np.add.reduce(target, axis=None)))
    if not finite:
        np.copyto(target, source)
    return target


def blas_transposes(dtype: np.dtype, n: int, size: int) -> bool:
    """Whether ``transposing_copy`` uses BLAS for ``size`` elements in rows of ``n``."""
    return dtype in _BLAS_FLOATS and n <= BLAS_COPY_MAX_AXIS and size >= BLAS_COPY_MIN_ELEMENTS


def batch_innermost(x: Array) -> Array:
    """``x``'s values with the batch axis innermost in memory, when BLAS can do that cheaply.

    For a C-contiguous float (N, ...) batch that ``blas_transposes`` admits, returns a view of
    shape ``x.shape`` over memory ordered (..., N) (for a 4-D batch, the CHWN layout of
    ``tinytorch.core.spatial``), made by ``transposing_copy``. Otherwise returns ``x`` itself:
    then the caller's one copy into its layout is the cheaper way.
    """
    if not (x.ndim >= 2 and x.flags.c_contiguous
            and blas_transposes(x.dtype, x.shape[0], x.size)):
        return x
    rows = buffer_pool().empty((x[0].size, x.shape[0]), x.dtype)    # (C*H*W, N)
    transposing_copy(rows, x.reshape(x.shape[0], -1).T)
    moved: Array = rows.reshape(*x.shape[1:], x.shape[0]).transpose(x.ndim - 1, *range(x.ndim - 1))
    return moved


_BLAS_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


@functools.lru_cache(maxsize=16)
def _identity(n: int, dtype: np.dtype) -> Array:
    eye = np.eye(n, dtype=dtype)
    eye.flags.writeable = False
    return eye


__all__ = ["BufferPool", "Layout", "batch_innermost", "blas_transposes", "buffer_pool", "copy_into",
           "in_layout", "layout_of", "transposing_copy"]
