"""Tensor: an n-dimensional array that remembers how it was computed, so it can be differentiated.

Every differentiable method is one call into ``tinytorch.core.ops`` or a composition of other
methods; the gradient formulas live with the ops, the engine in ``autograd``.

Example:
    >>> x = Tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    >>> (x * x).sum().backward()
    >>> x.grad.tolist()
    [[2.0, 4.0], [6.0, 8.0]]
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from tinytorch.core import autograd, ops
from tinytorch.core.autograd import Node
from tinytorch.core.broadcasting import broadcasts_to, normalize_axes, normalize_axis
from tinytorch.core.dtypes import require_device_arg, resolve_dtype
from tinytorch.core.errors import DTypeError, ShapeError, explain
from tinytorch.core.inplace import InPlaceMethods
from tinytorch.core.rng import get_rng
from tinytorch.core.tensor_methods import TorchMethods, extreme
from tinytorch.core.tensor_methods import plain_index as _plain_index

Axis = int | Sequence[int] | None
TensorLike = Any  # Tensor, ndarray, list or Python number


class _Size(int):
    """The element count, which can also be called like PyTorch's ``size(dim=None)``."""

    shape: tuple[int, ...]

    def __new__(cls, shape: tuple[int, ...]) -> _Size:
        size = super().__new__(cls, math.prod(shape))
        size.shape = shape
        return size

    def __call__(self, dim: int | None = None) -> tuple[int, ...] | int:
        return self.shape if dim is None else self.shape[dim]


def _to_array(data: Any, dtype: Any) -> np.ndarray:
    """Copy user data into a fresh array: float32 unless a dtype is given explicitly."""
    if isinstance(data, Tensor):
        data = data.data
    dtype = resolve_dtype(dtype)
    if dtype is None:
        dtype = data.dtype if isinstance(data, np.ndarray) and data.dtype == bool else np.float32
    try:
        array = np.array(data, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise DTypeError(explain(
            what=f"cannot build a tensor from {type(data).__name__} data with dtype {dtype} "
                 f"({exc})",
            why="a tensor holds a rectangular array of numbers",
            fix="pass numbers, a (nested, rectangular) list of numbers or a NumPy array",
        )) from None
    return array


class Tensor(TorchMethods, InPlaceMethods):
    """An array of numbers with optional gradient tracking.

    Args:
        data: numbers, nested lists, a NumPy array or a Tensor (copied).
        requires_grad: record operations on this tensor so ``backward`` can fill ``.grad``.
        dtype: storage type; floating data defaults to float32. An integer dtype stays integer.

    Attributes:
        data: the underlying ``np.ndarray``.
        grad: the accumulated gradient (a Tensor) or None.
        grad_fn: the Node that produced this tensor, or None for a leaf.

    PyTorch's further methods (``to``, ``gather``, ``topk``, ...) come from ``TorchMethods``
    (core/tensor_methods.py), the in-place family from ``InPlaceMethods`` (core/inplace.py).
    """

    __array_priority__ = 100  # ndarray (op) Tensor defers to Tensor's reflected operators

    def __init__(self, data: TensorLike, requires_grad: bool = False, dtype: Any = None) -> None:
        self.data = _to_array(data, dtype)
        self.grad_fn: Node | None = None
        self._grad: Tensor | None = None
        self._retains_grad = False
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _from_op(cls, data: np.ndarray, grad_fn: Node | None) -> Tensor:
        """Wrap an op's output without copying (the fast path used by Function.apply)."""
        out = object.__new__(Tensor)
        out.data = data if isinstance(data, np.ndarray) else np.asarray(data)
        out.grad_fn = grad_fn
        out._grad = None
        out._retains_grad = False
        out.requires_grad = grad_fn is not None
        return out

    # --- properties -----------------------------------------------------------------------

    @property
    def shape(self) -> tuple[int, ...]:
        """The size of each axis."""
        return self.data.shape

    @property
    def size(self) -> _Size:
        """The number of elements (callable as ``size()`` for the shape, like PyTorch)."""
        return _Size(self.data.shape)

    @property
    def ndim(self) -> int:
        """The number of axes."""
        return self.data.ndim

    @property
    def dtype(self) -> np.dtype[Any]:
        """The NumPy dtype of the data."""
        return self.data.dtype

    @property
    def grad(self) -> Tensor | None:
        """The accumulated gradient; an ndarray assigned here is wrapped in a Tensor."""
        return self._grad

    @grad.setter
    def grad(self, value: TensorLike | None) -> None:
        if value is None or isinstance(value, Tensor):
            self._grad = value
        else:
            self._grad = Tensor._from_op(np.asarray(value), None)

    @property
    def _grad_fn(self) -> Node | None:
        """Upstream's name for ``grad_fn``."""
        return self.grad_fn

    @property
    def is_leaf(self) -> bool:
        """True for tensors created by the user rather than by a recorded op."""
        return self.grad_fn is None

    @property
    def T(self) -> Tensor:  # noqa: N802  (PyTorch's name)
        """The tensor with its last two axes swapped (a vector is returned as is)."""
        return self if self.ndim < 2 else self.transpose(-2, -1)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Turn gradient tracking on or off for this leaf; returns self."""
        if requires_grad and self.data.dtype.kind != "f":
            raise DTypeError(explain(
                what=f"requires_grad=True was asked of a tensor with dtype {self.data.dtype}",
                why="only floating-point tensors can have gradients (a slope needs fractions)",
                fix="create it with a float dtype, e.g. Tensor(data, dtype=np.float32)",
            ))
        self.requires_grad = bool(requires_grad)
        return self

    def retain_grad(self) -> Tensor:
        """Keep ``.grad`` on this non-leaf tensor after backward (leaves always keep it)."""
        self._retains_grad = True
        return self

    # --- conversion ------------------------------------------------------------------------

    def numpy(self) -> np.ndarray:
        """The data as a NumPy array (shared, not copied)."""
        return self.data

    def item(self) -> float | int | bool:
        """The single element as a Python number."""
        if self.data.size != 1:
            raise ShapeError(explain(
                what=f"item() was called on a tensor of shape {self.shape} "
                     f"with {self.data.size} elements",
                why="only a one-element tensor can be turned into a Python number",
                fix="reduce it first (e.g. .sum() or .mean()) or index a single element",
            ))
        return self.data.item()

    def tolist(self) -> Any:
        """The data as (nested) Python lists."""
        return self.data.tolist()

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        return self.data if dtype is None else self.data.astype(dtype)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __bool__(self) -> bool:
        return bool(self.item())

    def __len__(self) -> int:
        return len(self.data)

    def __iter__(self) -> Iterator[Tensor]:
        return (self[i] for i in range(len(self)))

    def __repr__(self) -> str:
        body = np.array2string(self.data, precision=4, separator=", ", prefix="Tensor(")
        extra = f", grad_fn=<{self.grad_fn.name}>" if self.grad_fn is not None else (
            ", requires_grad=True" if self.requires_grad else "")
        dtype = "" if self.data.dtype == np.float32 else f", dtype={self.data.dtype}"
        return f"Tensor({body}{dtype}{extra})"

    def astype(self, dtype: Any) -> Tensor:
        """A copy converted to ``dtype`` (not differentiable)."""
        return Tensor(self.data, dtype=dtype)

    def copy(self) -> Tensor:
        """A detached copy of the data (upstream code calls ``grad.copy()`` like an array's)."""
        return Tensor(self.data, dtype=self.data.dtype)

    def clone(self) -> Tensor:
        """A differentiable copy (gradient flows back unchanged)."""
        return self + 0

    def detach(self) -> Tensor:
        """The same data, cut from the graph: it requires no grad and has no grad_fn."""
        return Tensor._from_op(self.data, None)

    def zero_grad(self) -> None:
        """Forget the accumulated gradient."""
        self._grad = None

    def memory_footprint(self) -> int:
        """Bytes used by the data."""
        return int(self.data.nbytes)

    def backward(self, gradient: TensorLike | None = None, retain_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into the ``.grad`` of every leaf that requires grad."""
        autograd.backward(self, gradient, retain_graph=retain_graph)

    # --- arithmetic ------------------------------------------------------------------------

    def __add__(self, other: TensorLike) -> Tensor:
        return ops.Add.apply(self, other)

    def __radd__(self, other: TensorLike) -> Tensor:
        return ops.Add.apply(other, self)

    def __sub__(self, other: TensorLike) -> Tensor:
        return ops.Sub.apply(self, other)

    def __rsub__(self, other: TensorLike) -> Tensor:
        return ops.Sub.apply(other, self)

    def __mul__(self, other: TensorLike) -> Tensor:
        return ops.Mul.apply(self, other)

    def __rmul__(self, other: TensorLike) -> Tensor:
        return ops.Mul.apply(other, self)

    def __truediv__(self, other: TensorLike) -> Tensor:
        return ops.Div.apply(self, other)

    def __rtruediv__(self, other: TensorLike) -> Tensor:
        return ops.Div.apply(other, self)

    def __neg__(self) -> Tensor:
        return ops.Neg.apply(self)

    def __pos__(self) -> Tensor:
        return self

    def __pow__(self, exponent: TensorLike) -> Tensor:
        if isinstance(exponent, np.number):  # as a Python number: no log of negative bases,
            exponent = exponent.item()       # and no float64 upcast from a NumPy scalar
        if isinstance(exponent, (int, float)):
            return ops.Pow.apply(self, exponent=exponent)
        return (self.log() * exponent).exp()  # a tensor exponent: a^b = e^(b ln a), a > 0

    def __rpow__(self, base: float) -> Tensor:
        if base <= 0:
            raise ValueError(explain(
                what=f"{base} ** tensor needs a positive base",
                why="it is computed as e^(x ln base), and ln is defined only for base > 0",
                fix="use a positive base, or write the power with an explicit sign",
            ))
        return (self * math.log(base)).exp()

    def __matmul__(self, other: TensorLike) -> Tensor:
        return self.matmul(other)

    def __rmatmul__(self, other: TensorLike) -> Tensor:
        # Not Tensor(other): that copies to float32 and would round a float64 array.
        _check_matmul_shapes(np.shape(getattr(other, "data", other)), self.shape)
        return ops.MatMul.apply(other, self)

    def matmul(self, other: TensorLike) -> Tensor:
        """Matrix product with NumPy's rules for 1-D and batched operands."""
        other_shape = np.shape(getattr(other, "data", other))
        _check_matmul_shapes(self.shape, other_shape)
        return ops.MatMul.apply(self, other)

    # --- comparisons (not differentiable; they return boolean tensors) ---------------------

    def _compare(self, other: TensorLike, ufunc: np.ufunc) -> Tensor:
        return Tensor._from_op(ufunc(self.data, getattr(other, "data", other)), None)

    def __eq__(self, other: object) -> Tensor:  # type: ignore[override]
        return self._compare(other, np.equal)

    def __ne__(self, other: object) -> Tensor:  # type: ignore[override]
        return self._compare(other, np.not_equal)

    def __lt__(self, other: TensorLike) -> Tensor:
        return self._compare(other, np.less)

    def __le__(self, other: TensorLike) -> Tensor:
        return self._compare(other, np.less_equal)

    def __gt__(self, other: TensorLike) -> Tensor:
        return self._compare(other, np.greater)

    def __ge__(self, other: TensorLike) -> Tensor:
        return self._compare(other, np.greater_equal)

    __hash__ = object.__hash__  # identity: tensors can be dict keys and set members

    # --- elementwise functions -------------------------------------------------------------

    def exp(self) -> Tensor:
        """e ** self."""
        return ops.Exp.apply(self)

    def log(self) -> Tensor:
        """Natural logarithm."""
        return ops.Log.apply(self)

    def sqrt(self) -> Tensor:
        """Square root."""
        return ops.Sqrt.apply(self)

    def abs(self) -> Tensor:
        """Absolute value."""
        return ops.Abs.apply(self)

    def clip(self, min_val: float | None = None, max_val: float | None = None, *,
             min: float | None = None, max: float | None = None) -> Tensor:  # noqa: A002
        """Limit values to [min_val, max_val]; the gradient passes only inside the range.

        PyTorch's keywords ``min=`` and ``max=`` are accepted too (``clamp`` is the same).
        """
        min_val = min if min_val is None else min_val
        max_val = max if max_val is None else max_val
        if min_val is None and max_val is None:
            raise ValueError(explain(
                what="clip() was called with neither min_val nor max_val",
                why="clipping needs at least one bound",
                fix="pass min_val, max_val or both",
            ))
        return ops.Clip.apply(self, low=min_val, high=max_val)

    clamp = clip

    def tanh(self) -> Tensor:
        """Hyperbolic tangent."""
        return ops.Tanh.apply(self)

    def sigmoid(self) -> Tensor:
        """Logistic sigmoid, stable for large |x|."""
        return ops.Sigmoid.apply(self)

    def relu(self) -> Tensor:
        """max(self, 0)."""
        return ops.Relu.apply(self)

    def softmax(self, dim: int = -1) -> Tensor:
        """Softmax along ``dim`` (max-shifted, so it never overflows)."""
        return ops.Softmax.apply(self, axis=normalize_axis(dim, self.ndim))

    def log_softmax(self, dim: int = -1) -> Tensor:
        """log(softmax(self)) along ``dim``, computed stably in one op."""
        return ops.LogSoftmax.apply(self, axis=normalize_axis(dim, self.ndim))

    def masked_fill(self, mask: TensorLike, value: float) -> Tensor:
        """Replace the elements where ``mask`` is true by ``value``."""
        condition = np.asarray(getattr(mask, "data", mask), dtype=bool)
        if not broadcasts_to(condition.shape, self.shape):
            raise ShapeError(explain(
                what=f"masked_fill got a mask of shape {condition.shape} for a tensor of shape "
                     f"{self.shape}",
                why="the mask must broadcast to the tensor's shape; the result keeps that shape",
                fix="reshape the mask (e.g. add size-1 axes) so it lines up with the tensor",
            ))
        return ops.Where.apply(value, self, condition=condition)

    # --- reductions ------------------------------------------------------------------------

    # Each reduction takes the course's (axis, keepdims) and PyTorch's (dim, keepdim) names.

    def sum(self, axis: Axis = None, keepdims: bool = False, *, dim: Axis = None,
            keepdim: bool = False) -> Tensor:
        """Sum over ``axis`` (``dim`` is accepted too; all axes when both are None)."""
        return ops.Sum.apply(self, axis=_pick_axis(axis, dim), keepdims=keepdims or keepdim)

    def mean(self, axis: Axis = None, keepdims: bool = False, *, dim: Axis = None,
             keepdim: bool = False) -> Tensor:
        """Arithmetic mean over ``axis``."""
        axes = normalize_axes(_pick_axis(axis, dim), self.ndim)
        count = math.prod(self.shape[a] for a in axes)
        return self.sum(axis=axes, keepdims=keepdims or keepdim) * (1.0 / max(count, 1))

    def var(self, axis: Axis = None, keepdims: bool = False, *, dim: Axis = None,
            keepdim: bool = False, correction: int = 0) -> Tensor:
        """Variance over ``axis``; ``correction=1`` gives the unbiased (n - 1) estimate."""
        axes = normalize_axes(_pick_axis(axis, dim), self.ndim)
        count = math.prod(self.shape[a] for a in axes)
        centered = self - self.mean(axis=axes, keepdims=True)
        return (centered * centered).sum(axis=axes, keepdims=keepdims or keepdim) * (
            1.0 / max(count - correction, 1))

    def std(self, axis: Axis = None, keepdims: bool = False, *, dim: Axis = None,
            keepdim: bool = False, correction: int = 0) -> Tensor:
        """Standard deviation over ``axis`` (see ``var``)."""
        return self.var(axis, keepdims or keepdim, dim=dim, correction=correction).sqrt()

    def max(self, dim: Any = None, keepdim: bool = False, *, axis: Axis = None,
            keepdims: bool = False) -> Any:
        """Largest value: a Tensor over ``axis``, or PyTorch's (values, indices) for ``dim``.

        ``x.max()`` and ``x.max(axis=1)`` return values (tied maxima share the gradient);
        ``x.max(1)`` and ``x.max(dim=1)`` return ``(values, indices)`` as in PyTorch;
        ``x.max(other_tensor)`` is the elementwise maximum.
        """
        if isinstance(dim, Tensor):
            return ops.Maximum.apply(self, dim)
        return extreme(self, ops.Max, np.argmax, dim, keepdim, axis, keepdims)

    def min(self, dim: Any = None, keepdim: bool = False, *, axis: Axis = None,
            keepdims: bool = False) -> Any:
        """Smallest value; the same forms as ``max``."""
        if isinstance(dim, Tensor):
            return ops.Minimum.apply(self, dim)
        return extreme(self, ops.Min, np.argmin, dim, keepdim, axis, keepdims)

    def argmax(self, axis: int | None = None, keepdims: bool = False, *,
               dim: int | None = None, keepdim: bool = False) -> Tensor:
        """Index of the largest value (over the flattened tensor when axis is None)."""
        axis = _pick_axis(axis, dim)
        found = np.argmax(self.data, axis=axis, keepdims=keepdims or keepdim)
        return Tensor(found, dtype=np.int64)

    def argmin(self, axis: int | None = None, keepdims: bool = False, *,
               dim: int | None = None, keepdim: bool = False) -> Tensor:
        """Index of the smallest value."""
        axis = _pick_axis(axis, dim)
        found = np.argmin(self.data, axis=axis, keepdims=keepdims or keepdim)
        return Tensor(found, dtype=np.int64)

    # --- shape -----------------------------------------------------------------------------

    def reshape(self, *shape: int | Sequence[int]) -> Tensor:
        """The same elements in a new shape; one size may be -1 (inferred)."""
        target = _resolve_shape(self.shape, shape)
        if target == self.shape:
            return self
        return ops.Reshape.apply(self, shape=target)

    view = reshape

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        """Merge the axes from ``start_dim`` to ``end_dim`` into one."""
        if self.ndim == 0:
            return self.reshape(1)
        start, end = normalize_axis(start_dim, self.ndim), normalize_axis(end_dim, self.ndim)
        merged = math.prod(self.shape[start:end + 1])
        return self.reshape(self.shape[:start] + (merged,) + self.shape[end + 1:])

    def transpose(self, dim0: int = -2, dim1: int = -1) -> Tensor:
        """Swap two axes (the last two by default)."""
        axes = list(range(self.ndim))
        a, b = normalize_axis(dim0, self.ndim), normalize_axis(dim1, self.ndim)
        axes[a], axes[b] = axes[b], axes[a]
        return ops.Permute.apply(self, axes=tuple(axes))

    def permute(self, *dims: int | Sequence[int]) -> Tensor:
        """Reorder the axes: axis i of the result is axis ``dims[i]`` of self."""
        order = tuple(dims[0]) if len(dims) == 1 and not isinstance(dims[0], int) else dims
        axes = tuple(normalize_axis(int(d), self.ndim) for d in order)  # type: ignore[arg-type]
        if sorted(axes) != list(range(self.ndim)):
            raise ShapeError(explain(
                what=f"permute{tuple(order)} is not a reordering of the {self.ndim} axes of a "
                     f"tensor of shape {self.shape}",
                why="each axis must appear exactly once",
                fix=f"list every axis 0..{self.ndim - 1} once",
            ))
        return ops.Permute.apply(self, axes=axes)

    def squeeze(self, dim: int | None = None) -> Tensor:
        """Remove axes of size 1 (only ``dim`` when given)."""
        if dim is None:
            return self.reshape(tuple(n for n in self.shape if n != 1))
        axis = normalize_axis(dim, self.ndim)
        if self.shape[axis] != 1:
            return self
        return self.reshape(self.shape[:axis] + self.shape[axis + 1:])

    def unsqueeze(self, dim: int) -> Tensor:
        """Insert an axis of size 1 at position ``dim``."""
        axis = normalize_axis(dim, self.ndim + 1)
        return self.reshape(self.shape[:axis] + (1,) + self.shape[axis:])

    def expand(self, *shape: int | Sequence[int]) -> Tensor:
        """Broadcast to a larger shape without copying (-1 keeps an axis)."""
        target = tuple(shape[0]) if len(shape) == 1 and not isinstance(shape[0], int) else shape
        lead = len(target) - self.ndim
        full = tuple(self.shape[i - lead] if n == -1 else n for i, n in enumerate(target))
        return ops.Expand.apply(self, shape=full)

    def __getitem__(self, index: Any) -> Tensor:
        return ops.Index.apply(self, index=_plain_index(index))

    # --- upstream conveniences -------------------------------------------------------------

    def numel(self) -> int:
        """The number of elements."""
        return int(self.data.size)

    def dim(self) -> int:
        """The number of axes."""
        return self.data.ndim


class Parameter(Tensor):
    """A tensor that is a learnable weight: it requires grad unless told otherwise."""

    def __init__(self, data: TensorLike, requires_grad: bool = True, dtype: Any = None) -> None:
        super().__init__(data, requires_grad=requires_grad, dtype=dtype)

    def __repr__(self) -> str:
        return "Parameter(" + super().__repr__()[len("Tensor("):]


# --- helpers for the methods above ------------------------------------------------------------


def _pick_axis(axis: Any, dim: Any) -> Any:
    return dim if axis is None else axis


def _resolve_shape(current: tuple[int, ...], shape: tuple[Any, ...]) -> tuple[int, ...]:
    """The target of a reshape, with one -1 inferred and the element count checked."""
    if len(shape) == 1 and not isinstance(shape[0], (int, np.integer)):
        shape = tuple(shape[0])
    target = [int(n) for n in shape]
    size = math.prod(current)
    if -1 not in target and math.prod(target) == size and min(target, default=0) >= 0:
        return tuple(target)                      # the common case, checked in one pass
    unknown = [i for i, n in enumerate(target) if n == -1]
    known = math.prod(n for n in target if n != -1)
    if len(unknown) > 1 or any(n < -1 for n in target):
        raise ShapeError(explain(
            what=f"reshape target {tuple(target)} is not a valid shape",
            why="sizes must be non-negative, with at most one -1 to be inferred",
            fix="give explicit sizes and at most one -1",
        ))
    if unknown and known and size % known == 0:
        target[unknown[0]] = size // known
    if math.prod(target) != size or (unknown and target[unknown[0]] == -1):
        inferred = " times the inferred -1" if unknown else ""
        raise ShapeError(explain(
            what=f"element count mismatch: cannot reshape a tensor of shape {current} "
                 f"({size} elements) to {tuple(shape)} ({known} elements{inferred})",
            why="a reshape must keep the total number of elements",
            fix=f"choose a shape whose sizes multiply to {size}",
        ))
    return tuple(target)


def _check_matmul_shapes(a: tuple[int, ...], b: tuple[int, ...]) -> None:
    if not a or not b:
        raise ShapeError(explain(
            what=f"matmul got a 0-d (scalar) operand: shapes {a} and {b}",
            why="matrix multiplication needs at least one axis on each side",
            fix="use * to scale by a scalar, or reshape the operand to a vector",
        ))
    inner_a, inner_b = a[-1], (b[0] if len(b) == 1 else b[-2])
    if inner_a != inner_b:
        raise ShapeError(explain(
            what=f"matmul of shapes {a} and {b}: inner dimensions {inner_a} and {inner_b} differ",
            why="for A @ B the last axis of A must equal the second-to-last axis of B",
            fix="transpose one operand, or check the layer sizes "
                f"(A has {inner_a} columns, B has {inner_b} rows)",
        ))


# --- joining, selection and factories ---------------------------------------------------------


def concat(tensors: Sequence[Tensor], axis: int = 0, *, dim: int | None = None) -> Tensor:
    """Join tensors along an existing axis."""
    tensors = _nonempty(tensors, "concat")
    axis = normalize_axis(dim if dim is not None else axis, tensors[0].ndim)
    _check_same_shapes(tensors, skip_axis=axis, what="concat")
    return ops.Concat.apply(*tensors, axis=axis)


cat = concat


def stack(tensors: Sequence[Tensor], axis: int = 0, *, dim: int | None = None) -> Tensor:
    """Stack same-shaped tensors along a new axis."""
    tensors = _nonempty(tensors, "stack")
    axis = dim if dim is not None else axis
    _check_same_shapes(tensors, skip_axis=None, what="stack")
    return ops.Stack.apply(*tensors, axis=normalize_axis(axis, tensors[0].ndim + 1))


def _nonempty(tensors: Sequence[Tensor], what: str) -> list[Tensor]:
    tensors = [t if isinstance(t, Tensor) else Tensor(t) for t in tensors]
    if not tensors:
        raise ShapeError(explain(what=f"{what}() got an empty list", why="there is nothing to join",
                                 fix="pass at least one tensor"))
    return tensors


def _check_same_shapes(tensors: list[Tensor], skip_axis: int | None, what: str) -> None:
    def key(t: Tensor) -> tuple[int, ...]:
        return tuple(n for i, n in enumerate(t.shape) if i != skip_axis)
    shapes = [tuple(t.shape) for t in tensors]
    if len({key(t) for t in tensors}) > 1 or len({t.ndim for t in tensors}) > 1:
        raise ShapeError(explain(
            what=f"{what}() got tensors of shapes {shapes}",
            why="all sizes must match" + ("" if skip_axis is None else
                                          f" except along axis {skip_axis}"),
            fix="reshape the tensors so that they line up",
        ))


def where(condition: TensorLike, x: TensorLike, y: TensorLike) -> Tensor:
    """Elementwise choice: x where condition is true, else y."""
    mask = np.asarray(getattr(condition, "data", condition), dtype=bool)
    return ops.Where.apply(x, y, condition=mask)


def maximum(a: TensorLike, b: TensorLike) -> Tensor:
    """Elementwise maximum (ties share the gradient)."""
    return ops.Maximum.apply(a, b)


def minimum(a: TensorLike, b: TensorLike) -> Tensor:
    """Elementwise minimum (ties share the gradient)."""
    return ops.Minimum.apply(a, b)


def _shape_arg(shape: tuple[Any, ...]) -> tuple[int, ...]:
    if len(shape) == 1 and not isinstance(shape[0], (int, np.integer)):
        return tuple(int(n) for n in shape[0])
    return tuple(int(n) for n in shape)


def _fresh(data: np.ndarray, requires_grad: bool) -> Tensor:
    out = Tensor._from_op(data, None)
    return out.requires_grad_(True) if requires_grad else out


def _dtype(dtype: Any, device: Any, default: Any = np.float32) -> Any:
    """A factory's dtype (PyTorch names accepted) after checking its ``device=`` (CPU only)."""
    require_device_arg(device)
    resolved = resolve_dtype(dtype)
    return default if resolved is None else resolved


def zeros(*shape: Any, requires_grad: bool = False, dtype: Any = np.float32,
          device: Any = None) -> Tensor:
    """A tensor of zeros."""
    return _fresh(np.zeros(_shape_arg(shape), dtype=_dtype(dtype, device)), requires_grad)


def ones(*shape: Any, requires_grad: bool = False, dtype: Any = np.float32,
         device: Any = None) -> Tensor:
    """A tensor of ones."""
    return _fresh(np.ones(_shape_arg(shape), dtype=_dtype(dtype, device)), requires_grad)


def full(shape: Any, fill_value: float, requires_grad: bool = False,
         dtype: Any = np.float32, device: Any = None) -> Tensor:
    """A tensor filled with ``fill_value`` (float32 unless told; see tinytorch.full too)."""
    data = np.full(_shape_arg((shape,)), fill_value, dtype=_dtype(dtype, device))
    return _fresh(data, requires_grad)


def randn(*shape: Any, requires_grad: bool = False, dtype: Any = np.float32,
          device: Any = None) -> Tensor:
    """Standard normal samples from the global generator (see ``manual_seed``)."""
    data = get_rng().standard_normal(_shape_arg(shape), dtype=np.float32)
    return _fresh(data.astype(_dtype(dtype, device), copy=False), requires_grad)


def rand(*shape: Any, requires_grad: bool = False, dtype: Any = np.float32,
         device: Any = None) -> Tensor:
    """Uniform samples in [0, 1) from the global generator."""
    data = get_rng().random(_shape_arg(shape), dtype=np.float32)
    return _fresh(data.astype(_dtype(dtype, device), copy=False), requires_grad)


def arange(start: float, stop: float | None = None, step: float = 1,
           dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    """Evenly spaced values in [start, stop); integer arguments give an int64 tensor."""
    data = np.arange(start, stop, step) if stop is not None else np.arange(start)
    default = np.int64 if data.dtype.kind in "iu" else np.float32
    return _fresh(data.astype(_dtype(dtype, device, default)), requires_grad)


def eye(n: int, m: int | None = None, requires_grad: bool = False,
        dtype: Any = np.float32, device: Any = None) -> Tensor:
    """The identity matrix."""
    return _fresh(np.eye(n, m, dtype=_dtype(dtype, device)), requires_grad)


def zeros_like(t: TensorLike, requires_grad: bool = False, dtype: Any = None,
               device: Any = None) -> Tensor:
    """Zeros with the shape and dtype of ``t`` (or ``dtype``)."""
    like = np.asarray(getattr(t, "data", t))
    return _fresh(np.zeros(like.shape, _dtype(dtype, device, like.dtype)), requires_grad)


def ones_like(t: TensorLike, requires_grad: bool = False, dtype: Any = None,
              device: Any = None) -> Tensor:
    """Ones with the shape and dtype of ``t`` (or ``dtype``)."""
    like = np.asarray(getattr(t, "data", t))
    return _fresh(np.ones(like.shape, _dtype(dtype, device, like.dtype)), requires_grad)
