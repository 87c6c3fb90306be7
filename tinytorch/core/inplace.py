"""In-place Tensor methods (``add_``, ``zero_``, ``x[mask] = v``, ``+=``) and their safety rule.

An in-place change overwrites an array that the autograd graph may still need. PyTorch's rule,
kept here, makes that impossible to get silently wrong:

- Under ``no_grad`` (optimizer updates, initialisation, sampling), and on tensors outside the
  graph, the array is changed in place, shared with every view of it.
- In grad mode, changing a tensor that requires grad (a leaf parameter or an intermediate
  result), or writing a tensor that requires grad into one that does not, raises at the call:
  the gradient could not flow through the change. ``x += y`` on an intermediate result is the
  exception: Python rebinds the name, so it is computed out of place (``x = x + y``).
- Every in-place change bumps the array's version (``autograd.bump_version``); a backward that
  saved the old array raises instead of using the new values.

``.data`` is outside the graph, as in PyTorch: optimizers update ``p.data`` directly.

Example:
    >>> from tinytorch.core.tensor import Tensor
    >>> logits = Tensor([1.0, 3.0, 2.0])
    >>> logits[logits < 2.0] = float("-inf")
    >>> logits.tolist()
    [-inf, 3.0, 2.0]
"""

from __future__ import annotations

# A mixin calls the Tensor methods it is mixed into (reshape, _from_op, +, ...), which mypy
# cannot see from here; these codes would flag every such call.
# mypy: disable-error-code="attr-defined,return-value,no-any-return,operator,index"
import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from tinytorch.core.autograd import bump_version, is_grad_enabled
from tinytorch.core.errors import DTypeError, GraphError, ShapeError, explain
from tinytorch.core.rng import get_rng
from tinytorch.core.tensor_methods import index_array, plain_index

if TYPE_CHECKING:
    from tinytorch.core.tensor import Tensor


def _array(value: Any) -> Any:
    return value.data if isinstance(value, InPlaceMethods) else value


class InPlaceMethods:
    """Mixin of in-place Tensor methods (see the module docstring)."""

    data: np.ndarray
    requires_grad: bool
    grad_fn: Any

    def _check_inplace(self, what: str, *operands: Any) -> None:
        """Refuse, in grad mode, an in-place change the gradient could not flow through."""
        if not is_grad_enabled():
            return
        if self.requires_grad:
            kind = "a leaf tensor that requires grad" if self.grad_fn is None else \
                f"a tensor computed by {self.grad_fn.name} that is part of the graph"
            raise GraphError(explain(
                what=f"{what} would change {kind} in place",
                why="backward needs the values the forward used, and an in-place change "
                    "would make its gradient silently wrong",
                fix="wrap the update in `with tinytorch.no_grad():` (as optimizers do), use "
                    "the out-of-place form (y = x.add(1), x.masked_fill(...)), or update .data",
            ))
        if any(getattr(x, "requires_grad", False) for x in operands):
            raise GraphError(explain(
                what=f"{what} would write a tensor that requires grad into one that does not",
                why="the result would not be part of the graph, so the gradient would be lost",
                fix="build the result out of place (tinytorch.cat/stack/where, y = x + other), "
                    "or detach() the written value if no gradient is wanted",
            ))

    @contextlib.contextmanager
    def _writing(self, what: str, operand: Any) -> Iterator[None]:
        """Word NumPy's errors for a write of ``operand`` into this tensor; bump its version."""
        try:
            yield
        except TypeError:
            raise DTypeError(explain(
                what=f"{what} on a {self.data.dtype} tensor got a "
                     f"{np.result_type(_array(operand))} operand",
                why="an in-place result must fit the tensor's own dtype",
                fix="convert first (x = x.float()) or use the out-of-place form",
            )) from None
        except ValueError as exc:
            raise ShapeError(explain(
                what=f"{what} on a tensor of shape {self.data.shape} got an operand of shape "
                     f"{np.shape(_array(operand))} ({exc})",
                why="an in-place result keeps the tensor's shape, so the operand must broadcast "
                    "to it (and the tensor must be writable, not an expand() view)",
                fix="reshape the operand, or use the out-of-place form",
            )) from None
        bump_version(self.data)

    def _ufunc_(self, ufunc: np.ufunc, other: Any, what: str) -> Tensor:
        self._check_inplace(what, other)
        with self._writing(what, other):
            ufunc(self.data, _array(other), out=self.data, casting="same_kind")
        return self

    def add_(self, other: Any, alpha: float = 1) -> Tensor:
        """self += alpha * other, in place."""
        return self._ufunc_(np.add, other if alpha == 1 else _array(other) * alpha, "add_()")

    def sub_(self, other: Any, alpha: float = 1) -> Tensor:
        """self -= alpha * other, in place."""
        return self._ufunc_(np.subtract, other if alpha == 1 else _array(other) * alpha,
                            "sub_()")

    def mul_(self, other: Any) -> Tensor:
        """self *= other, in place."""
        return self._ufunc_(np.multiply, other, "mul_()")

    def div_(self, other: Any) -> Tensor:
        """self /= other, in place."""
        return self._ufunc_(np.true_divide, other, "div_()")

    def zero_(self) -> Tensor:
        """Set every element to 0, in place."""
        return self.fill_(0)

    def fill_(self, value: Any) -> Tensor:
        """Set every element to ``value``, in place."""
        self._check_inplace("fill_()", value)
        with self._writing("fill_()", value):
            self.data[...] = _array(value)
        return self

    def copy_(self, src: Any) -> Tensor:
        """Overwrite the elements with ``src`` (broadcast, converted to this dtype), in place."""
        self._check_inplace("copy_()", src)
        with self._writing("copy_()", src):
            np.copyto(self.data, _array(src), casting="unsafe")
        return self

    def clamp_(self, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002
        """Limit the elements to [min, max], in place."""
        self._check_inplace("clamp_()")
        with self._writing("clamp_()", 0):
            np.clip(self.data, min, max, out=self.data)
        return self

    def masked_fill_(self, mask: Any, value: Any) -> Tensor:
        """Set the elements where ``mask`` is true to ``value``, in place."""
        self._check_inplace("masked_fill_()", value)
        condition = np.asarray(_array(mask), dtype=bool)
        with self._writing("masked_fill_()", mask):
            np.copyto(self.data, np.asarray(_array(value), dtype=self.data.dtype),
                      where=np.broadcast_to(condition, self.data.shape))
        return self

    def scatter_(self, dim: int, index: Any, src: Any = None, *, value: Any = None,
                 reduce: str | None = None) -> Tensor:
        """self[i][index[i][j]] = src[i][j] for ``dim=1``, in place (``reduce='add'`` adds)."""
        self._check_inplace("scatter_()", src)
        idx = index_array(index, "scatter_")
        axis = dim % self.data.ndim
        source = _array(value if src is None else src)
        if np.ndim(source):
            source = np.asarray(source)[tuple(slice(0, n) for n in idx.shape)]
        with self._writing("scatter_()", source):
            if reduce in ("add", "sum"):
                coords: list[Any] = list(np.indices(idx.shape, sparse=True))
                coords[axis] = idx
                np.add.at(self.data, tuple(coords), np.broadcast_to(source, idx.shape))
            else:
                np.put_along_axis(self.data, idx, source, axis=axis)
        return self

    def scatter_add_(self, dim: int, index: Any, src: Any) -> Tensor:
        """self[i][index[i][j]] += src[i][j] for ``dim=1``, in place; repeated positions add."""
        return self.scatter_(dim, index, src, reduce="add")

    def uniform_(self, a: float = 0.0, b: float = 1.0) -> Tensor:
        """Fill with uniform samples in [a, b) from the global generator, in place."""
        self._check_inplace("uniform_()")
        return self.copy_(get_rng().uniform(a, b, self.data.shape))

    def normal_(self, mean: float = 0.0, std: float = 1.0) -> Tensor:
        """Fill with normal samples from the global generator, in place."""
        self._check_inplace("normal_()")
        return self.copy_(get_rng().normal(mean, std, self.data.shape))

    def __setitem__(self, index: Any, value: Any) -> None:
        what = "item assignment (x[index] = value)"
        self._check_inplace(what, value)
        with self._writing(what, value):
            self.data[plain_index(index)] = _array(value)

    # Augmented assignment: in place when allowed; on a graph tensor, out of place (a rebinding).

    def _augmented(self, ufunc: np.ufunc, other: Any, out_of_place: Any, what: str) -> Tensor:
        if is_grad_enabled() and self.requires_grad and self.grad_fn is not None:
            return out_of_place(self, other)
        if is_grad_enabled() and getattr(other, "requires_grad", False) and not self.requires_grad:
            return out_of_place(self, other)
        return self._ufunc_(ufunc, other, what)

    def __iadd__(self, other: Any) -> Tensor:
        return self._augmented(np.add, other, lambda a, b: a + b, "+=")

    def __isub__(self, other: Any) -> Tensor:
        return self._augmented(np.subtract, other, lambda a, b: a - b, "-=")

    def __imul__(self, other: Any) -> Tensor:
        return self._augmented(np.multiply, other, lambda a, b: a * b, "*=")

    def __itruediv__(self, other: Any) -> Tensor:
        return self._augmented(np.true_divide, other, lambda a, b: a / b, "/=")
