"""PyTorch's top-level functions: ``tinytorch.tensor``, ``tinytorch.max(x, 1)``, ``einsum``, ...

Most are the Tensor method of the same name called on the first argument
(``tinytorch.sum(x, dim=1)`` is ``x.sum(dim=1)``), made from one table so that the two can
never disagree. The rest are factories and samplers with PyTorch's signatures.

``tensor(data)`` infers dtypes as PyTorch does (integers give int64), while ``Tensor(data)``
keeps the course's rule (float32 unless told); ``from_numpy`` shares the array's memory.

Example:
    >>> from tinytorch.core import functions as F
    >>> F.tensor([1, 2, 3]).dtype, F.tensor([1.0, 2.0]).dtype
    (dtype('int64'), dtype('float32'))
    >>> values, indices = F.max(F.tensor([[1.0, 9.0], [7.0, 2.0]]), 1)
    >>> indices.tolist()
    [1, 0]
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from tinytorch.core import ops
from tinytorch.core.autograd import inference_mode, no_grad
from tinytorch.core.dtypes import require_device_arg, resolve_dtype
from tinytorch.core.errors import ConfigError, DTypeError, explain
from tinytorch.core.rng import get_rng
from tinytorch.core.tensor import Tensor, _shape_arg

TensorLike = Any


def _as_tensor(x: TensorLike) -> Tensor:
    return x if isinstance(x, Tensor) else tensor(x)


def _method_function(name: str, summary: str) -> Callable[..., Any]:
    def function(input: TensorLike, *args: Any, **kwargs: Any) -> Any:  # noqa: A002
        return getattr(_as_tensor(input), name)(*args, **kwargs)

    function.__name__ = function.__qualname__ = name
    function.__doc__ = f"{summary} ``tinytorch.{name}(x, ...)`` is ``x.{name}(...)``."
    return function


# Each is the Tensor method of that name called on its first argument. The builtins max, min,
# sum, abs, all and any are shadowed in this module (as in torch); the code below avoids them.
abs = _method_function("abs", "Absolute value.")
all = _method_function("all", "True where all are nonzero.")
any = _method_function("any", "True where some are nonzero.")
argmax = _method_function("argmax", "Index of the largest value.")
argmin = _method_function("argmin", "Index of the smallest value.")
argsort = _method_function("argsort", "Positions that sort the tensor.")
bmm = _method_function("bmm", "Batched matrix product.")
chunk = _method_function("chunk", "Split into equal pieces.")
clamp = _method_function("clamp", "Limit to [min, max].")
clip = _method_function("clip", "Limit to [min, max].")
eq = _method_function("eq", "Elementwise ==.")
exp = _method_function("exp", "e ** x.")
flatten = _method_function("flatten", "Merge axes into one.")
gather = _method_function("gather", "Pick along a dim by index.")
ge = _method_function("ge", "Elementwise >=.")
gt = _method_function("gt", "Elementwise >.")
index_select = _method_function("index_select", "Slices at indices.")
le = _method_function("le", "Elementwise <=.")
log = _method_function("log", "Natural logarithm.")
log_softmax = _method_function("log_softmax", "log(softmax(x)).")
lt = _method_function("lt", "Elementwise <.")
masked_fill = _method_function("masked_fill", "Replace where a mask is true.")
matmul = _method_function("matmul", "Matrix product.")
max = _method_function("max", "Largest value, or (values, indices) along a dim.")
mean = _method_function("mean", "Arithmetic mean.")
min = _method_function("min", "Smallest value, or (values, indices) along a dim.")
mm = _method_function("mm", "Matrix product of matrices.")
ne = _method_function("ne", "Elementwise !=.")
norm = _method_function("norm", "The p-norm.")
numel = _method_function("numel", "Number of elements.")
permute = _method_function("permute", "Reorder the axes.")
pow = _method_function("pow", "x ** exponent.")
relu = _method_function("relu", "max(x, 0).")
reshape = _method_function("reshape", "Same elements, new shape.")
sigmoid = _method_function("sigmoid", "Logistic sigmoid.")
softmax = _method_function("softmax", "Softmax along a dim.")
sort = _method_function("sort", "(values, indices) sorted.")
split = _method_function("split", "Split into pieces of given sizes.")
sqrt = _method_function("sqrt", "Square root.")
square = _method_function("square", "x * x.")
squeeze = _method_function("squeeze", "Drop size-1 axes.")
std = _method_function("std", "Standard deviation.")
sum = _method_function("sum", "Sum.")
t = _method_function("t", "Matrix transpose.")
tanh = _method_function("tanh", "Hyperbolic tangent.")
topk = _method_function("topk", "The k largest and where they are.")
transpose = _method_function("transpose", "Swap two axes.")
tril = _method_function("tril", "The lower triangle, the rest zeroed.")
triu = _method_function("triu", "The upper triangle, the rest zeroed.")
unsqueeze = _method_function("unsqueeze", "Insert a size-1 axis.")
var = _method_function("var", "Variance.")


# --- creating tensors --------------------------------------------------------------------------


def tensor(data: TensorLike, dtype: Any = None, device: Any = None,
           requires_grad: bool = False) -> Tensor:
    """A new tensor (a copy) with PyTorch's dtype inference.

    Python integers give int64, Python floats float32 and booleans bool; a NumPy array or a
    tensor keeps its dtype. ``dtype=`` overrides.
    """
    require_device_arg(device)
    target = resolve_dtype(dtype)
    if target is None:
        source = np.asarray(getattr(data, "data", data))
        if isinstance(data, (np.ndarray, np.generic, Tensor)):
            target = source.dtype
        else:
            target = {"b": np.dtype(bool), "i": np.dtype(np.int64),
                      "u": np.dtype(np.int64)}.get(source.dtype.kind, np.dtype(np.float32))
    return Tensor(data, dtype=target, requires_grad=requires_grad)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor that shares ``array``'s memory and dtype (changes show in both)."""
    if not isinstance(array, np.ndarray):
        raise DTypeError(explain(
            what=f"from_numpy() got a {type(array).__name__}",
            why="from_numpy wraps an existing NumPy array without copying",
            fix="pass an np.ndarray, or use tinytorch.tensor(data) to copy other data",
        ))
    return Tensor._from_op(array, None)


def as_tensor(data: TensorLike, dtype: Any = None, device: Any = None) -> Tensor:
    """``data`` as a tensor, sharing memory when it already is an array of that dtype."""
    require_device_arg(device)
    if isinstance(data, Tensor) and dtype is None:
        return data
    if isinstance(data, np.ndarray) and (dtype is None or resolve_dtype(dtype) == data.dtype):
        return from_numpy(data)
    return tensor(data, dtype=dtype)


def _factory_dtype(dtype: Any, device: Any, default: Any) -> np.dtype[Any]:
    require_device_arg(device)
    return resolve_dtype(dtype) or np.dtype(default)


def full(size: Any, fill_value: Any, *, dtype: Any = None, device: Any = None,
         requires_grad: bool = False) -> Tensor:
    """A tensor filled with ``fill_value``; the dtype follows the value as in PyTorch."""
    default = tensor(fill_value).dtype
    data = np.full(_shape_arg((size,)), fill_value, dtype=_factory_dtype(dtype, device, default))
    return Tensor._from_op(data, None).requires_grad_(requires_grad)


def full_like(x: TensorLike, fill_value: Any, *, dtype: Any = None, device: Any = None) -> Tensor:
    """A tensor of ``x``'s shape (and dtype) filled with ``fill_value``."""
    like = _as_tensor(x)
    return full(like.shape, fill_value, dtype=_factory_dtype(dtype, device, like.dtype))


def empty(*size: Any, dtype: Any = None, device: Any = None,
          requires_grad: bool = False) -> Tensor:
    """A tensor to be overwritten. Filled with zeros here: never uninitialised memory."""
    data = np.zeros(_shape_arg(size), dtype=_factory_dtype(dtype, device, np.float32))
    return Tensor._from_op(data, None).requires_grad_(requires_grad)


def empty_like(x: TensorLike, *, dtype: Any = None, device: Any = None) -> Tensor:
    """Like ``empty``, with ``x``'s shape and dtype."""
    like = _as_tensor(x)
    return empty(like.shape, dtype=_factory_dtype(dtype, device, like.dtype))


def linspace(start: float, end: float, steps: int, *, dtype: Any = None,
             device: Any = None, requires_grad: bool = False) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end``, both included."""
    data = np.linspace(start, end, int(steps)).astype(_factory_dtype(dtype, device, np.float32))
    return Tensor._from_op(data, None).requires_grad_(requires_grad)


def randn_like(x: TensorLike, *, dtype: Any = None, device: Any = None) -> Tensor:
    """Standard normal samples of ``x``'s shape (and float dtype)."""
    like = _as_tensor(x)
    target = _factory_dtype(dtype, device, like.dtype if like.dtype.kind == "f" else np.float32)
    data = get_rng().standard_normal(like.shape, dtype=np.float32).astype(target, copy=False)
    return Tensor._from_op(data, None)


def rand_like(x: TensorLike, *, dtype: Any = None, device: Any = None) -> Tensor:
    """Uniform samples in [0, 1) of ``x``'s shape (and float dtype)."""
    like = _as_tensor(x)
    target = _factory_dtype(dtype, device, like.dtype if like.dtype.kind == "f" else np.float32)
    data = get_rng().random(like.shape, dtype=np.float32).astype(target, copy=False)
    return Tensor._from_op(data, None)


def randint(low: int, high: Any = None, size: Any = None, *, dtype: Any = None,
            device: Any = None, requires_grad: bool = False) -> Tensor:
    """Random integers in [low, high); ``randint(high, size)`` starts at 0 (as PyTorch)."""
    if size is None:
        low, high, size = 0, low, high
    if size is None or high is None or high <= low:
        raise ConfigError(explain(
            what=f"randint(low={low}, high={high}, size={size})",
            why="randint needs a size and a range with high > low",
            fix="call randint(high, (n,)) or randint(low, high, (n,))",
        ))
    data = get_rng().integers(low, high, _shape_arg((size,)))
    return Tensor._from_op(data.astype(_factory_dtype(dtype, device, np.int64)), None)


# --- sampling, products, comparisons -------------------------------------------------------


def multinomial(input: TensorLike, num_samples: int, replacement: bool = False,  # noqa: A002
                generator: Any = None) -> Tensor:
    """Draw ``num_samples`` category indices per row, with probability proportional to ``input``.

    Without replacement each index appears at most once per row (Gumbel top-k, one pass).

    Shapes:
        input: (C,) or (N, C) non-negative weights -> (num_samples,) or (N, num_samples) int64.
    """
    weights = np.asarray(_as_tensor(input).data, dtype=np.float64)
    rows = np.atleast_2d(weights)
    _check_weights(rows, num_samples, replacement)
    rng = get_rng()
    if replacement:
        cdf = np.cumsum(rows / rows.sum(axis=1, keepdims=True), axis=1)
        draws = rng.random((rows.shape[0], num_samples, 1))
        picks = (draws >= cdf[:, None, :-1]).sum(axis=2)                 # (N, k)
    else:
        with np.errstate(divide="ignore"):
            keys = np.log(rows) - np.log(-np.log(rng.random(rows.shape)))  # log w + Gumbel
        picks = np.argsort(-keys, axis=1, kind="stable")[:, :num_samples]
    picks = picks.astype(np.int64)
    return Tensor._from_op(picks if weights.ndim == 2 else picks[0], None)


def _check_weights(rows: np.ndarray, num_samples: int, replacement: bool) -> None:
    if rows.ndim != 2 or not np.all(np.isfinite(rows)) or np.any(rows < 0) or np.any(
            rows.sum(axis=1) <= 0):
        raise ConfigError(explain(
            what=f"multinomial got weights of shape {rows.shape} that are not all finite, "
                 "non-negative and positive in sum",
            why="each row is a probability distribution (up to scale)",
            fix="pass softmax(logits) or other non-negative weights, 1-D or 2-D",
        ))
    if not replacement and num_samples > int((rows > 0).sum(axis=1).min()):
        raise ConfigError(explain(
            what=f"multinomial without replacement asked for {num_samples} samples from rows "
                 f"with only {int((rows > 0).sum(axis=1).min())} possible categories",
            why="without replacement a category can be drawn once per row",
            fix="ask for fewer samples or pass replacement=True",
        ))


def einsum(equation: str, *operands: TensorLike) -> Tensor:
    """Einstein summation, e.g. ``einsum('bij,bjk->bik', a, b)`` (operands may be a list)."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    return ops.Einsum.apply(*operands, equation=equation)


def allclose(a: TensorLike, b: TensorLike, rtol: float = 1e-05, atol: float = 1e-08,
             equal_nan: bool = False) -> bool:
    """True when every |a - b| <= atol + rtol * |b|."""
    return bool(np.allclose(np.asarray(getattr(a, "data", a)), np.asarray(getattr(b, "data", b)),
                            rtol=rtol, atol=atol, equal_nan=equal_nan))


def is_tensor(obj: Any) -> bool:
    """True for a tinytorch Tensor."""
    return isinstance(obj, Tensor)


__all__ = [
    "abs", "all", "allclose", "any", "argmax", "argmin", "argsort", "as_tensor", "bmm", "chunk",
    "clamp", "clip", "einsum", "empty", "empty_like", "eq", "exp", "flatten", "from_numpy", "full",
    "full_like", "gather", "ge", "gt", "index_select", "inference_mode", "is_tensor", "le",
    "linspace", "log", "log_softmax", "lt", "masked_fill", "matmul", "max", "mean", "min", "mm",
    "multinomial", "ne", "no_grad", "norm", "numel", "permute", "pow", "rand_like", "randint",
    "randn_like", "relu", "reshape", "sigmoid", "softmax", "sort", "split", "sqrt", "square",
    "squeeze", "std", "sum", "t", "tanh", "tensor", "topk", "transpose", "tril", "triu",
    "unsqueeze", "var",
]
