"""PyTorch's ``nn.utils`` gradient helpers, on top of the course's ``clip_grad_norm``.

Example:
    >>> import numpy as np
    >>> from tinytorch.core.tensor import Parameter
    >>> w = Parameter([0.0, 0.0]); w.grad = np.array([3.0, 4.0], dtype=np.float32)
    >>> clip_grad_norm_([w], max_norm=1.0).item()
    5.0
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from tinytorch.core.tensor import Tensor
from tinytorch.core.training import clip_grad_norm


def clip_grad_norm_(parameters: Iterable[Any] | Tensor, max_norm: float,
                    norm_type: float = 2.0) -> Tensor:
    """Scale all gradients together to a joint norm of at most ``max_norm``, in place.

    The same rule as the course's ``clip_grad_norm`` (and ``torch.nn.utils.clip_grad_norm_``);
    the norm before clipping comes back as a 0-d float32 Tensor, as PyTorch returns it.
    """
    norm = clip_grad_norm(parameters, max_norm=max_norm, norm_type=norm_type)
    return Tensor(np.float32(norm))


def clip_grad_value_(parameters: Iterable[Any] | Tensor, clip_value: float) -> None:
    """Clamp every gradient element into ``[-clip_value, clip_value]``, in place."""
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    for p in params:
        if p.grad is not None:
            np.clip(p.grad.data, -clip_value, clip_value, out=p.grad.data)


__all__ = ["clip_grad_norm_", "clip_grad_value_"]
