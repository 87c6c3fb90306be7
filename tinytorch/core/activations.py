"""Activation functions as callable layers (module 02): ReLU, Sigmoid, Tanh, GELU, Softmax, ...

They hold no parameters; each one's math, forward and backward, is a fused op in
``core/ops/activation.py``. As upstream, they are plain classes with ``forward``,
``__call__`` and ``parameters() -> []`` (this module sits below ``layers`` in the course order).
They take PyTorch's constructor arguments; ``inplace=True`` is accepted and, as the result of
an activation is the same either way, computed into a new tensor (the input is not changed).

Example:
    >>> from tinytorch.core.tensor import Tensor
    >>> ReLU()(Tensor([-1.0, 2.0])).tolist()
    [0.0, 2.0]
"""

from __future__ import annotations

from typing import Any

from tinytorch.core import ops
from tinytorch.core.broadcasting import normalize_axis
from tinytorch.core.errors import explain
from tinytorch.core.tensor import Tensor

_GELU_FORMS = ("tanh", "none", "sigmoid")


class Activation:
    """Base class: a parameter-free function of one tensor."""

    def forward(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def __call__(self, x: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        return self.forward(x, *args, **kwargs)

    def parameters(self) -> list[Any]:
        """Activations learn nothing."""
        return []

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"


class ReLU(Activation):
    """max(x, 0)."""

    def __init__(self, inplace: bool = False) -> None:
        self.inplace = inplace

    def forward(self, x: Tensor) -> Tensor:
        return ops.Relu.apply(x)


class LeakyReLU(Activation):
    """x for x > 0, else negative_slope * x."""

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False) -> None:
        self.negative_slope, self.inplace = negative_slope, inplace

    def forward(self, x: Tensor) -> Tensor:
        return ops.LeakyRelu.apply(x, negative_slope=self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class Sigmoid(Activation):
    """1 / (1 + e^-x), squashing to (0, 1)."""

    def forward(self, x: Tensor) -> Tensor:
        return ops.Sigmoid.apply(x)


class Tanh(Activation):
    """tanh(x), squashing to (-1, 1)."""

    def forward(self, x: Tensor) -> Tensor:
        return ops.Tanh.apply(x)


class SiLU(Activation):
    """x * sigmoid(x)."""

    def __init__(self, inplace: bool = False) -> None:
        self.inplace = inplace

    def forward(self, x: Tensor) -> Tensor:
        return ops.Silu.apply(x)


class GELU(Activation):
    """x * Phi(x); ``approximate`` is 'tanh' (default), 'none' (exact erf) or 'sigmoid'."""

    def __init__(self, approximate: str = "tanh") -> None:
        if approximate not in _GELU_FORMS:
            raise ValueError(explain(
                what=f"GELU(approximate={approximate!r}) is not a known form",
                why=f"the forms are {', '.join(_GELU_FORMS)}",
                fix="pick one of them ('tanh' is the GPT-2 choice)",
            ))
        self.approximate = approximate

    def forward(self, x: Tensor) -> Tensor:
        return ops.Gelu.apply(x, approximate=self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class Softmax(Activation):
    """Exponentiate and normalize along ``dim`` so each slice sums to 1."""

    def __init__(self, dim: int = -1) -> None:
        self.dim = dim

    def forward(self, x: Tensor, dim: int | None = None) -> Tensor:
        axis = self.dim if dim is None else dim
        return ops.Softmax.apply(x, axis=normalize_axis(axis, x.ndim))

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Softmax):
    """log(softmax(x)) along ``dim``, computed stably in one op."""

    def forward(self, x: Tensor, dim: int | None = None) -> Tensor:
        axis = self.dim if dim is None else dim
        return ops.LogSoftmax.apply(x, axis=normalize_axis(axis, x.ndim))


__all__ = ["GELU", "Activation", "LeakyReLU", "LogSoftmax", "ReLU", "SiLU", "Sigmoid", "Softmax",
           "Tanh"]
