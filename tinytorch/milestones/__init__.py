"""The historical milestones: sixty years of neural networks, each one really trained here.

Each milestone is a module with ``run(quick=False, seed=0, plot_dir=None, out=None) ->
MilestoneResult`` and can be started alone (``python -m tinytorch.milestones.xor``) or from
the command line (``tinytorch milestones run 02``). This registry lists them by number and
imports a milestone only when it is run, so ``tinytorch milestones list`` stays instant.

Example:
    >>> [m.id for m in MILESTONES]
    ['01', '02', '03', '04', '05', '06']
    >>> get_milestone("xor").year
    1969
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from tinytorch.core.errors import TinyTorchError, explain
from tinytorch.milestones.report import Check, MilestoneResult


@dataclass(frozen=True)
class MilestoneInfo:
    """One entry of the registry: number, year, title, and the module that runs it."""

    id: str
    year: int
    title: str
    name: str
    module: str
    summary: str


def _shipped(milestone_id: str, year: int, title: str, name: str, summary: str) -> MilestoneInfo:
    """A registry entry for the milestone implemented by ``tinytorch.milestones.<name>``."""
    return MilestoneInfo(milestone_id, year, title, name, f"{__name__}.{name}", summary)


MILESTONES: tuple[MilestoneInfo, ...] = (
    _shipped("01", 1957, "Rosenblatt's perceptron", "perceptron",
             "one neuron learns to separate two clouds of 2-D points"),
    _shipped("02", 1969, "XOR and the limits of one layer", "xor",
             "a single layer cannot learn XOR; one hidden layer can"),
    _shipped("03", 1986, "Backpropagation trains a multi-layer perceptron", "mlp",
             "an MLP reads handwritten digits (MNIST too, when its files are present)"),
    _shipped("04", 1998, "LeNet-style convolutional network", "cnn",
             "convolutions read digits as images (CIFAR-10 too, when present)"),
    _shipped("05", 2017, "Attention is all you need", "transformer",
             "a transformer reverses sequences; a TinyGPT learns to answer questions"),
    _shipped("06", 2018, "MLPerf-style optimization", "mlperf",
             "profile, prune, quantize and KV-cache three models, with measured before/after"),
)


class UnknownMilestoneError(TinyTorchError, KeyError):
    """The requested milestone does not exist, or cannot be run yet."""

    def __str__(self) -> str:  # KeyError would quote the message; show it as written
        return str(self.args[0]) if self.args else ""


def get_milestone(key: str | int) -> MilestoneInfo:
    """Find a milestone by number ('2', '02', 2) or name ('xor'); raise a clear error if absent."""
    text = str(key).strip().lower()
    for info in MILESTONES:
        if text in (info.id, info.name) or (text.isdigit() and int(text) == int(info.id)):
            return info
    known = ", ".join(f"{m.id} ({m.name})" for m in MILESTONES)
    raise UnknownMilestoneError(explain(
        what=f"there is no milestone {key!r}",
        why=f"the milestones are {known}",
        fix="run `tinytorch milestones list` and pass one of those numbers or names, or 'all'",
    ))


def run_milestone(key: str | int, **options: Any) -> MilestoneResult:
    """Run one milestone by number or name; ``options`` go to its ``run`` function."""
    info = get_milestone(key)
    module = importlib.import_module(info.module)
    result: MilestoneResult = module.run(**options)
    return result


__all__ = [
    "MILESTONES",
    "Check",
    "MilestoneInfo",
    "MilestoneResult",
    "UnknownMilestoneError",
    "get_milestone",
    "run_milestone",
]
