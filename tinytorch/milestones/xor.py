"""Milestone 02 (1969): XOR, which no single layer can learn and one hidden layer learns at once.

XOR's classes sit on opposite corners of a square, so no straight line separates them: a
single ``Linear(2, 1)`` can get at most three of the four corners right. Adding one hidden
layer with a nonlinearity bends the boundary, and backpropagation finds it.

Run it alone with ``python -m tinytorch.milestones.xor [--quick]``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

import numpy as np

from tinytorch.core.activations import Tanh
from tinytorch.core.layers import Linear, Sequential
from tinytorch.core.losses import BCEWithLogitsLoss
from tinytorch.core.optimizers import Adam
from tinytorch.core.rng import get_rng
from tinytorch.milestones.report import (
    Check,
    MilestoneResult,
    MilestoneRun,
    Split,
    evaluate,
    fit,
    say,
)

ID, NAME, YEAR = "02", "xor", 1969
TITLE = "XOR and the limits of one layer"
SINGLE_LAYER_BOUND = 0.75  # a line can classify at most 3 of XOR's 4 corners
TARGET, QUICK_TARGET = 1.0, 1.0  # the hidden-layer network must get every test point right
STORY = (
    "Minsky and Papert's book Perceptrons proved that a single layer of threshold units cannot "
    "compute XOR, and the field largely stalled for over a decade. The way out, hidden layers "
    "trained by propagating errors backwards, is exactly what this milestone runs."
)
SHOWS = (
    "The four XOR corners (with noisy copies around them). First a single Linear(2, 1) layer "
    "tries and fails: at most 75% of the truth table. Then a network with one hidden layer of 8 "
    "tanh units reaches 100% on the truth table and on held-out noisy points."
)
TRUTH_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
TRUTH_Y = np.array([[0], [1], [1], [0]], dtype=np.float32)


def make_xor(copies: int, rng: np.random.Generator, noise: float = 0.1) -> tuple[np.ndarray,
                                                                                np.ndarray]:
    """``copies`` noisy points around each XOR corner, with the corner's label."""
    x = np.repeat(TRUTH_X, copies, axis=0) + rng.normal(0.0, noise, (4 * copies, 2))
    return x.astype(np.float32), np.repeat(TRUTH_Y, copies, axis=0)  # (4c, 2), (4c, 1)


def _predict(scores: np.ndarray) -> np.ndarray:
    return (scores > 0).astype(np.float32)


def run(quick: bool = False, seed: int = 0, plot_dir: str | Path | None = None,
        out: TextIO | None = None) -> MilestoneResult:
    """Show the single layer failing and the hidden layer succeeding; check both.

    Args:
        quick: fewer epochs (same targets).
        seed: seeds the data, the initial weights and the shuffling.
        plot_dir: save the loss/accuracy curves there as PNG (needs matplotlib).
        out: where to print; defaults to ``sys.stdout`` at call time.
    """
    session = MilestoneRun(ID, NAME, YEAR, TITLE, STORY, SHOWS, quick=quick, seed=seed,
                           plot_dir=plot_dir, out=out)
    out = session.out
    rng = get_rng()
    x_train, y_train = make_xor(50, rng)
    x_test, y_test = make_xor(50, rng)
    data = Split(x_train, y_train, x_test, y_test)
    epochs = 30 if quick else 60
    loss_fn = BCEWithLogitsLoss()

    say(out, "1) a single layer: Linear(2, 1)")
    single = Linear(2, 1)
    single_history = fit(single, loss_fn, Adam(single.parameters(), lr=0.05), data, epochs,
                         batch_size=25, predict=_predict, out=out, desc="single")
    single_acc = _truth_table(single, loss_fn, out)

    say(out, "2) one hidden layer: Linear(2, 8) -> tanh -> Linear(8, 1)")
    net = Sequential(Linear(2, 8), Tanh(), Linear(8, 1))
    history = fit(net, loss_fn, Adam(net.parameters(), lr=0.05), data, epochs, batch_size=25,
                  predict=_predict, out=out, desc="hidden")
    hidden_truth = _truth_table(net, loss_fn, out)
    hidden_test = history["test_acc"][-1]

    checks = [
        Check("single layer (expected to fail)", "truth-table accuracy", single_acc,
              SINGLE_LAYER_BOUND, higher_is_better=False),
        Check("hidden layer", "truth-table accuracy", hidden_truth, 1.0),
        Check("hidden layer", "noisy test accuracy", hidden_test,
              QUICK_TARGET if quick else TARGET),
    ]
    curves = {"single_loss": single_history["train_loss"], "hidden_loss": history["train_loss"],
              "single_test_acc": single_history["test_acc"], "hidden_test_acc": history["test_acc"]}
    return session.finish(checks, curves)


def _truth_table(model: object, loss_fn: BCEWithLogitsLoss, out: TextIO) -> float:
    """Print the model's answer for each XOR corner; return the fraction it gets right."""
    _, accuracy = evaluate(model, loss_fn, TRUTH_X, TRUTH_Y, _predict)
    from tinytorch.core.autograd import no_grad
    from tinytorch.core.tensor import Tensor

    with no_grad():
        scores = model(Tensor(TRUTH_X)).data[:, 0]  # type: ignore[operator]
    answers = "  ".join(f"{int(a)} xor {int(b)} -> {int(s > 0)}"
                        for (a, b), s in zip(TRUTH_X, scores, strict=True))
    say(out, f"   truth table: {answers}   ({100.0 * accuracy:.0f}% right)")
    return accuracy


if __name__ == "__main__":
    sys.exit(0 if run(quick="--quick" in sys.argv[1:]).passed else 1)
