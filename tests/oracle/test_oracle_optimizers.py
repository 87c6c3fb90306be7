"""Optimizers, gradient clipping and schedules against PyTorch.

Each optimizer trains the same small two-layer network on the same data for 20 steps in both
frameworks, starting from the same weights; the final weights must agree within 1e-5. Halfway
the learning rate is halved, as a schedule would, and one parameter never receives a gradient,
so "skip parameters without a gradient" is checked too.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from oracle_helpers import import_torch

from tinytorch.core import optimizers
from tinytorch.core.losses import CrossEntropyLoss
from tinytorch.core.tensor import Parameter, Tensor
from tinytorch.core.training import CosineAnnealingLR, CosineSchedule, StepLR, clip_grad_norm

torch = import_torch()

STEPS = 20
SHAPES = {"w1": (6, 8), "b1": (8,), "w2": (8, 4), "b2": (4,), "unused": (3,)}


def _problem() -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    weights = {name: rng.normal(0, 0.5, size=shape).astype(np.float32)
               for name, shape in SHAPES.items()}
    x = rng.normal(size=(16, 6)).astype(np.float32)
    y = rng.integers(0, 4, size=16)
    return weights, x, y


def _groups(params: dict[str, Any], grouped: bool) -> Any:
    if not grouped:
        return list(params.values())
    return [{"params": [params["w1"], params["b1"], params["unused"]]},
            {"params": [params["w2"], params["b2"]], "weight_decay": 0.0}]


def _run_tinytorch(name: str, kwargs: dict[str, Any], grouped: bool) -> dict[str, np.ndarray]:
    weights, x_np, y_np = _problem()
    params = {k: Parameter(v) for k, v in weights.items()}
    opt = getattr(optimizers, name)(_groups(params, grouped), **kwargs)
    x, loss_fn = Tensor(x_np), CrossEntropyLoss()
    for step in range(STEPS):
        if step == STEPS // 2:
            opt.lr *= 0.5
        opt.zero_grad()
        hidden = (x @ params["w1"] + params["b1"]).tanh()
        loss_fn(hidden @ params["w2"] + params["b2"], y_np).backward()
        opt.step()
    return {k: p.data for k, p in params.items()}


def _run_torch(name: str, kwargs: dict[str, Any], grouped: bool) -> dict[str, np.ndarray]:
    weights, x_np, y_np = _problem()
    params = {k: torch.tensor(v, requires_grad=True) for k, v in weights.items()}
    opt = getattr(torch.optim, name)(_groups(params, grouped), **kwargs)
    x, y = torch.tensor(x_np), torch.tensor(y_np)
    for step in range(STEPS):
        if step == STEPS // 2:
            for group in opt.param_groups:
                group["lr"] *= 0.5
        opt.zero_grad()
        hidden = torch.tanh(x @ params["w1"] + params["b1"])
        torch.nn.functional.cross_entropy(hidden @ params["w2"] + params["b2"], y).backward()
        opt.step()
    return {k: p.detach().numpy() for k, p in params.items()}


CASES = [
    ("SGD", {"lr": 0.1}, False),
    ("SGD", {"lr": 0.1, "momentum": 0.9}, False),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True}, False),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "weight_decay": 0.05}, False),
    ("SGD", {"lr": 0.1, "momentum": 0.8, "dampening": 0.3, "weight_decay": 0.01}, False),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.05}, True),
    ("Adam", {"lr": 0.01}, False),
    ("Adam", {"lr": 0.01, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.05}, False),
    ("AdamW", {"lr": 0.01}, False),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.1}, True),
    ("RMSprop", {"lr": 0.01}, False),
    ("RMSprop", {"lr": 0.01, "momentum": 0.9}, False),
    ("RMSprop", {"lr": 0.01, "alpha": 0.9, "momentum": 0.5, "weight_decay": 0.05,
                 "centered": True}, False),
]


@pytest.mark.oracle
@pytest.mark.parametrize(("name", "kwargs", "grouped"), CASES,
                         ids=[f"{n}-{'-'.join(map(str, k))}{'-groups' if g else ''}"
                              for n, k, g in CASES])
def test_twenty_steps_match_torch(name: str, kwargs: dict[str, Any], grouped: bool) -> None:
    ours = _run_tinytorch(name, kwargs, grouped)
    theirs = _run_torch(name, kwargs, grouped)
    initial, _, _ = _problem()
    assert not np.allclose(ours["w1"], initial["w1"], atol=1e-3)  # training really moved it
    np.testing.assert_array_equal(ours["unused"], initial["unused"])  # no grad: untouched
    for key in SHAPES:
        np.testing.assert_allclose(ours[key], theirs[key], atol=1e-5, rtol=0,
                                   err_msg=f"{name} {kwargs}: {key} differs from torch")


@pytest.mark.oracle
@pytest.mark.parametrize(("max_norm", "norm_type"), [(1.0, 2.0), (100.0, 2.0), (0.5, math.inf),
                                                     (2.0, 1.0)])
def test_clip_grad_norm_matches_torch(max_norm: float, norm_type: float) -> None:
    rng = np.random.default_rng(3)
    grads = [rng.normal(size=s).astype(np.float32) for s in [(4, 5), (5,), (3, 2, 2)]]
    ours = [Parameter(np.zeros_like(g)) for g in grads]
    theirs = [torch.zeros(g.shape, requires_grad=True) for g in grads]
    for p, q, g in zip(ours, theirs, grads, strict=True):
        p.grad = g.copy()
        q.grad = torch.tensor(g)
    ours.append(Parameter(np.zeros(2, dtype=np.float32)))   # no gradient: ignored by both
    theirs.append(torch.zeros(2, requires_grad=True))
    norm = clip_grad_norm(ours, max_norm=max_norm, norm_type=norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm=max_norm, norm_type=norm_type)
    assert isinstance(norm, float)
    assert norm == pytest.approx(float(expected), rel=1e-6)
    for p, q in zip(ours[:-1], theirs[:-1], strict=True):
        np.testing.assert_allclose(p.grad.data, q.grad.numpy(), rtol=1e-6, atol=1e-7)
    assert ours[-1].grad is None


@pytest.mark.oracle
def test_cosine_and_step_schedules_match_torch() -> None:
    total, base = 12, 0.2
    ours_opt = optimizers.SGD([Parameter([1.0])], lr=base)
    q = torch.zeros(1, requires_grad=True)
    cosine_torch = torch.optim.lr_scheduler.CosineAnnealingLR(
        torch.optim.SGD([q], lr=base), T_max=total, eta_min=0.01)
    cosine_ours = CosineAnnealingLR(ours_opt, T_max=total, eta_min=0.01)
    step_torch = torch.optim.lr_scheduler.StepLR(torch.optim.SGD([q], lr=base), step_size=5,
                                                 gamma=0.5)
    step_ours = StepLR(optimizers.SGD([Parameter([1.0])], lr=base), step_size=5, gamma=0.5)
    for epoch in range(total + 1):
        assert cosine_ours.get_lr(epoch) == pytest.approx(cosine_torch.get_last_lr()[0],
                                                          rel=1e-9, abs=1e-12)
        assert step_ours.get_lr(epoch) == pytest.approx(step_torch.get_last_lr()[0], rel=1e-12)
        cosine_torch.optimizer.step()
        step_torch.optimizer.step()
        cosine_torch.step()
        step_torch.step()


def test_cosine_schedule_follows_its_formula() -> None:
    schedule = CosineSchedule(max_lr=0.1, min_lr=0.01, total_epochs=100)
    for epoch in (0, 1, 25, 50, 99):
        expected = 0.01 + 0.09 * (1 + math.cos(math.pi * epoch / 100)) / 2
        assert schedule.get_lr(epoch) == pytest.approx(expected, rel=1e-12)
    assert schedule.get_lr(0) == pytest.approx(0.1)
    assert schedule.get_lr(50) == pytest.approx(0.055)
    assert schedule.get_lr(100) == schedule.get_lr(250) == pytest.approx(0.01)


def _per_group_run(framework: Any, name: str, groups: Any, make: Any) -> None:
    """Six steps; after three, group 1's lr is changed through param_groups (as user code does)."""
    _, x_np, y_np = _problem()
    opt = getattr(framework, name)(groups(), lr=0.05)
    for step in range(6):
        if step == 3:
            opt.param_groups[1]["lr"] = 0.01
        opt.zero_grad()
        make(x_np, y_np).backward()
        opt.step()


PER_GROUP = [
    ("SGD", {"momentum": 0.9}, {"momentum": 0.5, "nesterov": True, "weight_decay": 0.1}),
    ("Adam", {"betas": (0.8, 0.99)}, {"betas": (0.5, 0.9), "weight_decay": 0.05, "eps": 1e-6}),
    ("AdamW", {}, {"weight_decay": 0.2, "betas": (0.85, 0.95)}),
    ("RMSprop", {"momentum": 0.3}, {"alpha": 0.9, "centered": True}),
]


@pytest.mark.oracle
@pytest.mark.parametrize(("name", "first", "second"), PER_GROUP, ids=[c[0] for c in PER_GROUP])
def test_two_param_groups_with_their_own_settings_match_torch(
        name: str, first: dict[str, Any], second: dict[str, Any]) -> None:
    weights, _, _ = _problem()
    ours = {k: Parameter(v) for k, v in weights.items()}
    theirs = {k: torch.tensor(v, requires_grad=True) for k, v in weights.items()}

    def groups_of(p: dict[str, Any]) -> Any:
        return lambda: [{"params": [p["w1"], p["b1"]], **first},
                        {"params": [p["w2"], p["b2"]], "lr": 0.1, **second}]

    def ours_loss(x: np.ndarray, y: np.ndarray) -> Tensor:
        hidden = (Tensor(x) @ ours["w1"] + ours["b1"]).tanh()
        return CrossEntropyLoss()(hidden @ ours["w2"] + ours["b2"], y)

    def torch_loss(x: np.ndarray, y: np.ndarray) -> Any:
        hidden = torch.tanh(torch.tensor(x) @ theirs["w1"] + theirs["b1"])
        return torch.nn.functional.cross_entropy(hidden @ theirs["w2"] + theirs["b2"],
                                                 torch.tensor(y))

    _per_group_run(optimizers, name, groups_of(ours), ours_loss)
    _per_group_run(torch.optim, name, groups_of(theirs), torch_loss)
    for key in ("w1", "b1", "w2", "b2"):
        np.testing.assert_allclose(ours[key].data, theirs[key].detach().numpy(), atol=1e-5,
                                   rtol=0, err_msg=f"{name}: {key} differs from torch")
