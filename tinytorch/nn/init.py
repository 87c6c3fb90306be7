"""PyTorch-style in-place initializers: ``nn.init.xavier_uniform_(layer.weight)``.

Each fills ``tensor.data`` in place from the global RNG (see ``manual_seed``) and returns the
tensor. Fans follow our layouts: a 2-D weight is ``(in_features, out_features)`` as in our
``Linear`` (so fan_in is ``shape[0]``, the transpose of PyTorch's rule); a weight with more axes
is ``(out_channels, in_channels, *kernel)`` as in PyTorch's convolutions.

Example:
    >>> from tinytorch.core.tensor import Tensor
    >>> zeros_(Tensor([1.0, 2.0])).tolist()
    [0.0, 0.0]
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinytorch.core import init as schemes
from tinytorch.core.errors import ShapeError, explain
from tinytorch.core.tensor import Tensor

_FANS = ("fan_in", "fan_out")


def _fill(tensor: Tensor, values: Any) -> Tensor:
    tensor.data[...] = values  # in place: optimizers and tied modules keep the same array
    return tensor


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The factor that keeps activations' variance steady through ``nonlinearity``."""
    slope = 0.01 if param is None else param
    gains = {"linear": 1.0, "identity": 1.0, "sigmoid": 1.0, "tanh": 5.0 / 3.0,
             "relu": math.sqrt(2.0), "leaky_relu": math.sqrt(2.0 / (1.0 + slope * slope)),
             "selu": 0.75, "conv1d": 1.0, "conv2d": 1.0}
    if nonlinearity not in gains:
        raise ValueError(explain(
            what=f"calculate_gain({nonlinearity!r}) does not know that nonlinearity",
            why=f"known ones are {', '.join(sorted(gains))}",
            fix="pick one of them, or pass the gain yourself",
        ))
    return gains[nonlinearity]


def fans(tensor: Tensor) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight in our layouts (see the module docstring)."""
    shape = tensor.shape
    if len(shape) < 2:
        raise ShapeError(explain(
            what=f"fan-in and fan-out are undefined for a tensor of shape {shape}",
            why="they count a weight's inputs and outputs, so it needs at least 2 axes",
            fix="initialize biases with zeros_, constant_, normal_ or uniform_",
        ))
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def _fan(tensor: Tensor, mode: str) -> int:
    if mode not in _FANS:
        raise ValueError(explain(
            what=f"mode={mode!r} is not a fan", why="kaiming scales by fan_in or by fan_out",
            fix="pass mode='fan_in' (keeps activations steady) or 'fan_out' (gradients)",
        ))
    fan_in, fan_out = fans(tensor)
    return fan_in if mode == "fan_in" else fan_out


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0) -> Tensor:
    """Fill with samples from U(a, b)."""
    return _fill(tensor, schemes.uniform(tensor.shape, (b - a) / 2) + np.float32((a + b) / 2))


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0) -> Tensor:
    """Fill with samples from N(mean, std^2)."""
    return _fill(tensor, schemes.normal(tensor.shape, std) + np.float32(mean))


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill with ``val``."""
    return _fill(tensor, val)


def zeros_(tensor: Tensor) -> Tensor:
    """Fill with 0."""
    return _fill(tensor, 0)


def ones_(tensor: Tensor) -> Tensor:
    """Fill with 1."""
    return _fill(tensor, 1)


def xavier_uniform_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """Glorot uniform: U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = fans(tensor)
    return _fill(tensor, schemes.xavier_uniform(tensor.shape, fan_in, fan_out, gain))


def xavier_normal_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """Glorot normal: N(0, gain^2 * 2 / (fan_in + fan_out))."""
    fan_in, fan_out = fans(tensor)
    return _fill(tensor, schemes.xavier_normal(tensor.shape, fan_in, fan_out, gain))


def kaiming_uniform_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu") -> Tensor:
    """He uniform: U(-b, b), b = gain * sqrt(3 / fan)."""
    gain = calculate_gain(nonlinearity, a)
    return _fill(tensor, schemes.kaiming_uniform(tensor.shape, _fan(tensor, mode), gain))


def kaiming_normal_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu") -> Tensor:
    """He normal: N(0, gain^2 / fan)."""
    gain = calculate_gain(nonlinearity, a)
    return _fill(tensor, schemes.kaiming_normal(tensor.shape, _fan(tensor, mode), gain))


__all__ = ["calculate_gain", "constant_", "fans", "kaiming_normal_", "kaiming_uniform_",
           "normal_", "ones_", "uniform_", "xavier_normal_", "xavier_uniform_", "zeros_"]
