"""Input checks shared by the compression layers and functions, each with a three-part error.

Example:
    >>> as_matrix(np.ones((2, 3)), "f", "f needs a matrix").shape
    (2, 3)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinytorch.core.errors import ShapeError, explain


def as_matrix(value: Any, who: str, why: str) -> np.ndarray:
    """``value`` (an array or Tensor) as a 2-D array, or a ShapeError naming ``who``."""
    array = np.asarray(getattr(value, "data", value))
    if array.ndim != 2:
        raise ShapeError(explain(
            what=f"{who} got an array of shape {array.shape}",
            why=why,
            fix="pass a 2-D array; reshape a conv kernel to (out_channels, -1) first",
        ))
    return array


def check_features(layer: str, in_features: int, shape: tuple[int, ...]) -> None:
    """Raise a ShapeError unless an input of ``shape`` ends with ``in_features``."""
    if tuple(shape[-1:]) != (in_features,):
        raise ShapeError(explain(
            what=f"{layer} got input of shape {tuple(shape)}",
            why=f"the last dimension must equal in_features={in_features}",
            fix="flatten the input first, or build the layer with the right in_features",
        ))


__all__ = ["as_matrix", "check_features"]
