"""Weight initialization schemes, as functions of fan-in and fan-out, drawing from the global RNG.

Each returns a float32 NumPy array; layers wrap it in a ``Parameter``. The scale keeps the
variance of activations (or of gradients) roughly constant from layer to layer.
"""

from __future__ import annotations

import math

import numpy as np

from tinytorch.core.rng import get_rng

Shape = tuple[int, ...]


def uniform(shape: Shape, bound: float) -> np.ndarray:
    """Samples from U(-bound, bound)."""
    return get_rng().uniform(-bound, bound, size=shape).astype(np.float32)


def normal(shape: Shape, std: float) -> np.ndarray:
    """Samples from N(0, std^2)."""
    return (get_rng().standard_normal(shape, dtype=np.float32) * np.float32(std))


def xavier_uniform(shape: Shape, fan_in: int, fan_out: int, gain: float = 1.0) -> np.ndarray:
    """Glorot: U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out)); suits tanh and sigmoid."""
    return uniform(shape, gain * math.sqrt(6.0 / (fan_in + fan_out)))


def xavier_normal(shape: Shape, fan_in: int, fan_out: int, gain: float = 1.0) -> np.ndarray:
    """Glorot: N(0, gain^2 * 2 / (fan_in + fan_out))."""
    return normal(shape, gain * math.sqrt(2.0 / (fan_in + fan_out)))


def kaiming_normal(shape: Shape, fan_in: int, gain: float = math.sqrt(2.0)) -> np.ndarray:
    """He: N(0, gain^2 / fan_in); the default gain sqrt(2) compensates ReLU zeroing half."""
    return normal(shape, gain / math.sqrt(fan_in))


def kaiming_uniform(shape: Shape, fan_in: int, gain: float = math.sqrt(2.0)) -> np.ndarray:
    """He: U(-a, a) with a = gain * sqrt(3 / fan_in)."""
    return uniform(shape, gain * math.sqrt(3.0 / fan_in))


def lecun_normal(shape: Shape, fan_in: int) -> np.ndarray:
    """LeCun: N(0, 1 / fan_in), the upstream Linear default."""
    return normal(shape, 1.0 / math.sqrt(fan_in))
