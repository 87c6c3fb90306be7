"""The differentiable primitives that Tensor methods call (always used qualified: ops.Mul)."""

from tinytorch.core.ops.activation import (
    Gelu,
    LeakyRelu,
    LogSoftmax,
    Relu,
    Sigmoid,
    Silu,
    Softmax,
    Tanh,
)
from tinytorch.core.ops.conversion import Cast
from tinytorch.core.ops.einsum import Einsum
from tinytorch.core.ops.elementwise import (
    Abs,
    Add,
    Clip,
    Div,
    Exp,
    Log,
    Maximum,
    Minimum,
    Mul,
    Neg,
    Pow,
    Sqrt,
    Sub,
    Where,
)
from tinytorch.core.ops.linalg import Linear, MatMul
from tinytorch.core.ops.norms import Norm
from tinytorch.core.ops.reduction import Max, Min, Sum
from tinytorch.core.ops.selection import Gather, IndexSelect
from tinytorch.core.ops.shape import Concat, Expand, Index, Pad, Permute, Reshape, Stack

__all__ = [
    "Abs", "Add", "Clip", "Concat", "Div", "Exp", "Expand", "Gelu", "Index", "LeakyRelu", "Linear",
    "Log", "LogSoftmax", "MatMul", "Max", "Maximum", "Min", "Minimum", "Mul", "Neg", "Pad",
    "Permute", "Pow", "Relu", "Reshape", "Sigmoid", "Silu", "Softmax", "Sqrt", "Stack", "Sub",
    "Sum", "Tanh", "Where",
    # PyTorch-surface ops (issue 16)
    "Cast", "Einsum", "Gather", "IndexSelect", "Norm",
]
