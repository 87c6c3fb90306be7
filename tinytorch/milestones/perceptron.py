"""Milestone 01 (1957): one neuron learns to separate two classes of points in the plane.

A ``Linear(2, 1)`` layer computes a score w . x + b; a step at zero turns it into a class.
It is trained by SGD on the binary cross-entropy of sigmoid(score), which for separable data
drives the same line as Rosenblatt's rule (nudge the weights toward each misclassified
point) but with a smooth loss that autograd can differentiate.

Run it alone with ``python -m tinytorch.milestones.perceptron [--quick]``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

import numpy as np

from tinytorch.core.layers import Linear
from tinytorch.core.losses import BCEWithLogitsLoss
from tinytorch.core.optimizers import SGD
from tinytorch.core.rng import get_rng
from tinytorch.milestones.report import Check, MilestoneResult, MilestoneRun, Split, fit, say

ID, NAME, YEAR = "01", "perceptron", 1957
TITLE = "Rosenblatt's perceptron"
TARGET, QUICK_TARGET = 0.95, 0.95  # test accuracy; the data are separable, so both are honest
STORY = (
    "Frank Rosenblatt's perceptron was the first machine that learned its weights from "
    "examples instead of having them wired in by hand. It showed that a simple error-driven "
    "update finds a separating line whenever one exists, and it launched the first wave of "
    "neural-network research."
)
SHOWS = (
    "Two classes of 2-D points that a straight line can separate. A single Linear(2, 1) "
    "neuron starts from a random line and, trained by SGD, finds one that classifies held-out "
    "points correctly. Target: test accuracy >= 95%."
)


def make_points(n: int, rng: np.random.Generator, margin: float = 0.15) -> tuple[np.ndarray,
                                                                                np.ndarray]:
    """Sample ``n`` points in [-2, 2]^2 labelled by a fixed line, keeping a margin around it.

    The hidden rule is 1.5 x0 - x1 + 0.3 > 0; points closer to the line than ``margin`` are
    redrawn so the two classes are cleanly separable.
    """
    normal, offset = np.array([1.5, -1.0]), 0.3
    kept: list[np.ndarray] = []
    while sum(len(k) for k in kept) < n:
        points = rng.uniform(-2.0, 2.0, size=(2 * n, 2))
        distance = (points @ normal + offset) / np.linalg.norm(normal)
        kept.append(points[np.abs(distance) > margin])
    x = np.concatenate(kept)[:n].astype(np.float32)
    y = (x @ normal + offset > 0).astype(np.float32).reshape(-1, 1)
    return x, y  # (n, 2), (n, 1)


def _predict(scores: np.ndarray) -> np.ndarray:
    """The step function: class 1 where the score is positive."""
    return (scores > 0).astype(np.float32)


def run(quick: bool = False, seed: int = 0, plot_dir: str | Path | None = None,
        out: TextIO | None = None) -> MilestoneResult:
    """Train the perceptron and check its test accuracy; print as it goes.

    Args:
        quick: fewer epochs (the target stays >= 95%: the problem is easy).
        seed: seeds the data, the initial weights and the shuffling.
        plot_dir: save the loss/accuracy curves there as PNG (needs matplotlib).
        out: where to print; defaults to ``sys.stdout`` at call time.
    """
    session = MilestoneRun(ID, NAME, YEAR, TITLE, STORY, SHOWS, quick=quick, seed=seed,
                           plot_dir=plot_dir, out=out)
    out = session.out
    rng = get_rng()
    x_train, y_train = make_points(200, rng)
    x_test, y_test = make_points(400, rng)
    data = Split(x_train, y_train, x_test, y_test)
    say(out, f"data: {len(x_train)} training and {len(x_test)} test points, "
             f"{int(y_train.sum())} of the training points in class 1")

    neuron = Linear(2, 1)
    optimizer = SGD(neuron.parameters(), lr=0.5)
    epochs = 15 if quick else 40
    history = fit(neuron, BCEWithLogitsLoss(), optimizer, data, epochs, batch_size=20,
                  predict=_predict, out=out)

    w = neuron.weight.data[:, 0]
    b = float(neuron.bias.data[0]) if neuron.bias is not None else 0.0
    say(out, f"learned boundary: {w[0]:+.3f} x0 {w[1]:+.3f} x1 {b:+.3f} = 0 "
             f"(the hidden rule is +1.5 x0 -1.0 x1 +0.3 = 0, up to scale)")
    accuracy = history["test_acc"][-1]
    check = Check("perceptron", "test accuracy", accuracy, QUICK_TARGET if quick else TARGET)
    return session.finish([check], history)


if __name__ == "__main__":
    sys.exit(0 if run(quick="--quick" in sys.argv[1:]).passed else 1)
