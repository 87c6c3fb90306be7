"""PyTorch's Tensor methods beyond the course's core: conversion, selection, sorting, splitting.

``Tensor`` inherits these from ``TorchMethods``, so ``tensor.py`` stays about the course's own
object. Every differentiable method here is one call into ``ops`` or a composition of Tensor
methods, exactly as in ``tensor.py``; none holds a gradient formula.

Example:
    >>> from tinytorch.core.tensor import Tensor
    >>> x = Tensor([[3.0, 1.0, 2.0], [0.0, 5.0, 4.0]])
    >>> values, indices = x.topk(2)
    >>> values.tolist(), indices.tolist()
    ([[3.0, 2.0], [5.0, 4.0]], [[0, 2], [1, 2]])
"""

from __future__ import annotations

# A mixin calls the Tensor methods it is mixed into (reshape, _from_op, +, ...), which mypy
# cannot see from here; these codes would flag every such call.
# mypy: disable-error-code="attr-defined,return-value,no-any-return,operator,index"
import builtins
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from tinytorch.core import ops
from tinytorch.core.broadcasting import normalize_axes, normalize_axis
from tinytorch.core.dtypes import (
    CPU,
    check_device,
    device,
    is_dtype,
    require_device_arg,
    resolve_dtype,
)
from tinytorch.core.errors import DTypeError, IndexOutOfRangeError, ShapeError, explain

if TYPE_CHECKING:
    from tinytorch.core.tensor import Tensor

_TYPE_NAMES = {"float32": "FloatTensor", "float64": "DoubleTensor", "float16": "HalfTensor",
               "int64": "LongTensor", "int32": "IntTensor", "int16": "ShortTensor",
               "int8": "CharTensor", "uint8": "ByteTensor", "bool": "BoolTensor"}


class ValuesIndices(NamedTuple):
    """What ``max(dim)``, ``min(dim)``, ``sort`` and ``topk`` return, as in PyTorch."""

    values: Any
    indices: Any


def index_array(index: Any, what: str) -> np.ndarray:
    """An integer array from an index Tensor, array or list (integral floats accepted)."""
    array = np.asarray(getattr(index, "data", index))
    if array.dtype.kind == "f" and np.all(np.mod(array, 1) == 0):
        array = array.astype(np.int64)
    if array.dtype.kind not in "iu":
        raise DTypeError(explain(
            what=f"{what} got an index of dtype {array.dtype}",
            why="positions must be whole numbers",
            fix="pass an integer tensor, e.g. tinytorch.tensor([0, 2]) or x.long()",
        ))
    return array


def plain_index(index: Any) -> Any:
    """Replace Tensors inside an index by their arrays (integral floats become integers)."""
    if isinstance(index, tuple):
        return tuple(plain_index(i) for i in index)
    if isinstance(index, TorchMethods):
        index = index.data
    if isinstance(index, list):
        index = np.asarray(index)
    if isinstance(index, np.ndarray) and index.dtype.kind == "f":
        if not np.all(np.mod(index, 1) == 0):
            raise DTypeError(explain(
                what=f"an index holds non-integer values such as {index.ravel()[:3].tolist()}",
                why="positions must be whole numbers",
                fix="round or cast the index to an integer dtype",
            ))
        index = index.astype(np.int64)
    return index


class TorchMethods:
    """Mixin of PyTorch-named Tensor methods (see the module docstring)."""

    data: np.ndarray
    requires_grad: builtins.bool

    # --- dtype and device ------------------------------------------------------------------

    @property
    def device(self) -> device:
        """Always the CPU."""
        return CPU

    @property
    def is_cuda(self) -> builtins.bool:
        """False: tinytorch tensors live on the CPU."""
        return False

    def to(self, *args: Any, dtype: Any = None, device: Any = None,
           non_blocking: builtins.bool = False, copy: builtins.bool = False) -> Tensor:
        """This tensor with another dtype (or on a device: only the CPU exists).

        Accepts what PyTorch's ``to`` does: a dtype, a device (``"cpu"``), another tensor
        (take its dtype), or ``dtype=``/``device=`` keywords. Returns ``self`` when nothing
        changes; a dtype change is differentiable.

        Raises:
            ConfigError: a GPU device was asked for.
        """
        for arg in args:
            if isinstance(arg, TorchMethods):
                dtype = arg.data.dtype
            elif is_dtype(arg):
                dtype = arg
            else:
                check_device(arg)
        if device is not None:
            check_device(device)
        target = resolve_dtype(dtype)
        if target is None or target == self.data.dtype:
            return self.clone() if copy else self
        return self._cast(target)

    def _cast(self, target: np.dtype[Any]) -> Tensor:
        if target.kind == "f":
            return ops.Cast.apply(self, dtype=target)
        return self._from_op(self.data.astype(target), None)

    def cpu(self) -> Tensor:
        """This tensor (it is already on the CPU)."""
        return self

    def type(self, dtype: Any = None) -> Any:
        """With no argument, the type name (``'torch.FloatTensor'``); else ``to(dtype)``."""
        if dtype is None:
            return f"torch.{_TYPE_NAMES.get(str(self.data.dtype), 'Tensor')}"
        if isinstance(dtype, str) and dtype.removeprefix("torch.") in _TYPE_NAMES.values():
            name = dtype.removeprefix("torch.")
            dtype = next(k for k, v in _TYPE_NAMES.items() if v == name)
        return self.to(dtype)

    def type_as(self, other: Any) -> Tensor:
        """This tensor with ``other``'s dtype."""
        return self.to(np.asarray(getattr(other, "data", other)).dtype)

    def is_floating_point(self) -> builtins.bool:
        """True for float16/32/64 tensors."""
        return self.data.dtype.kind == "f"

    def element_size(self) -> builtins.int:
        """Bytes per element."""
        return builtins.int(self.data.itemsize)

    def nelement(self) -> builtins.int:
        """The number of elements (PyTorch's other name for ``numel``)."""
        return builtins.int(self.data.size)

    def __index__(self) -> builtins.int:
        """A one-element integer tensor used as an index: ``data[i:i + n]``, ``labels[t]``."""
        if self.data.size != 1 or self.data.dtype.kind not in "iub":
            raise TypeError(explain(
                what=f"a tensor of shape {self.data.shape} and dtype {self.data.dtype} was used "
                     "as a Python index",
                why="only a one-element integer tensor can stand for an int",
                fix="index with an integer tensor (x.long()), or call .item() / int(x)",
            ))
        return builtins.int(self.data.item())

    def __format__(self, spec: str) -> str:
        """A one-element tensor formats like its number (``f"{loss:.4f}"``), as in PyTorch."""
        if spec and self.data.size == 1:
            return format(self.data.item(), spec)
        return format(repr(self), spec)

    # --- shape -----------------------------------------------------------------------------

    def view_as(self, other: Any) -> Tensor:
        """The same elements in ``other``'s shape."""
        return self.reshape(np.shape(getattr(other, "data", other)))

    def expand_as(self, other: Any) -> Tensor:
        """Broadcast to ``other``'s shape."""
        return self.expand(np.shape(getattr(other, "data", other)))

    def contiguous(self) -> Tensor:
        """This tensor if its memory is in row-major order, else a row-major copy."""
        if self.data.flags.c_contiguous:
            return self
        return ops.Cast.apply(self, dtype=self.data.dtype)

    def t(self) -> Tensor:
        """Transpose of a matrix (a vector or scalar is returned as is)."""
        if self.data.ndim > 2:
            raise ShapeError(explain(
                what=f"t() was called on a tensor of shape {self.data.shape}",
                why="t() transposes matrices (at most 2 dimensions)",
                fix="use transpose(dim0, dim1) or permute(...) for more dimensions",
            ))
        return self.T

    def repeat(self, *sizes: Any) -> Tensor:
        """Tile the tensor: axis i is repeated ``sizes[i]`` times (leading new axes allowed)."""
        reps = tuple(sizes[0]) if len(sizes) == 1 and not isinstance(sizes[0], builtins.int) \
            else tuple(sizes)
        if len(reps) < self.data.ndim:
            raise ShapeError(explain(
                what=f"repeat{reps} on a tensor of shape {self.data.shape}",
                why="repeat needs one count per dimension (more counts add leading dimensions)",
                fix=f"give at least {self.data.ndim} counts",
            ))
        shape = (1,) * (len(reps) - self.data.ndim) + self.data.shape
        interleaved = tuple(n for pair in zip((1,) * len(shape), shape, strict=True) for n in pair)
        spread = tuple(n for pair in zip(reps, shape, strict=True) for n in pair)
        tiled = self.reshape(interleaved).expand(spread)
        return tiled.reshape(tuple(r * n for r, n in zip(reps, shape, strict=True)))

    def split(self, split_size_or_sections: Any, dim: builtins.int = 0) -> tuple[Tensor, ...]:
        """Pieces along ``dim``: of one size (the last may be smaller) or of the listed sizes."""
        axis = normalize_axis(dim, self.data.ndim)
        length = self.data.shape[axis]
        if isinstance(split_size_or_sections, (builtins.int, np.integer)):
            step = max(builtins.int(split_size_or_sections), 1)
            sizes = [min(step, length - start) for start in range(0, length, step)]
        else:
            sizes = [builtins.int(n) for n in split_size_or_sections]
            if sum(sizes) != length:
                raise ShapeError(explain(
                    what=f"split sizes {sizes} add up to {sum(sizes)}, but dim {dim} has {length}",
                    why="the pieces must cover the dimension exactly",
                    fix=f"give sizes that sum to {length}",
                ))
        starts = np.cumsum([0, *sizes])
        lead = (slice(None),) * axis
        return tuple(self[lead + (slice(builtins.int(a), builtins.int(b)),)]
                     for a, b in zip(starts[:-1], starts[1:], strict=True))

    def chunk(self, chunks: builtins.int, dim: builtins.int = 0) -> tuple[Tensor, ...]:
        """At most ``chunks`` pieces of size ceil(n / chunks) along ``dim``, as PyTorch."""
        length = self.data.shape[normalize_axis(dim, self.data.ndim)]
        return self.split(max(math.ceil(length / max(chunks, 1)), 1), dim)

    # --- arithmetic and products -----------------------------------------------------------

    def add(self, other: Any, alpha: float = 1) -> Tensor:
        """self + alpha * other."""
        return self + (other if alpha == 1 else other * alpha)

    def sub(self, other: Any, alpha: float = 1) -> Tensor:
        """self - alpha * other."""
        return self - (other if alpha == 1 else other * alpha)

    def mul(self, other: Any) -> Tensor:
        """self * other."""
        return self * other

    def div(self, other: Any) -> Tensor:
        """self / other."""
        return self / other

    def pow(self, exponent: Any) -> Tensor:
        """self ** exponent."""
        return self ** exponent

    def square(self) -> Tensor:
        """self * self."""
        return self ** 2

    def mm(self, other: Any) -> Tensor:
        """Matrix product of two matrices (2-D only, as PyTorch's ``mm``)."""
        _require_ndim("mm", (self, other), 2)
        return self.matmul(other)

    def bmm(self, other: Any) -> Tensor:
        """Batched matrix product of (b, n, k) and (b, k, m) tensors."""
        _require_ndim("bmm", (self, other), 3)
        other_shape = np.shape(getattr(other, "data", other))
        if self.data.shape[0] != other_shape[0]:
            raise ShapeError(explain(
                what=f"bmm of shapes {self.data.shape} and {other_shape}",
                why="both batches must hold the same number of matrices",
                fix="use matmul to broadcast batches, or match the batch sizes",
            ))
        return self.matmul(other)

    def norm(self, p: Any = 2, dim: Any = None, keepdim: builtins.bool = False, *,
             axis: Any = None, keepdims: builtins.bool | None = None) -> Tensor:
        """The p-norm over ``dim`` (all elements when None); ``p='fro'`` is 2, ``inf`` max."""
        order = 2.0 if p in ("fro", None) else builtins.float(p)
        if order <= 0:
            raise ShapeError(explain(
                what=f"norm(p={p}) was asked for",
                why="only p > 0 (and inf) define a norm with a gradient",
                fix="use p=1, p=2 or p=float('inf')",
            ))
        axes = normalize_axes(dim if axis is None else axis, self.data.ndim)
        return ops.Norm.apply(self, p=order, axes=axes, keepdims=builtins.bool(keepdims or keepdim))

    # --- comparisons and logic (not differentiable) ------------------------------------------

    def eq(self, other: Any) -> Tensor:
        """Elementwise ==, a bool tensor."""
        return self == other

    def ne(self, other: Any) -> Tensor:
        """Elementwise !=."""
        return self != other

    def lt(self, other: Any) -> Tensor:
        """Elementwise <."""
        return self < other

    def le(self, other: Any) -> Tensor:
        """Elementwise <=."""
        return self <= other

    def gt(self, other: Any) -> Tensor:
        """Elementwise >."""
        return self > other

    def ge(self, other: Any) -> Tensor:
        """Elementwise >=."""
        return self >= other

    def __invert__(self) -> Tensor:
        """``~mask``: logical not of a bool tensor (bitwise not of an integer one)."""
        return self._from_op(np.invert(self.data), None)

    def __and__(self, other: Any) -> Tensor:
        """``a & b`` of bool (or integer) tensors."""
        return self._compare(other, np.bitwise_and)

    def __or__(self, other: Any) -> Tensor:
        """``a | b`` of bool (or integer) tensors."""
        return self._compare(other, np.bitwise_or)

    def __xor__(self, other: Any) -> Tensor:
        """``a ^ b`` of bool (or integer) tensors."""
        return self._compare(other, np.bitwise_xor)

    def logical_not(self) -> Tensor:
        """True where the element is zero."""
        return self._from_op(np.logical_not(self.data), None)

    def all(self, dim: Any = None, keepdim: builtins.bool = False, *, axis: Any = None,
            keepdims: builtins.bool | None = None) -> Tensor:
        """True where every element over ``dim`` is nonzero."""
        return self._logic(np.all, dim if axis is None else axis, keepdims or keepdim)

    def any(self, dim: Any = None, keepdim: builtins.bool = False, *, axis: Any = None,
            keepdims: builtins.bool | None = None) -> Tensor:
        """True where some element over ``dim`` is nonzero."""
        return self._logic(np.any, dim if axis is None else axis, keepdims or keepdim)

    def _logic(self, reducer: Any, axis: Any, keepdims: Any) -> Tensor:
        axes = normalize_axes(axis, self.data.ndim)
        out = np.asarray(reducer(self.data, axis=axes, keepdims=builtins.bool(keepdims)))
        return self._from_op(out, None)

    # --- triangles and new tensors like this one ---------------------------------------------

    def tril(self, diagonal: builtins.int = 0) -> Tensor:
        """The lower triangle of the last two axes (the rest zeroed), differentiable."""
        keep = np.tri(self.data.shape[-2], self.data.shape[-1], k=diagonal, dtype=np.bool_)
        return ops.Where.apply(self, np.zeros((), self.data.dtype), condition=keep)

    def triu(self, diagonal: builtins.int = 0) -> Tensor:
        """The upper triangle of the last two axes (the rest zeroed), differentiable."""
        drop = np.tri(self.data.shape[-2], self.data.shape[-1], k=diagonal - 1, dtype=np.bool_)
        return ops.Where.apply(np.zeros((), self.data.dtype), self, condition=drop)

    def new_full(self, size: Any, fill_value: Any, *, dtype: Any = None,
                 device: Any = None) -> Tensor:
        """A tensor of ``size`` filled with ``fill_value``, with this tensor's dtype."""
        require_device_arg(device)
        target = resolve_dtype(dtype) or self.data.dtype
        shape = (size,) if isinstance(size, (builtins.int, np.integer)) else tuple(size)
        return self._from_op(np.full(shape, fill_value, dtype=target), None)

    def new_zeros(self, *size: Any, dtype: Any = None, device: Any = None) -> Tensor:
        """Zeros of ``size`` with this tensor's dtype."""
        return self.new_full(_size(size), 0, dtype=dtype, device=device)

    def new_ones(self, *size: Any, dtype: Any = None, device: Any = None) -> Tensor:
        """Ones of ``size`` with this tensor's dtype."""
        return self.new_full(_size(size), 1, dtype=dtype, device=device)

    def new_tensor(self, data: Any, *, dtype: Any = None, device: Any = None) -> Tensor:
        """A copy of ``data`` with this tensor's dtype (unless ``dtype`` is given)."""
        require_device_arg(device)
        target = resolve_dtype(dtype) or self.data.dtype
        return self._from_op(np.array(getattr(data, "data", data), dtype=target), None)

    # --- selection and sorting -------------------------------------------------------------

    def gather(self, dim: builtins.int, index: Any) -> Tensor:
        """out[i][j] = self[i][index[i][j]] for ``dim=1``; the gradient is scattered back."""
        axis = normalize_axis(dim, self.data.ndim)
        idx = index_array(index, "gather")
        if idx.ndim != self.data.ndim or builtins.any(
                n > m for d, (n, m) in enumerate(zip(idx.shape, self.data.shape, strict=True))
                if d != axis):
            raise ShapeError(explain(
                what=f"gather(dim={dim}) got an index of shape {idx.shape} for a tensor of "
                     f"shape {self.data.shape}",
                why="the index needs the tensor's number of dimensions, and no other dimension "
                    "larger than the tensor's",
                fix="unsqueeze the index (e.g. target.unsqueeze(1)) so its dimensions line up",
            ))
        _check_range(idx, self.data.shape[axis], "gather")
        return ops.Gather.apply(self, axis=axis, index=idx)

    def index_select(self, dim: builtins.int, index: Any) -> Tensor:
        """The slices at ``index`` (a 1-D integer tensor) along ``dim``."""
        axis = normalize_axis(dim, self.data.ndim)
        idx = index_array(index, "index_select").reshape(-1)
        _check_range(idx, self.data.shape[axis], "index_select")
        return ops.IndexSelect.apply(self, axis=axis, index=idx)

    def argsort(self, dim: builtins.int = -1, descending: builtins.bool = False,
                stable: builtins.bool = False) -> Tensor:
        """Positions that would sort along ``dim`` (ties keep their order)."""
        axis = normalize_axis(dim, self.data.ndim)
        keys = -self.data if descending and self.data.dtype.kind != "b" else self.data
        order = np.argsort(keys, axis=axis, kind="stable")
        if descending and self.data.dtype.kind == "b":
            order = np.flip(order, axis=axis)
        return self._from_op(order.astype(np.int64), None)

    def sort(self, dim: builtins.int = -1, descending: builtins.bool = False,
             stable: builtins.bool = False) -> ValuesIndices:
        """(values, indices) sorted along ``dim``; the values carry the gradient."""
        indices = self.argsort(dim, descending)
        return ValuesIndices(self.gather(dim, indices), indices)

    def topk(self, k: builtins.int, dim: builtins.int = -1, largest: builtins.bool = True,
             sorted: builtins.bool = True) -> ValuesIndices:  # noqa: A002  (PyTorch's name)
        """The ``k`` largest (or smallest) elements along ``dim`` and where they are."""
        axis = normalize_axis(dim, self.data.ndim)
        if not 0 <= k <= self.data.shape[axis]:
            raise ShapeError(explain(
                what=f"topk(k={k}) along dim {dim} of size {self.data.shape[axis]}",
                why="k must lie between 0 and the size of the dimension",
                fix=f"choose k <= {self.data.shape[axis]}",
            ))
        order = self.argsort(axis, descending=largest).data
        indices = self._from_op(np.take(order, np.arange(k), axis=axis), None)
        return ValuesIndices(self.gather(axis, indices), indices)

    # --- dtype shortcuts (last: their names shadow the builtins inside the class body) --------

    def float(self) -> Tensor:
        """As float32 (differentiable)."""
        return self.to(np.float32)

    def double(self) -> Tensor:
        """As float64 (differentiable)."""
        return self.to(np.float64)

    def half(self) -> Tensor:
        """As float16 (differentiable)."""
        return self.to(np.float16)

    def long(self) -> Tensor:
        """As int64 (not differentiable)."""
        return self.to(np.int64)

    def int(self) -> Tensor:
        """As int32 (not differentiable)."""
        return self.to(np.int32)

    def bool(self) -> Tensor:
        """As bool (not differentiable)."""
        return self.to(np.bool_)


def promote_floats(*tensors: Any) -> tuple[Any, ...]:
    """The one promotion rule for an op that needs a single dtype (conv2d, as matmul does).

    The widest floating dtype among the tensors wins (NumPy's and PyTorch's result type:
    float32 with float64 gives float64); narrower tensors are cast differentiably, so their
    gradients come back in their own dtype. None entries (an absent bias) pass through.
    """
    target = np.result_type(*(t.data.dtype for t in tensors if t is not None))
    return tuple(None if t is None else t.to(target) for t in tensors)


def _size(size: tuple[Any, ...]) -> tuple[builtins.int, ...]:
    """``(2, 3)`` from ``f(2, 3)`` or ``f((2, 3))``."""
    if len(size) == 1 and not isinstance(size[0], (builtins.int, np.integer)):
        size = tuple(size[0])
    return tuple(builtins.int(n) for n in size)


def _require_ndim(what: str, operands: Sequence[Any], ndim: builtins.int) -> None:
    shapes = [np.shape(getattr(x, "data", x)) for x in operands]
    if builtins.any(len(s) != ndim for s in shapes):
        raise ShapeError(explain(
            what=f"{what} got operands of shapes {shapes[0]} and {shapes[1]}",
            why=f"{what} multiplies {ndim}-D tensors only",
            fix="use matmul (or @), which handles vectors and broadcast batches",
        ))


def _check_range(index: np.ndarray, size: builtins.int, what: str) -> None:
    if index.size and (index.min() < -size or index.max() >= size):
        raise IndexOutOfRangeError(explain(
            what=f"{what} got indices in {index.min()}..{index.max()} for a dimension of size "
                 f"{size}",
            why=f"positions along that dimension must lie in {-size}..{size - 1}",
            fix="check the index against the tensor's shape",
        ))


def extreme(x: Any, op: type, pick: Any, dim: Any, keepdim: Any, axis: Any,
            keepdims: Any) -> Any:
    """Shared by ``Tensor.max`` and ``Tensor.min``: values, or (values, indices) for a ``dim``.

    ``axis=`` (and no axis at all) gives the values as a Tensor, ties sharing the gradient
    (the course's and NumPy's ``amax``). ``dim`` (keyword or positional) gives PyTorch's
    (values, indices), the gradient going to the reported index.
    """
    keep = builtins.bool(keepdims or keepdim)
    if axis is not None or dim is None:
        return op.apply(x, axis=axis, keepdims=keep)
    if not isinstance(dim, (builtins.int, np.integer)):
        raise ShapeError(explain(
            what=f"{op.__name__.lower()}(dim={dim}) was asked for",
            why="with dim, max/min return (values, indices) along one dimension",
            fix=f"pass one int dim, or axis={dim} for the values over several axes",
        ))
    axis = normalize_axis(builtins.int(dim), x.ndim)
    where = pick(x.data, axis=axis, keepdims=True)
    values = x.gather(axis, where)
    indices = x._from_op(where if keep else np.squeeze(where, axis), None)
    return ValuesIndices(values if keep else values.squeeze(axis), indices)
