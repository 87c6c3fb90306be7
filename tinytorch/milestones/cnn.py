"""Milestone 04 (1998): a LeNet-style convolutional network reads digits as images.

The shipped 8x8 digits are kept as (1, 8, 8) images. Two convolution + ReLU + max-pool
stages learn local stroke detectors that are shared across the image, and a Linear layer
reads the pooled features. The milestone also shows that the convolution filters really
moved during training (upstream's CNN demo trained a conv layer that never updated).
When CIFAR-10 is in the data folder, a full run trains a small CNN on it as an extra;
``dataset="cifar10"`` (``tinytorch milestones run 04 --cifar10``) makes it the verdict.

Run it alone with ``python -m tinytorch.milestones.cnn [--quick] [--cifar10]``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

import numpy as np

from tinytorch.core.activations import ReLU
from tinytorch.core.layers import Flatten, Linear, Sequential
from tinytorch.core.losses import CrossEntropyLoss
from tinytorch.core.optimizers import Adam
from tinytorch.core.spatial import Conv2d, MaxPool2d
from tinytorch.data import load_cifar10, load_digits
from tinytorch.milestones.report import (
    MilestoneResult,
    MilestoneRun,
    Split,
    check_dataset,
    cosine,
    fit,
    say,
    train_digits_or_extra,
)

ID, NAME, YEAR = "04", "cnn", 1998
TITLE = "LeNet-style convolutional network"
TARGET, QUICK_TARGET = 0.96, 0.93  # test accuracy on the shipped digits
# CIFAR-10 runs on a subset to fit the time budget. These bounds are deliberately modest
# estimates for a small CNN after a few epochs; they have not been measured on this machine
# (CIFAR-10 is not shipped), so a miss is reported, never hidden.
CIFAR_TARGET, CIFAR_QUICK_TARGET = 0.45, 0.30
CIFAR_SUBSET, CIFAR_QUICK_SUBSET = 20_000, 5_000
STORY = (
    "LeCun's LeNet made convolutional networks practical: one small filter slides over the "
    "whole image, so a stroke is recognised wherever it appears, with far fewer weights than "
    "a dense layer. Networks like it read a large share of the cheques in the United States, "
    "and the same idea powers modern vision models."
)
SHOWS = (
    "A CNN (conv 3x3 -> ReLU -> maxpool -> conv 3x3 -> ReLU -> maxpool -> Linear; 32 and 64 "
    "filters, 16 and 32 in quick mode) learns the shipped digits as 1x8x8 images, and its "
    "filters are checked to have moved. "
    "Target: test accuracy >= 96% (quick mode: >= 93%)."
)


def _predict(logits: np.ndarray) -> np.ndarray:
    return np.asarray(logits.argmax(axis=-1))


def build_cnn(channels: int, size: int, widths: tuple[int, int] = (16, 32)) -> Sequential:
    """Two conv/ReLU/pool stages (each halves the image side) and a Linear classifier."""
    first, second = widths
    side = size // 4
    return Sequential(
        Conv2d(channels, first, 3, padding=1), ReLU(), MaxPool2d(2),   # (N, first, size/2, .)
        Conv2d(first, second, 3, padding=1), ReLU(), MaxPool2d(2),     # (N, second, size/4, .)
        Flatten(),                                                     # (N, second * side^2)
        Linear(second * side * side, 10),
    )


def _train(model: Sequential, data: Split, epochs: int, batch_size: int, lr: float,
           desc: str, out: TextIO) -> tuple[float, dict[str, list[float]]]:
    """Train, report how far the first conv layer's filters moved; return (test acc, history)."""
    conv = model.layers[0]
    before = conv.weight.data.copy()
    history = fit(model, CrossEntropyLoss(), Adam(model.parameters(), lr=lr), data, epochs,
                  batch_size=batch_size, predict=_predict, out=out, desc=desc,
                  schedule=cosine(lr, epochs))
    moved = float(np.linalg.norm(conv.weight.data - before) / np.linalg.norm(before))
    say(out, f"first conv layer: filters changed by {100.0 * moved:.0f}% of their initial norm")
    return history["test_acc"][-1], history


def train_digits(quick: bool, out: TextIO) -> tuple[float, dict[str, list[float]]]:
    """Train the CNN on the shipped digits as images; return (test accuracy, history)."""
    x_train, y_train, x_test, y_test = load_digits(flatten=False)
    say(out, f"data: shipped digits as images, train {x_train.shape}, test {x_test.shape}")
    # measured over seeds 0-5: quick ends at 95.3-96.7%, full at 97.5-98.3%
    model = build_cnn(1, 8, widths=(16, 32) if quick else (32, 64))
    return _train(model, Split(x_train, y_train, x_test, y_test), epochs=8 if quick else 15,
                  batch_size=32, lr=0.003, desc="digits", out=out)


def train_cifar10(quick: bool, out: TextIO) -> tuple[float, dict[str, list[float]]]:
    """Train a CNN on a CIFAR-10 subset from the data folder; return (test accuracy, history)."""
    x_train, y_train, x_test, y_test = load_cifar10()
    subset = CIFAR_QUICK_SUBSET if quick else CIFAR_SUBSET
    x_train, y_train = x_train[:subset], y_train[:subset]
    x_test, y_test = x_test[:2000 if quick else 10_000], y_test[:2000 if quick else 10_000]
    mean = x_train.mean(axis=(0, 2, 3), keepdims=True, dtype=np.float64).astype(np.float32)
    std = x_train.std(axis=(0, 2, 3), keepdims=True, dtype=np.float64).astype(np.float32)
    x_train = (x_train.astype(np.float32) - mean) / std  # (N, 3, 32, 32), per-channel standardized
    x_test = (x_test.astype(np.float32) - mean) / std
    say(out, f"data: CIFAR-10, {len(x_train)} training and {len(x_test)} test images of 3x32x32")
    return _train(build_cnn(3, 32, widths=(32, 64)), Split(x_train, y_train, x_test, y_test),
                  epochs=1 if quick else 4, batch_size=64, lr=0.002, desc="cifar10", out=out)


def run(quick: bool = False, seed: int = 0, plot_dir: str | Path | None = None,
        out: TextIO | None = None, dataset: str = "digits") -> MilestoneResult:
    """Train the CNN and check its test accuracy; print as it goes.

    Args:
        quick: fewer epochs, lower target (93%); no extra CIFAR-10 run.
        seed: seeds the initial weights and the shuffling.
        plot_dir: save the loss/accuracy curves there as PNG (needs matplotlib).
        out: where to print; defaults to ``sys.stdout`` at call time.
        dataset: ``"digits"`` (verdict on the shipped digits; CIFAR-10 runs as an extra in a
            full run when present) or ``"cifar10"`` (verdict on CIFAR-10).

    Raises:
        SerializationError: ``dataset="cifar10"`` and its files are not in the data folder.
        ValueError: an unknown ``dataset``.
    """
    check_dataset(dataset, "cifar10")
    session = MilestoneRun(ID, NAME, YEAR, TITLE, STORY, SHOWS, quick=quick, seed=seed,
                           plot_dir=plot_dir, out=out)
    checks, history, notes = train_digits_or_extra(
        session, "CNN", dataset, train_digits=train_digits,
        target=QUICK_TARGET if quick else TARGET, extra="cifar10", extra_label="CIFAR-10",
        train_extra=train_cifar10, extra_target=CIFAR_QUICK_TARGET if quick else CIFAR_TARGET)
    return session.finish(checks, history, notes)


if __name__ == "__main__":
    flags = sys.argv[1:]
    outcome = run(quick="--quick" in flags, dataset="cifar10" if "--cifar10" in flags else "digits")
    sys.exit(0 if outcome.passed else 1)
