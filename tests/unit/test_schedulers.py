"""Learning-rate schedules: errors, get_last_lr, and the Trainer writing per-group rates."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from tinytorch.core import optimizers
from tinytorch.core.tensor import Parameter, Tensor
from tinytorch.core.training import Trainer
from tinytorch.optim import lr_scheduler


def _ours(name: str = "SGD", **kwargs: Any) -> Any:
    a, b = Parameter([1.0]), Parameter([1.0])
    return getattr(optimizers, name)([{"params": [a]}, {"params": [b], "lr": 0.3}], lr=0.1,
                                     **kwargs)


def test_one_cycle_refuses_stepping_past_its_length_and_a_momentum_less_optimizer() -> None:
    schedule = lr_scheduler.OneCycleLR(_ours(), max_lr=1.0, total_steps=2)
    schedule.step()
    schedule.step()
    with pytest.raises(ValueError, match="past total_steps"):
        schedule.step()
    plain = SimpleNamespace(param_groups=[{"lr": 0.1}], defaults={"lr": 0.1})
    with pytest.raises(ValueError, match="cycle_momentum=False"):
        lr_scheduler.OneCycleLR(plain, max_lr=1.0, total_steps=5)
    lr_scheduler.OneCycleLR(plain, max_lr=1.0, total_steps=5, cycle_momentum=False)
    assert plain.param_groups[0]["lr"] == pytest.approx(1.0 / 25)
    with pytest.raises(ValueError, match="total_steps"):
        lr_scheduler.OneCycleLR(_ours(), max_lr=1.0)


def test_every_schedule_answers_get_last_lr() -> None:
    schedules = [lr_scheduler.StepLR(_ours(), 2), lr_scheduler.CosineAnnealingLR(_ours(), 4),
                 lr_scheduler.LambdaLR(_ours(), lambda e: 1.0),
                 lr_scheduler.OneCycleLR(_ours(), max_lr=1.0, total_steps=4),
                 lr_scheduler.CosineSchedule(0.1, 0.01, 10),
                 lr_scheduler.LinearWarmup(0.5, warmup_epochs=2)]
    for schedule in schedules:
        last = schedule.get_last_lr()
        assert isinstance(last, list) and all(isinstance(v, float) for v in last)
        assert last[0] == schedule.get_lr()


def test_lambda_lr_sets_the_epoch_zero_rate_when_built() -> None:
    opt = _ours()
    lr_scheduler.LambdaLR(opt, lambda e: 0.5)
    assert [g["lr"] for g in opt.param_groups] == [0.05, 0.15]


def test_trainer_writes_each_groups_scheduled_rate() -> None:
    w = Parameter(np.zeros((2, 1), dtype=np.float32))
    b = Parameter(np.zeros(1, dtype=np.float32))
    opt = optimizers.SGD([{"params": [w]}, {"params": [b], "lr": 1.0}], lr=0.1)
    schedule = lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)

    def model(x: Tensor) -> Tensor:
        return x @ w + b

    model.parameters = lambda: [w, b]  # type: ignore[attr-defined]
    trainer = Trainer(model, opt, loss_fn=lambda out, y: ((out - y) ** 2).mean(),
                      scheduler=schedule)
    batch = [(Tensor(np.ones((4, 2))), Tensor(np.ones((4, 1))))]
    trainer.train_epoch(batch)
    trainer.train_epoch(batch)
    assert [g["lr"] for g in opt.param_groups] == [0.05, 0.5]
