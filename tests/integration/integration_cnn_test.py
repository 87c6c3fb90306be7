"""Scenario: a convolutional network reads digit images (the 1998 LeNet milestone, in small).

The shipped digits come as (1, 8, 8) images. A two-convolution network must classify them well
with far fewer weights than an MLP needs, keep learning when its inputs are augmented, and
survive a save/load round trip with identical predictions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from tinytorch.core.activations import ReLU
from tinytorch.core.autograd import no_grad
from tinytorch.core.dataloader import DataLoader, RandomCrop, TensorDataset
from tinytorch.core.layers import Flatten, Linear, Sequential
from tinytorch.core.losses import CrossEntropyLoss
from tinytorch.core.optimizers import Adam
from tinytorch.core.spatial import Conv2d, MaxPool2d
from tinytorch.core.tensor import Tensor
from tinytorch.data import load_digits

CNN_ACCURACY = 0.95  # test accuracy the CNN must reach on the shipped digits


def lenet() -> Sequential:
    """conv(1->16) -> pool -> conv(16->32) -> pool -> linear: (N, 1, 8, 8) -> (N, 10)."""
    return Sequential(
        Conv2d(1, 16, kernel_size=3, padding=1), ReLU(), MaxPool2d(2),   # (N, 16, 4, 4)
        Conv2d(16, 32, kernel_size=3, padding=1), ReLU(), MaxPool2d(2),  # (N, 32, 2, 2)
        Flatten(), Linear(32 * 2 * 2, 10),
    )


def train(model: Any, x: np.ndarray, y: np.ndarray, epochs: int, lr: float,
          transform: Any = None) -> list[float]:
    """Mini-batch Adam training; returns the mean loss of each epoch."""
    loader = DataLoader(TensorDataset(x, y, transform=transform), batch_size=32, shuffle=True,
                        seed=0)
    optimizer = Adam(model.parameters(), lr=lr)
    loss_fn = CrossEntropyLoss()
    history = []
    for _ in range(epochs):
        model.train()
        total = 0.0
        for batch_x, batch_y in loader:
            optimizer.zero_grad()
            loss = loss_fn(model(batch_x), batch_y)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(batch_y)
        history.append(total / len(x))
    return history


def accuracy(model: Any, x: np.ndarray, y: np.ndarray) -> float:
    """Fraction of images classified correctly, in eval mode without a graph."""
    model.eval()
    with no_grad():
        return float((model(Tensor(x)).data.argmax(axis=1) == y).mean())


def test_cnn_on_digit_images_reaches_target_accuracy() -> None:
    x_train, y_train, x_test, y_test = load_digits(flatten=False)
    model = lenet()
    history = train(model, x_train, y_train, epochs=10, lr=0.01)
    test_accuracy = accuracy(model, x_test, y_test)
    assert test_accuracy >= CNN_ACCURACY, f"test accuracy {test_accuracy:.3f}"
    assert history[-1] < history[0] / 4, f"epoch losses {history}"


def test_quick_cnn_shares_weights_across_positions_and_learns() -> None:
    x_train, y_train, x_test, y_test = load_digits(flatten=False)
    model = lenet()
    first = model.layers[0]
    # the first conv maps 64 pixels to 16 * 8 * 8 = 1024 activations with 16 * 9 + 16 weights;
    # a fully connected layer doing the same would need 64 * 1024 + 1024
    assert first.num_parameters() == 16 * 9 + 16
    assert model.num_parameters() == (16 * 9 + 16) + (32 * 16 * 9 + 32) + (128 * 10 + 10)
    assert first.num_parameters() * 400 < Linear(64, 16 * 8 * 8).num_parameters()
    history = train(model, x_train[:512], y_train[:512], epochs=2, lr=0.01)
    assert history[1] < 0.7 * np.log(10)
    assert accuracy(model, x_test, y_test) > 0.6  # far above 10% chance after two epochs


def test_cnn_trains_with_augmented_batches() -> None:
    x_train, y_train, x_test, y_test = load_digits(flatten=False)
    model = lenet()
    history = train(model, x_train, y_train, epochs=8, lr=0.01,
                    transform=RandomCrop(8, padding=1))  # shifted by up to one pixel
    assert history[-1] < history[0] / 3
    assert accuracy(model, x_test, y_test) >= 0.9


def test_quick_trained_cnn_survives_save_and_load(tmp_path: Path) -> None:
    x_train, y_train, x_test, _ = load_digits(flatten=False)
    model = lenet()
    train(model, x_train[:256], y_train[:256], epochs=1, lr=0.01)
    model.save(tmp_path / "lenet.npz")
    restored = lenet()  # fresh random weights ...
    restored.load(tmp_path / "lenet.npz")  # ... replaced by the saved ones
    model.eval()
    restored.eval()
    with no_grad():
        np.testing.assert_array_equal(restored(Tensor(x_test)).data, model(Tensor(x_test)).data)
