"""PyTorch's ``torch.utils`` names: ``tinytorch.utils.data`` is the data-loading face."""

from __future__ import annotations

from tinytorch.utils import data

__all__ = ["data"]
