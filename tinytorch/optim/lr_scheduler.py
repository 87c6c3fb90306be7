"""PyTorch's ``optim.lr_scheduler`` names for the schedules of ``tinytorch.core.schedulers``."""

from __future__ import annotations

from tinytorch.core.schedulers import (
    CosineAnnealingLR,
    CosineSchedule,
    LambdaLR,
    LinearWarmup,
    LRScheduler,
    OneCycleLR,
    StepLR,
)

__all__ = ["CosineAnnealingLR", "CosineSchedule", "LRScheduler", "LambdaLR", "LinearWarmup",
           "OneCycleLR", "StepLR"]
