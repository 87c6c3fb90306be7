"""PyTorch's ``nn.AdaptiveAvgPool2d``: average pooling to a fixed output size.

Output cell ``i`` of an axis of length ``n`` pooled to ``o`` cells averages the input from
``floor(i * n / o)`` to ``ceil((i + 1) * n / o)`` (PyTorch's bins, which may overlap when
``o`` does not divide ``n``). Each axis is therefore a fixed averaging matrix, and the layer is
``A_h @ x @ A_w^T``: two batched matmuls, whose gradient the engine already knows.

Example:
    >>> import numpy as np
    >>> x = Tensor(np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4))
    >>> AdaptiveAvgPool2d(2)(x).tolist()
    [[[[2.5, 4.5], [10.5, 12.5]]]]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinytorch.core.errors import ShapeError, explain
from tinytorch.core.layers import Module
from tinytorch.core.tensor import Tensor


def averaging_matrix(n: int, o: int, dtype: Any = np.float32) -> np.ndarray:
    """(o, n) matrix whose row i averages PyTorch's adaptive bin i of an axis of length n."""
    rows = np.arange(o)
    starts = (rows * n) // o                                   # floor(i * n / o)
    ends = -((-(rows + 1) * n) // o)                           # ceil((i + 1) * n / o)
    cols = np.arange(n)
    inside = (cols >= starts[:, None]) & (cols < ends[:, None])  # (o, n)
    return (inside / (ends - starts)[:, None]).astype(dtype)


class AdaptiveAvgPool2d(Module):
    """Average-pool (N, C, H, W) or (C, H, W) inputs to ``output_size`` (int, or (h, w)).

    ``None`` in ``output_size`` keeps that axis's input size.
    """

    def __init__(self, output_size: int | tuple[int | None, int | None]) -> None:
        super().__init__()
        pair = (output_size, output_size) if isinstance(output_size, int) else tuple(output_size)
        self.output_size = pair

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim not in (3, 4):
            raise ShapeError(explain(
                what=f"AdaptiveAvgPool2d got an input of shape {x.shape}",
                why="it pools the last two axes of (N, C, H, W) or (C, H, W) images",
                fix="reshape the input to channel-first images",
            ))
        height, width = x.shape[-2:]
        out_h = height if self.output_size[0] is None else int(self.output_size[0])
        out_w = width if self.output_size[1] is None else int(self.output_size[1])
        rows = Tensor(averaging_matrix(height, out_h, x.dtype))    # (out_h, H)
        cols = Tensor(averaging_matrix(width, out_w, x.dtype).T)   # (W, out_w)
        return rows @ x @ cols                                     # (..., out_h, out_w)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


__all__ = ["AdaptiveAvgPool2d", "averaging_matrix"]
