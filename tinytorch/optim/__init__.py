"""The PyTorch-style face of the optimizers: ``from tinytorch import optim``, ``optim.Adam(...)``.

Nothing lives here: the optimizers are defined in ``tinytorch.core.optimizers`` (module 07)
and the learning-rate schedules in ``tinytorch.core.schedulers`` (module 08); this package only
re-exports them, with the schedules also under ``optim.lr_scheduler`` as in PyTorch.

Example:
    >>> from tinytorch import nn, optim
    >>> model = nn.Linear(3, 1)
    >>> optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    >>> scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=10, gamma=0.5)
    >>> scheduler.get_lr(10)
    0.05
"""

from __future__ import annotations

from tinytorch.core.optimizers import SGD, Adam, AdamW, Optimizer, RMSprop
from tinytorch.core.schedulers import (
    CosineAnnealingLR,
    CosineSchedule,
    LambdaLR,
    LinearWarmup,
    LRScheduler,
    OneCycleLR,
    StepLR,
)
from tinytorch.core.training import clip_grad_norm
from tinytorch.optim import lr_scheduler

__all__ = [
    "SGD", "Adam", "AdamW", "CosineAnnealingLR", "CosineSchedule", "LRScheduler", "LambdaLR",
    "LinearWarmup", "OneCycleLR", "Optimizer", "RMSprop", "StepLR", "clip_grad_norm",
    "lr_scheduler",
]
