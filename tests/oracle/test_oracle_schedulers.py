"""Learning-rate schedules against PyTorch: the sequence of rates (and momenta) step by step.

Each schedule is built on an optimizer with two parameter groups of different rates, in both
frameworks, and stepped alongside; after every step the rates of both groups must agree
(``get_last_lr()`` and what the optimizer's groups hold), and for OneCycleLR the cycled
momentum or beta1 too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from oracle_helpers import import_torch

from tinytorch.core import optimizers
from tinytorch.core.tensor import Parameter
from tinytorch.optim import lr_scheduler

torch = import_torch()


def _two_groups(framework: Any, make: Callable[[], Any], name: str, **kwargs: Any) -> Any:
    a, b = make(), make()
    return getattr(framework, name)([{"params": [a]}, {"params": [b], "lr": 0.3}], lr=0.1,
                                    **kwargs)


def _ours(name: str = "SGD", **kwargs: Any) -> Any:
    return _two_groups(optimizers, lambda: Parameter([1.0]), name, **kwargs)


def _theirs(name: str = "SGD", **kwargs: Any) -> Any:
    return _two_groups(torch.optim, lambda: torch.zeros(1, requires_grad=True), name, **kwargs)


def _momenta(opt: Any) -> list[float]:
    return [g["betas"][0] if "betas" in g else g["momentum"] for g in opt.param_groups]


def _compare(ours: Any, theirs: Any, steps: int, momentum: bool = False) -> None:
    for step in range(steps):
        assert ours.get_last_lr() == pytest.approx(theirs.get_last_lr(), rel=1e-9, abs=1e-15), step
        assert [g["lr"] for g in ours.optimizer.param_groups] == pytest.approx(
            [g["lr"] for g in theirs.optimizer.param_groups], rel=1e-9, abs=1e-15), step
        if momentum:
            assert _momenta(ours.optimizer) == pytest.approx(_momenta(theirs.optimizer),
                                                             rel=1e-9), step
        theirs.optimizer.step()
        ours.step()
        theirs.step()


LAMBDAS: list[Any] = [lambda e: 0.9 ** e,
                      [lambda e: 1.0 / (e + 1), lambda e: min(1.0, (e + 1) / 4)]]


@pytest.mark.oracle
@pytest.mark.parametrize("lr_lambda", LAMBDAS, ids=["one-function", "one-per-group"])
def test_lambda_lr_matches_torch(lr_lambda: Any) -> None:
    _compare(lr_scheduler.LambdaLR(_ours(), lr_lambda),
             torch.optim.lr_scheduler.LambdaLR(_theirs(), lr_lambda), steps=10)


ONE_CYCLE = [
    ("SGD", {"momentum": 0.9}, {"max_lr": 1.0, "total_steps": 20}),
    ("SGD", {"momentum": 0.9}, {"max_lr": [1.0, 2.0], "epochs": 3, "steps_per_epoch": 7,
                                "anneal_strategy": "linear", "pct_start": 0.25}),
    ("SGD", {"momentum": 0.9}, {"max_lr": 0.5, "total_steps": 30, "three_phase": True,
                                "div_factor": 10.0, "final_div_factor": 100.0}),
    ("Adam", {}, {"max_lr": 0.01, "total_steps": 16, "base_momentum": 0.8,
                  "max_momentum": [0.9, 0.95]}),
    ("AdamW", {}, {"max_lr": 0.01, "total_steps": 12, "cycle_momentum": False}),
]


@pytest.mark.oracle
@pytest.mark.parametrize(("name", "opt_kwargs", "kwargs"), ONE_CYCLE,
                         ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(ONE_CYCLE)])
def test_one_cycle_lr_and_momentum_match_torch(name: str, opt_kwargs: dict[str, Any],
                                               kwargs: dict[str, Any]) -> None:
    ours = lr_scheduler.OneCycleLR(_ours(name, **opt_kwargs), **kwargs)
    theirs = torch.optim.lr_scheduler.OneCycleLR(_theirs(name, **opt_kwargs), **kwargs)
    total = kwargs.get("total_steps") or kwargs["epochs"] * kwargs["steps_per_epoch"]
    _compare(ours, theirs, steps=total, momentum=kwargs.get("cycle_momentum", True))


@pytest.mark.oracle
def test_step_and_cosine_schedules_follow_each_groups_own_rate() -> None:
    _compare(lr_scheduler.StepLR(_ours(), step_size=3, gamma=0.5),
             torch.optim.lr_scheduler.StepLR(_theirs(), step_size=3, gamma=0.5), steps=10)
    _compare(lr_scheduler.CosineAnnealingLR(_ours(), T_max=8, eta_min=0.01),
             torch.optim.lr_scheduler.CosineAnnealingLR(_theirs(), T_max=8, eta_min=0.01),
             steps=9)
