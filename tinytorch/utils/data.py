"""PyTorch's ``torch.utils.data``: ``from tinytorch.utils.data import Dataset, DataLoader``.

Nothing lives here: datasets, the loader and its default collation are defined in
``tinytorch.core.dataloader`` (module 05) and only re-exported, so a PyTorch program's imports
resolve to the course's own loader. Map-style datasets only (``__len__`` and ``__getitem__``);
``num_workers`` is accepted and loading always runs in the calling process.

Example:
    >>> import numpy as np
    >>> ds = TensorDataset(np.arange(6.0).reshape(3, 2), np.array([0, 1, 0]))
    >>> train, val = random_split(ds, [2, 1], seed=0)
    >>> [tuple(x.shape) for x, _ in DataLoader(train, batch_size=2)]
    [(2, 2)]
"""

from __future__ import annotations

from tinytorch.core.dataloader import (
    DataLoader,
    Dataset,
    Subset,
    TensorDataset,
    default_collate,
    random_split,
)

__all__ = ["DataLoader", "Dataset", "Subset", "TensorDataset", "default_collate", "random_split"]
