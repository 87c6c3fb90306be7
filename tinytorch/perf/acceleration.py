"""Acceleration (module 17): the same answers, computed in ways that suit the hardware.

Every tool here is checked against a baseline that it must equal (values and gradients) and
is timed against it in ``benchmarks/workloads_systems.py``:

- ``vectorized_matmul``: one call into BLAS (the baseline every other product is judged by).
- ``tiled_matmul``: the same product computed block by block, the loop order that keeps three
  tiles in cache. NumPy already hands a whole product to BLAS, which blocks for the caches
  (and for registers and threads) in tuned assembly, so in NumPy tiling costs time: each tile is
  a separate Python-level call. It pays only where the whole product cannot be done at once.
- ``fused_gelu`` / ``unfused_gelu``: GELU as one op that works in place (``out=``) versus nine
  ops that each allocate a fresh array and keep arrays for backward.
- ``im2col`` / ``col2im`` / ``im2col_conv2d``: convolution lowered to one GEMM (the arrays come
  from ``tinytorch.core.windows``, which ``Conv2d`` itself uses).
- mixed precision (``GradScaler``, ``MixedPrecisionModel``; see ``perf.mixed_precision``) and
  activation checkpointing (``checkpoint``, ``checkpoint_sequential``; ``perf.checkpointing``).
- ``Accelerator``: one object that offers all of the above (upstream's name).

Example:
    >>> a = np.arange(6.0, dtype=np.float32).reshape(2, 3)
    >>> tiled_matmul(a, a.T, tile_size=2).tolist()
    [[5.0, 14.0], [14.0, 50.0]]
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from tinytorch.core import ops, windows
from tinytorch.core.autograd import Function, Node
from tinytorch.core.errors import ConfigError, ShapeError, explain
from tinytorch.core.tensor import Tensor
from tinytorch.perf.checkpointing import (
    checkpoint,
    checkpoint_sequential,
    held_bytes,
    saved_activation_bytes,
)
from tinytorch.perf.mixed_precision import GradScaler, MixedPrecisionModel, MixedPrecisionTrainer

Array = np.ndarray

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_GELU_CUBIC = 0.044715


def _as_tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def _check_matmul(a: Tensor, b: Tensor, who: str) -> None:
    if a.ndim < 2 or b.ndim < 2 or a.shape[-1] != b.shape[-2]:
        raise ShapeError(explain(
            what=f"{who} got shapes {a.shape} and {b.shape}",
            why="both operands need at least two axes, (..., M, K) and (..., K, N), and the "
                "inner sizes K must agree",
            fix="reshape a vector to (1, K) or (K, 1), or transpose the operand whose inner "
                "size is wrong",
        ))


# --- Matrix products -----------------------------------------------------------------------------


def vectorized_matmul(a: Any, b: Any) -> Tensor:
    """a @ b in one call into BLAS: the baseline that the blocked version must equal.

    Differentiable (it is the framework's own MatMul). Leading axes broadcast as in
    ``np.matmul``.

    Shapes:
        a: (..., M, K)    b: (..., K, N)    returns (..., M, N)

    Example:
        >>> vectorized_matmul([[1.0, 2.0], [3.0, 4.0]], [[5.0, 6.0], [7.0, 8.0]]).tolist()
        [[19.0, 22.0], [43.0, 50.0]]
    """
    left, right = _as_tensor(a), _as_tensor(b)
    _check_matmul(left, right, "vectorized_matmul")
    return left @ right


def _blocked(a: Array, b: Array, tile: int) -> Array:
    """(..., M, K) @ (..., K, N) accumulated tile by tile: C[i, j] += A[i, k] @ B[k, j]."""
    m, k = a.shape[-2:]
    n = b.shape[-1]
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    out = np.zeros(batch + (m, n), dtype=np.result_type(a, b))
    for i in range(0, m, tile):
        for j in range(0, n, tile):
            block = out[..., i:i + tile, j:j + tile]           # a view: += writes into out
            for p in range(0, k, tile):                        # the last tiles may be partial
                block += a[..., i:i + tile, p:p + tile] @ b[..., p:p + tile, j:j + tile]
    return out


class TiledMatMul(Function):
    """a @ b computed block by block; its gradients are blocked products too."""

    @staticmethod
    def forward(ctx: Node, a: Array, b: Array, *, tile_size: int) -> Array:
        ctx.save_for_backward(a, b)
        ctx.tile_size = tile_size
        return _blocked(a, b, tile_size)

    @staticmethod
    def backward(ctx: Node, grad: Array) -> tuple[Array | None, Array | None]:
        a, b = ctx.saved_tensors
        # in the broadcast batch shape; the engine sums it back to each operand's own shape
        grad_a = _blocked(grad, np.swapaxes(b, -1, -2), ctx.tile_size) \
            if ctx.needs_input_grad[0] else None
        grad_b = _blocked(np.swapaxes(a, -1, -2), grad, ctx.tile_size) \
            if ctx.needs_input_grad[1] else None
        return grad_a, grad_b


def tiled_matmul(a: Any, b: Any, tile_size: int = 64) -> Tensor:
    """a @ b computed in tile_size x tile_size blocks: the loop order of a cache-blocked GEMM.

    The output is split into tiles; each tile accumulates the products of a row strip of ``a``
    and a column strip of ``b``, one (tile x tile) pair at a time, so the three blocks in use
    (3 * tile^2 * 4 bytes: 48 KiB at tile 64) stay in the L1/L2 cache while they are reused.
    Any shapes work (the last tiles are partial) and leading axes broadcast as in
    ``np.matmul``. Differentiable: the gradients are blocked products as well.

    When it helps, measured (``benchmarks/workloads_systems.py``): in NumPy, not for speed. The
    product of two whole matrices is already one BLAS call, and BLAS blocks for every cache
    level, for registers and for threads. The Python loop over tiles adds a call per block and
    makes each BLAS call too small to use both cores. Blocking is what you write where there
    is no BLAS (a GPU kernel, a microcontroller, a compiler's loop nest), or when the operands
    do not fit in memory at once (stream the k strips from disk). The result equals
    ``np.matmul`` up to float rounding (the sums are added in another order).

    Args:
        a, b: (..., M, K) and (..., K, N) tensors or arrays.
        tile_size: the block edge, at least 1.

    Raises:
        ShapeError: fewer than two axes, or the inner sizes differ.
        ConfigError: ``tile_size`` is not a positive integer.

    Example:
        >>> tiled_matmul(np.ones((3, 5)), np.ones((5, 2)), tile_size=2).tolist()
        [[5.0, 5.0], [5.0, 5.0], [5.0, 5.0]]
    """
    a, b = _as_tensor(a), _as_tensor(b)
    _check_matmul(a, b, "tiled_matmul")
    if isinstance(tile_size, bool) or not isinstance(tile_size, (int, np.integer)) \
            or tile_size < 1:
        raise ConfigError(explain(
            what=f"tiled_matmul got tile_size={tile_size!r}",
            why="the tile is the edge of a square block, a whole number of rows and columns",
            fix="pass a positive integer such as 32 or 64",
        ))
    return TiledMatMul.apply(a, b, tile_size=int(tile_size))


# --- GELU: fused and unfused ---------------------------------------------------------------------


def fused_gelu(x: Any) -> Tensor:
    """GELU (tanh form) as one op: in-place ufuncs into two arrays, two arrays kept for backward.

    This is the framework's own GELU kernel (``ops.Gelu``, used by ``activations.GELU``): after
    the first product every step writes into the same array with ``out=``. NumPy still makes
    one pass over memory per ufunc (true one-pass fusion needs a compiler: numexpr, Numba,
    Triton), but the fused form allocates two arrays instead of nine, keeps one array beside x
    for backward instead of six, and backward is one op instead of nine (measured by
    ``gelu_memory``, timed in the benchmarks).

    Example:
        >>> round(fused_gelu([1.0]).item(), 4)
        0.8412
    """
    return ops.Gelu.apply(_as_tensor(x), approximate="tanh")


def unfused_gelu(x: Any) -> Tensor:
    """GELU (tanh form) composed of nine tensor ops, each one a fresh array and a graph node.

    0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 * x^3))). The same values as
    ``fused_gelu`` (within float32 rounding) and, by the chain rule through the composed ops,
    the same gradient.

    Example:
        >>> round(unfused_gelu([1.0]).item(), 4)
        0.8412
    """
    t = _as_tensor(x)
    cube = t * t * t
    inner = (t + cube * _GELU_CUBIC) * _SQRT_2_OVER_PI
    return t * 0.5 * (inner.tanh() + 1.0)


def gelu_memory(x: Any) -> dict[str, int]:
    """Measured bytes of both GELUs on ``x``: held after forward and saved for backward.

    ``*_held_bytes`` is the traced memory (``tracemalloc``) that the output and its graph keep
    alive between forward and backward; ``*_saved_bytes`` counts the arrays the graph saved.

    Example:
        >>> report = gelu_memory(Tensor(np.ones(10_000), requires_grad=True))
        >>> report["fused_saved_bytes"] < report["unfused_saved_bytes"]
        True
    """
    x = _as_tensor(x)
    report: dict[str, int] = {}
    for name, gelu in (("fused", fused_gelu), ("unfused", unfused_gelu)):
        out, held = held_bytes(gelu, x)
        report[f"{name}_held_bytes"] = held
        report[f"{name}_saved_bytes"] = saved_activation_bytes(out)
    return report


# --- Convolution as one GEMM: im2col and col2im --------------------------------------------------


class Im2col(Function):
    """Patches as rows, (N * Ho * Wo, C * kh * kw); backward adds them back with col2im."""

    @staticmethod
    def forward(ctx: Node, x: Array, *, kernel_size: Any, stride: Any, padding: Any,
                dilation: Any) -> Array:
        ctx.geometry = (x.shape, kernel_size, stride, padding, dilation)
        cols: Array = windows.im2col(x, kernel_size, stride, padding, dilation)
        return cols.transpose()

    @staticmethod
    def backward(ctx: Node, grad: Array) -> Array:
        shape, *geometry = ctx.geometry
        return windows.col2im(grad.T, shape, *geometry)


class Col2im(Function):
    """Rows of patches summed back into an image; backward cuts the gradient into patches."""

    @staticmethod
    def forward(ctx: Node, cols: Array, *, input_shape: tuple[int, int, int, int], kernel_size: Any,
                stride: Any, padding: Any, dilation: Any) -> Array:
        ctx.geometry = (kernel_size, stride, padding, dilation)
        return windows.col2im(cols.T, input_shape, kernel_size, stride, padding, dilation)

    @staticmethod
    def backward(ctx: Node, grad: Array) -> Array:
        cols: Array = windows.im2col(grad, *ctx.geometry)
        return cols.transpose()


def _check_patches(cols: Tensor, input_shape: tuple[int, ...], kernel_size: Any, stride: Any,
                   padding: Any, dilation: Any) -> None:
    geom = windows.window_geometry(tuple(input_shape), kernel_size, stride, padding, dilation,
                                   "col2im")
    n, c = input_shape[:2]
    expected = (n * math.prod(geom.out_hw), c * math.prod(geom.kernel))
    if cols.shape != expected:
        raise ShapeError(explain(
            what=f"col2im got patches of shape {cols.shape}; input_shape={tuple(input_shape)} "
                 f"with this kernel, stride and padding makes {expected}",
            why="col2im reverses an im2col, so it needs the same input shape and geometry",
            fix="pass the input_shape, kernel_size, stride and padding the im2col used",
        ))


def im2col(x: Any, kernel_size: Any, stride: Any = 1, padding: Any = 0,
           dilation: Any = 1) -> Tensor:
    """Unroll every kernel window of an NCHW batch into one row of a matrix (differentiable).

    Row ``(n * Ho + y) * Wo + x`` is the window under output pixel (y, x) of image n; column
    ``(c * kh + i) * kw + j`` is channel c at kernel offset (i, j), the order in which
    ``weight.reshape(out_channels, -1)`` flattens a filter. So a convolution is
    ``im2col(x) @ weight.reshape(O, -1).T``. The matrix is about kh * kw times the input:
    that memory buys one large GEMM instead of seven nested loops. (``Conv2d`` uses the same
    arrays from ``tinytorch.core.windows``, transposed and with the batch axis innermost.)

    Shapes:
        x: (N, C, H, W) -> returns (N * Ho * Wo, C * kh * kw)

    Example:
        >>> x = Tensor(np.arange(1.0, 10.0).reshape(1, 1, 3, 3))
        >>> im2col(x, 2).tolist()
        [[1.0, 2.0, 4.0, 5.0], [2.0, 3.0, 5.0, 6.0], [4.0, 5.0, 7.0, 8.0], [5.0, 6.0, 8.0, 9.0]]
    """
    return Im2col.apply(_as_tensor(x), kernel_size=kernel_size, stride=stride, padding=padding,
                        dilation=dilation)


def col2im(cols: Any, input_shape: tuple[int, ...], kernel_size: Any, stride: Any = 1,
           padding: Any = 0, dilation: Any = 1) -> Tensor:
    """Add each row of patches back onto the pixels it came from: the adjoint of ``im2col``.

    A pixel covered by several windows receives the sum of their entries, which is exactly the
    gradient of ``im2col`` (so col2im is not its inverse, unless the windows do not overlap).

    Shapes:
        cols: (N * Ho * Wo, C * kh * kw) -> returns ``input_shape`` (N, C, H, W)

    Raises:
        ShapeError: ``cols`` does not match the geometry.

    Example:
        >>> col2im(np.ones((4, 4)), (1, 1, 3, 3), 2)[0, 0].tolist()   # windows per pixel
        [[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]
    """
    cols = _as_tensor(cols)
    _check_patches(cols, input_shape, kernel_size, stride, padding, dilation)
    return Col2im.apply(cols, input_shape=tuple(input_shape), kernel_size=kernel_size,
                        stride=stride, padding=padding, dilation=dilation)


def im2col_conv2d(x: Any, weight: Any, bias: Any = None, stride: Any = 1,
                  padding: Any = 0) -> Tensor:
    """2-D convolution as one GEMM over the im2col matrix; differentiable through col2im.

    Computes what ``Conv2d`` computes with the same weight (O, C, kh, kw) and bias (O,), built
    from tensor ops so that autograd derives all three gradients.

    Shapes:
        x: (N, C, H, W) -> returns (N, O, Ho, Wo)

    Example:
        >>> im2col_conv2d(np.ones((1, 1, 3, 3)), np.ones((2, 1, 2, 2))).shape
        (1, 2, 2, 2)
    """
    images, filters = _as_tensor(x), _as_tensor(weight)
    if filters.ndim != 4 or images.ndim != 4 or images.shape[1] != filters.shape[1]:
        raise ShapeError(explain(
            what=f"im2col_conv2d got input {images.shape} and weight {filters.shape}",
            why="the input is (N, C, H, W) and the weight (out_channels, C, kh, kw): the input "
                "channels must match",
            fix="pass a Conv2d's weight and an NCHW batch with its in_channels",
        ))
    out_channels, kernel = filters.shape[0], filters.shape[2:]
    cols = im2col(images, kernel, stride, padding)                    # (N*Ho*Wo, C*kh*kw)
    out = cols @ filters.reshape(out_channels, -1).transpose()        # (N*Ho*Wo, O)
    if bias is not None:
        out = out + bias
    geom = windows.window_geometry(images.shape, kernel, stride, padding, 1, "im2col_conv2d")
    return out.reshape(images.shape[0], *geom.out_hw, out_channels).permute(0, 3, 1, 2)


# --- The upstream-style face ---------------------------------------------------------------------


class Accelerator:
    """One object that offers the accelerated ops, mixed precision and checkpointing.

    Args:
        tile_size: block edge for ``matmul(..., tiled=True)``.
        mixed_precision: ``prepare`` returns a float16 trainer with loss scaling.
        init_scale, growth_interval: passed to the ``GradScaler`` that ``prepare`` builds.

    Example:
        >>> acc = Accelerator(tile_size=2)
        >>> acc.matmul(np.eye(3), np.ones((3, 1)), tiled=True).tolist()
        [[1.0], [1.0], [1.0]]
    """

    def __init__(self, tile_size: int = 64, mixed_precision: bool = False,
                 init_scale: float = 2.0**16, growth_interval: int = 2000) -> None:
        self.tile_size = tile_size
        self.mixed_precision = mixed_precision
        self.init_scale, self.growth_interval = init_scale, growth_interval

    def matmul(self, a: Any, b: Any, tiled: bool = False) -> Tensor:
        """``vectorized_matmul``, or ``tiled_matmul`` with this accelerator's tile size."""
        return tiled_matmul(a, b, self.tile_size) if tiled else vectorized_matmul(a, b)

    def gelu(self, x: Any, fused: bool = True) -> Tensor:
        """``fused_gelu`` (default) or ``unfused_gelu``."""
        return fused_gelu(x) if fused else unfused_gelu(x)

    def conv2d(self, x: Any, weight: Any, bias: Any = None, stride: Any = 1,
               padding: Any = 0) -> Tensor:
        """``im2col_conv2d``."""
        return im2col_conv2d(x, weight, bias, stride, padding)

    def checkpoint(self, fn: Callable[..., Tensor], *inputs: Any) -> Tensor:
        """``checkpoint``: run ``fn`` now without keeping its activations; recompute in backward."""
        return checkpoint(fn, *inputs)

    def prepare(self, model: Any, optimizer: Any, loss_fn: Any) -> MixedPrecisionTrainer:
        """A trainer: float16 with loss scaling if ``mixed_precision``, else plain float32."""
        scaler = GradScaler(self.init_scale, growth_interval=self.growth_interval,
                            enabled=self.mixed_precision)
        return MixedPrecisionTrainer(model, optimizer, loss_fn, scaler,
                                     half=self.mixed_precision)

    @staticmethod
    def compare(fast: Callable[..., Any], baseline: Callable[..., Any], *args: Any,
                repeats: int = 5) -> dict[str, float]:
        """Median seconds of both callables on ``args``, the speed-up, and their largest gap."""
        def median_time(fn: Callable[..., Any]) -> tuple[float, Array]:
            times, result = [], None
            for _ in range(repeats):
                start = time.perf_counter()
                result = fn(*args)
                times.append(time.perf_counter() - start)
            return float(np.median(times)), np.asarray(getattr(result, "data", result))

        fast_s, fast_out = median_time(fast)
        base_s, base_out = median_time(baseline)
        gap = float(np.max(np.abs(fast_out.astype(np.float64) - base_out))) \
            if fast_out.size else 0.0
        return {"fast_s": fast_s, "baseline_s": base_s, "speedup": base_s / fast_s,
                "max_abs_diff": gap}


__all__ = [
    "Accelerator", "Col2im", "GradScaler", "Im2col", "MixedPrecisionModel",
    "MixedPrecisionTrainer", "TiledMatMul", "checkpoint", "checkpoint_sequential", "col2im",
    "fused_gelu", "gelu_memory", "im2col", "im2col_conv2d", "tiled_matmul", "unfused_gelu",
    "vectorized_matmul",
]
