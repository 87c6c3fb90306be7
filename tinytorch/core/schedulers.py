"""Learning-rate schedules (module 08): a rule that says how fast to learn at each epoch or step.

A schedule maps a step number (an epoch for the course's schedules, a batch for
``OneCycleLR``) to a learning rate per parameter group. Bound to an optimizer, ``step()``
advances the count and writes the new rates into ``optimizer.param_groups`` (one rate per
group, each from that group's own starting rate, as PyTorch does); the course's
``CosineSchedule`` has one rate for every group and needs no optimizer at all: the Trainer
asks it ``get_lr(epoch)``.

Example:
    >>> schedule = CosineSchedule(max_lr=0.1, min_lr=0.01, total_epochs=10)
    >>> [round(schedule.get_lr(e), 4) for e in (0, 5, 10)]
    [0.1, 0.055, 0.01]
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from tinytorch.core.errors import SerializationError, explain


def group_rates(optimizer: Any) -> list[float]:
    """The learning rate of each parameter group (``[optimizer.lr]`` for a group-less one)."""
    groups = getattr(optimizer, "param_groups", None)
    return [float(g["lr"]) for g in groups] if groups else [float(optimizer.lr)]


def set_group_rates(optimizer: Any, rates: Sequence[float]) -> None:
    """Write one rate per group; a single rate goes to every group (``optimizer.lr = rate``)."""
    groups = getattr(optimizer, "param_groups", None)
    if not groups:
        optimizer.lr = rates[0]  # upstream's optimizers: one plain attribute
        return
    for group, rate in zip(groups, list(rates) * (1 if len(rates) > 1 else len(groups)),
                           strict=True):
        group["lr"] = rate


def _per_group(value: float | Sequence[float], count: int, name: str) -> list[float]:
    values = [float(v) for v in value] if isinstance(value, Sequence) else [float(value)]
    if len(values) == 1:
        values *= count
    if len(values) != count:
        raise ValueError(explain(
            what=f"{name} has {len(values)} values for {count} parameter groups",
            why="a list gives one value per parameter group",
            fix=f"pass one number, or a list of {count}",
        ))
    return values


class LRScheduler:
    """Base class: ``get_lr(epoch)`` says the rate of an epoch; ``step()`` advances.

    Subclasses define ``_lr_at(epoch, group)``. The course's schedules ignore ``group``;
    PyTorch-style ones start from ``base_lrs[group]``, the group's rate when the schedule
    was built.

    Attributes:
        epoch: the step whose rate is current (0 until the first ``step()``).
        base_lrs: each group's rate when the schedule was bound (empty when unbound).
    """

    def __init__(self, optimizer: Any = None) -> None:
        self.optimizer = optimizer
        self.epoch = 0
        self.base_lrs = group_rates(optimizer) if optimizer is not None else []

    def get_lr(self, epoch: int | None = None) -> float:
        """The (first group's) rate for epoch ``epoch`` (counted from 0; current when None)."""
        return self._lr_at(self.epoch if epoch is None else int(epoch), 0)

    def get_lrs(self, epoch: int | None = None) -> list[float]:
        """One rate per parameter group for epoch ``epoch`` (the current one when None)."""
        at = self.epoch if epoch is None else int(epoch)
        return [self._lr_at(at, g) for g in range(max(len(self.base_lrs), 1))]

    def get_last_lr(self) -> list[float]:
        """The current rates, one per parameter group (PyTorch's form)."""
        return self.get_lrs()

    def _lr_at(self, epoch: int, group: int) -> float:
        raise NotImplementedError(f"{type(self).__name__} must define _lr_at(epoch, group)")

    def step(self) -> float:
        """Move to the next epoch; returns its rate (and sets it on the bound optimizer)."""
        self.epoch += 1
        rates = self.get_lrs()
        if self.optimizer is not None:
            set_group_rates(self.optimizer, rates)
        return rates[0]

    def _settings(self) -> dict[str, Any]:
        return {"base_lrs": list(self.base_lrs)}

    def state_dict(self) -> dict[str, Any]:
        """JSON-able state: the schedule's type, its settings and its epoch."""
        return {"type": type(self).__name__, "epoch": self.epoch, "settings": self._settings()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore ``state_dict()``'s output; a schedule of another type is refused."""
        if not isinstance(state, dict) or state.get("type") != type(self).__name__:
            found = state.get("type") if isinstance(state, dict) else state
            raise SerializationError(explain(
                what=f"cannot load the state of schedule {found!r} into {type(self).__name__}",
                why="a schedule's state only makes sense for the same kind of schedule",
                fix="build the same schedule as in the saved run before loading",
            ))
        for name, value in state.get("settings", {}).items():
            setattr(self, name, value)
        self.epoch = int(state["epoch"])


def _cosine(epoch: int, total: int, high: float, low: float) -> float:
    """low + (high - low) * (1 + cos(pi * epoch / total)) / 2, flat at ``low`` after ``total``."""
    if epoch >= total:
        return float(low)
    return float(low + (high - low) * (1.0 + math.cos(math.pi * epoch / total)) / 2.0)


class CosineSchedule(LRScheduler):
    """Cosine annealing from ``max_lr`` at epoch 0 to ``min_lr`` at ``total_epochs`` (then flat).

    lr(e) = min_lr + (max_lr - min_lr) * (1 + cos(pi * e / total_epochs)) / 2.
    """

    def __init__(self, max_lr: float = 0.1, min_lr: float = 0.01, total_epochs: int = 100,
                 optimizer: Any = None) -> None:
        super().__init__(optimizer)
        if total_epochs < 1:
            raise ValueError(explain(
                what=f"CosineSchedule got total_epochs={total_epochs}",
                why="the cosine spans at least one epoch",
                fix="pass the number of epochs of the run, e.g. total_epochs=100",
            ))
        self.max_lr, self.min_lr, self.total_epochs = max_lr, min_lr, int(total_epochs)

    def _lr_at(self, epoch: int, group: int) -> float:
        return _cosine(epoch, self.total_epochs, self.max_lr, self.min_lr)

    def _settings(self) -> dict[str, Any]:
        return {"max_lr": self.max_lr, "min_lr": self.min_lr, "total_epochs": self.total_epochs,
                **super()._settings()}


class CosineAnnealingLR(CosineSchedule):
    """PyTorch's signature for cosine annealing: from each group's rate to ``eta_min``.

    Unlike PyTorch, the rate stays at ``eta_min`` after ``T_max`` epochs instead of rising again.
    """

    def __init__(self, optimizer: Any, T_max: int, eta_min: float = 0.0) -> None:  # noqa: N803
        super().__init__(max_lr=group_rates(optimizer)[0], min_lr=eta_min, total_epochs=T_max,
                         optimizer=optimizer)

    def _lr_at(self, epoch: int, group: int) -> float:
        return _cosine(epoch, self.total_epochs, self.base_lrs[group], self.min_lr)


class StepLR(LRScheduler):
    """Multiply each group's initial rate by ``gamma`` every ``step_size`` epochs."""

    def __init__(self, optimizer: Any, step_size: int, gamma: float = 0.1) -> None:
        super().__init__(optimizer)
        if step_size < 1:
            raise ValueError(explain(
                what=f"StepLR got step_size={step_size}",
                why="the rate decays every step_size epochs, so it must be at least 1",
                fix="pass a positive number of epochs, e.g. step_size=30",
            ))
        self.step_size, self.gamma = int(step_size), float(gamma)

    def _lr_at(self, epoch: int, group: int) -> float:
        return self.base_lrs[group] * self.gamma ** (epoch // self.step_size)

    def _settings(self) -> dict[str, Any]:
        return {"step_size": self.step_size, "gamma": self.gamma, **super()._settings()}


class LambdaLR(LRScheduler):
    """lr(e) = initial rate * ``lr_lambda(e)``, per group (one function, or one per group).

    As in PyTorch, building it sets each group's rate to its epoch-0 value. The functions
    are code, so ``state_dict`` holds only the epoch and the initial rates.

    Example:
        >>> from tinytorch.core.optimizers import SGD
        >>> from tinytorch.core.tensor import Parameter
        >>> schedule = LambdaLR(SGD([Parameter([0.0])], lr=0.1), lambda e: 0.5 ** e)
        >>> schedule.step(), schedule.step()
        (0.05, 0.025)
    """

    def __init__(self, optimizer: Any,
                 lr_lambda: Callable[[int], float] | Sequence[Callable[[int], float]]) -> None:
        super().__init__(optimizer)
        count = len(self.base_lrs)
        self.lr_lambdas: list[Callable[[int], float]] = (
            list(lr_lambda) if isinstance(lr_lambda, Sequence) else [lr_lambda] * count)
        if len(self.lr_lambdas) != count:
            raise ValueError(explain(
                what=f"LambdaLR got {len(self.lr_lambdas)} functions for {count} groups",
                why="a list of lr_lambda gives one function per parameter group",
                fix=f"pass one function, or a list of {count}",
            ))
        set_group_rates(optimizer, self.get_lrs())

    def _lr_at(self, epoch: int, group: int) -> float:
        return self.base_lrs[group] * float(self.lr_lambdas[group](epoch))


class LinearWarmup(LRScheduler):
    """Ramp the rate up linearly for ``warmup_epochs``, then follow ``after``.

    During warm-up, lr(e) = target * (start_factor + (1 - start_factor) * e / warmup_epochs),
    where target is ``after``'s first rate; from epoch ``warmup_epochs`` on, lr(e) is
    ``after.get_lr(e - warmup_epochs)``.

    Args:
        after: the schedule that follows (or a constant rate).
        warmup_epochs: length of the ramp.
        start_factor: the fraction of the target used at epoch 0 (never 0, so no epoch is wasted).
        optimizer: bound optimizer for ``step()`` (default: ``after``'s).
    """

    def __init__(self, after: LRScheduler | float, warmup_epochs: int,
                 start_factor: float = 0.1, optimizer: Any = None) -> None:
        super().__init__(optimizer if optimizer is not None else getattr(after, "optimizer", None))
        if warmup_epochs < 0 or not 0.0 < start_factor <= 1.0:
            raise ValueError(explain(
                what=f"LinearWarmup got warmup_epochs={warmup_epochs}, start_factor={start_factor}",
                why="the ramp has a non-negative length and starts at a fraction in (0, 1]",
                fix="pass e.g. warmup_epochs=5, start_factor=0.1",
            ))
        self.after = after
        self.warmup_epochs, self.start_factor = int(warmup_epochs), float(start_factor)

    def _after_lr(self, epoch: int, group: int) -> float:
        if isinstance(self.after, LRScheduler):
            return self.after._lr_at(epoch, group)
        return float(self.after)

    def _lr_at(self, epoch: int, group: int) -> float:
        if epoch >= self.warmup_epochs:
            return self._after_lr(epoch - self.warmup_epochs, group)
        fraction = self.start_factor + (1.0 - self.start_factor) * epoch / self.warmup_epochs
        return self._after_lr(0, group) * fraction

    def state_dict(self) -> dict[str, Any]:
        """As the base class, plus the following schedule's state."""
        state = super().state_dict()
        if isinstance(self.after, LRScheduler):
            state["after"] = self.after.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """As the base class, plus the following schedule's state."""
        if isinstance(self.after, LRScheduler):
            self.after.load_state_dict(state.get("after", {}))
        super().load_state_dict(state)

    def _settings(self) -> dict[str, Any]:
        return {"warmup_epochs": self.warmup_epochs, "start_factor": self.start_factor,
                **super()._settings()}


def _anneal(start: float, end: float, pct: float, strategy: str) -> float:
    if strategy == "cos":
        return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1.0)
    return (end - start) * pct + start


class OneCycleLR(LRScheduler):
    """The 1cycle policy: warm up to ``max_lr``, then anneal far below the start (per batch).

    The rate rises from ``max_lr / div_factor`` to ``max_lr`` over the first ``pct_start`` of
    ``total_steps``, then falls to ``initial / final_div_factor`` (with ``three_phase``, it
    first falls back to the initial rate and only then to the minimum). With
    ``cycle_momentum`` the momentum (Adam's beta1) moves the opposite way between
    ``max_momentum`` and ``base_momentum``. PyTorch's formula and defaults; call ``step()``
    after every batch. Building it sets the optimizer to the step-0 values.

    Raises:
        ValueError: neither total_steps nor epochs and steps_per_epoch, a bad strategy, or
            cycling momentum on an optimizer without momentum or betas.
    """

    def __init__(self, optimizer: Any, max_lr: float | Sequence[float],
                 total_steps: int | None = None, epochs: int | None = None,
                 steps_per_epoch: int | None = None, pct_start: float = 0.3,
                 anneal_strategy: str = "cos", cycle_momentum: bool = True,
                 base_momentum: float | Sequence[float] = 0.85,
                 max_momentum: float | Sequence[float] = 0.95, div_factor: float = 25.0,
                 final_div_factor: float = 1e4, three_phase: bool = False) -> None:
        super().__init__(optimizer)
        if total_steps is None and epochs is not None and steps_per_epoch is not None:
            total_steps = int(epochs) * int(steps_per_epoch)
        if total_steps is None or total_steps < 1 or anneal_strategy not in ("cos", "linear") \
                or not 0.0 <= pct_start <= 1.0:
            raise ValueError(explain(
                what=f"OneCycleLR got total_steps={total_steps}, epochs={epochs}, "
                     f"steps_per_epoch={steps_per_epoch}, pct_start={pct_start}, "
                     f"anneal_strategy={anneal_strategy!r}",
                why="the cycle needs a positive length, a warm-up fraction in [0, 1] and "
                    "'cos' or 'linear' annealing",
                fix="pass total_steps=len(loader) * epochs (or epochs= and steps_per_epoch=)",
            ))
        count = len(self.base_lrs)
        self.total_steps, self.anneal_strategy = int(total_steps), anneal_strategy
        self.max_lrs = _per_group(max_lr, count, "max_lr")
        self.initial_lrs = [m / div_factor for m in self.max_lrs]
        self.min_lrs = [i / final_div_factor for i in self.initial_lrs]
        ends = [pct_start * total_steps - 1, total_steps - 1]
        if three_phase:
            ends = [pct_start * total_steps - 1, 2 * pct_start * total_steps - 2,
                    total_steps - 1]
        self.phase_ends = [float(e) for e in ends]
        self.momentum_key = _momentum_key(optimizer) if cycle_momentum else None
        self.base_momenta = _per_group(base_momentum, count, "base_momentum")
        self.max_momenta = _per_group(max_momentum, count, "max_momentum")
        self._apply()

    def _phase(self, step: int, group: int) -> tuple[list[tuple[float, float]], float]:
        """The (start, end) of lr and momentum in the phase holding ``step``, and its progress."""
        low, high, peak = self.initial_lrs[group], self.min_lrs[group], self.max_lrs[group]
        m_low, m_high = self.base_momenta[group], self.max_momenta[group]
        phases = [[(low, peak), (m_high, m_low)], [(peak, high), (m_low, m_high)]]
        if len(self.phase_ends) == 3:
            phases = [[(low, peak), (m_high, m_low)], [(peak, low), (m_low, m_high)],
                      [(low, high), (m_high, m_high)]]
        start = 0.0
        for i, end in enumerate(self.phase_ends):
            if step <= end or i == len(self.phase_ends) - 1:
                return phases[i], (step - start) / (end - start)
            start = end
        raise AssertionError("unreachable: the last phase always matches")

    def _lr_at(self, epoch: int, group: int) -> float:
        if epoch > self.total_steps:
            raise ValueError(explain(
                what=f"OneCycleLR stepped {epoch} times, past total_steps={self.total_steps}",
                why="the cycle is defined over a fixed number of batches",
                fix="pass total_steps (or epochs and steps_per_epoch) covering the whole run",
            ))
        (lrs, _), pct = self._phase(epoch, group)
        return _anneal(*lrs, pct, self.anneal_strategy)

    def _apply(self) -> None:
        set_group_rates(self.optimizer, self.get_lrs())
        if self.momentum_key is None:
            return
        for g, group in enumerate(self.optimizer.param_groups):
            (_, momenta), pct = self._phase(self.epoch, g)
            value = _anneal(*momenta, pct, self.anneal_strategy)
            if self.momentum_key == "betas":
                group["betas"] = (value, *group["betas"][1:])
            else:
                group["momentum"] = value

    def step(self) -> float:
        """Advance one batch: new rates (and momenta) on the optimizer; returns group 0's rate."""
        self.epoch += 1
        self._apply()
        return self.get_lr()


def _momentum_key(optimizer: Any) -> str:
    defaults = getattr(optimizer, "defaults", {})
    if "betas" in defaults or "momentum" in defaults:
        return "betas" if "betas" in defaults else "momentum"
    raise ValueError(explain(
        what=f"OneCycleLR(cycle_momentum=True) got {type(optimizer).__name__}, which has "
             "neither momentum nor betas",
        why="cycling momentum changes the optimizer's momentum (or Adam's beta1)",
        fix="pass cycle_momentum=False",
    ))


__all__ = ["CosineAnnealingLR", "CosineSchedule", "LRScheduler", "LambdaLR", "LinearWarmup",
           "OneCycleLR", "StepLR", "group_rates", "set_group_rates"]
