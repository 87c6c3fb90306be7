"""Milestone 03 (1986): backpropagation trains a multi-layer perceptron to read handwritten digits.

The shipped 8x8 digits (1438 training and 359 test images) are flattened to 64 numbers and
fed to a two-hidden-layer MLP trained with Adam on the cross-entropy loss. When the MNIST
files are in the data folder (``$TINYTORCH_DATA``), a full run also trains on MNIST as an
extra; ``dataset="mnist"`` (``tinytorch milestones run 03 --mnist``) makes MNIST the verdict.

Run it alone with ``python -m tinytorch.milestones.mlp [--quick] [--mnist]``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

import numpy as np

from tinytorch.core.activations import ReLU
from tinytorch.core.layers import Linear, Sequential
from tinytorch.core.losses import CrossEntropyLoss
from tinytorch.core.optimizers import Adam
from tinytorch.data import load_digits, load_mnist
from tinytorch.milestones.report import (
    MilestoneResult,
    MilestoneRun,
    Split,
    check_dataset,
    fit,
    say,
    train_digits_or_extra,
)

ID, NAME, YEAR = "03", "mlp", 1986
TITLE = "Backpropagation trains a multi-layer perceptron"
TARGET, QUICK_TARGET = 0.94, 0.90  # test accuracy on the shipped digits
MNIST_TARGET, MNIST_QUICK_TARGET = 0.97, 0.90  # test accuracy on MNIST (when it is judged)
MNIST_QUICK_SUBSET = 10_000  # training images used by a quick MNIST run
STORY = (
    "Rumelhart, Hinton and Williams showed that backpropagation trains networks with hidden "
    "layers, and that those layers learn useful features by themselves. It answered the XOR "
    "objection in practice and is still how every network in this package learns."
)
SHOWS = (
    "An MLP (64 -> 128 -> 64 -> 10, ReLU) learns the shipped 8x8 handwritten digits from "
    "pixels alone and is tested on digits it never saw. Target: test accuracy >= 94% "
    "(quick mode: >= 90%)."
)


def _predict(logits: np.ndarray) -> np.ndarray:
    return np.asarray(logits.argmax(axis=-1))


def build_mlp(inputs: int, hidden: tuple[int, ...] = (128, 64), classes: int = 10) -> Sequential:
    """Linear/ReLU pairs of the given widths, then a Linear to the class scores."""
    layers: list[object] = []
    for width in hidden:
        layers += [Linear(inputs, width), ReLU()]
        inputs = width
    return Sequential(*layers, Linear(inputs, classes))


def train_digits(quick: bool, out: TextIO) -> tuple[float, dict[str, list[float]]]:
    """Train the MLP on the shipped digits; return (test accuracy, history)."""
    x_train, y_train, x_test, y_test = load_digits(flatten=True)
    say(out, f"data: shipped digits, {len(x_train)} training and {len(x_test)} test images "
             f"of 8x8 = 64 pixels")
    model = build_mlp(64)
    history = fit(model, CrossEntropyLoss(), Adam(model.parameters(), lr=0.002),
                  Split(x_train, y_train, x_test, y_test), epochs=8 if quick else 30,
                  batch_size=32, predict=_predict, out=out, desc="digits")
    return history["test_acc"][-1], history


def train_mnist(quick: bool, out: TextIO) -> tuple[float, dict[str, list[float]]]:
    """Train a wider MLP on MNIST from the data folder; return (test accuracy, history)."""
    x_train, y_train, x_test, y_test = load_mnist()
    if quick:
        x_train, y_train = x_train[:MNIST_QUICK_SUBSET], y_train[:MNIST_QUICK_SUBSET]
    scale = np.float32(1.0 / 255.0)
    x_train = x_train.reshape(len(x_train), -1).astype(np.float32) * scale  # (N, 784)
    x_test = x_test.reshape(len(x_test), -1).astype(np.float32) * scale
    say(out, f"data: MNIST, {len(x_train)} training and {len(x_test)} test images of 28x28")
    model = build_mlp(784, hidden=(256, 128))
    history = fit(model, CrossEntropyLoss(), Adam(model.parameters(), lr=0.001),
                  Split(x_train, y_train, x_test, y_test), epochs=2 if quick else 6,
                  batch_size=128, predict=_predict, out=out, desc="mnist")
    return history["test_acc"][-1], history


def run(quick: bool = False, seed: int = 0, plot_dir: str | Path | None = None,
        out: TextIO | None = None, dataset: str = "digits") -> MilestoneResult:
    """Train the MLP and check its test accuracy; print as it goes.

    Args:
        quick: fewer epochs, lower target (90%); no extra MNIST run.
        seed: seeds the initial weights and the shuffling.
        plot_dir: save the loss/accuracy curves there as PNG (needs matplotlib).
        out: where to print; defaults to ``sys.stdout`` at call time.
        dataset: ``"digits"`` (the verdict uses the shipped digits; MNIST runs as an extra in
            a full run when its files are present) or ``"mnist"`` (the verdict uses MNIST).

    Raises:
        SerializationError: ``dataset="mnist"`` and the MNIST files are not in the data folder.
        ValueError: an unknown ``dataset``.
    """
    check_dataset(dataset, "mnist")
    session = MilestoneRun(ID, NAME, YEAR, TITLE, STORY, SHOWS, quick=quick, seed=seed,
                           plot_dir=plot_dir, out=out)
    checks, history, notes = train_digits_or_extra(
        session, "MLP", dataset, train_digits=train_digits,
        target=QUICK_TARGET if quick else TARGET, extra="mnist", extra_label="MNIST",
        train_extra=train_mnist, extra_target=MNIST_QUICK_TARGET if quick else MNIST_TARGET)
    return session.finish(checks, history, notes)


if __name__ == "__main__":
    flags = sys.argv[1:]
    outcome = run(quick="--quick" in flags, dataset="mnist" if "--mnist" in flags else "digits")
    sys.exit(0 if outcome.passed else 1)
