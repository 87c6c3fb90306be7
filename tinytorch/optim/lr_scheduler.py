"""PyTorch's ``optim.lr_scheduler`` names for the schedules of ``tinytorch.core.training``."""

from __future__ import annotations

from tinytorch.core.training import (
    CosineAnnealingLR,
    CosineSchedule,
    LinearWarmup,
    LRScheduler,
    StepLR,
)

__all__ = ["CosineAnnealingLR", "CosineSchedule", "LRScheduler", "LinearWarmup", "StepLR"]
