"""Scenario: an MLP classifies handwritten digits (the 1986 backpropagation milestone).

The shipped 8x8 digits stand in for MNIST, so the test needs no download: the MLP must reach the
milestone's 94% test accuracy. The MNIST file path is exercised too, on small IDX files the test
writes itself, and read back through ``load_mnist`` into the same training code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from tinytorch.core.activations import ReLU
from tinytorch.core.autograd import no_grad
from tinytorch.core.dataloader import DataLoader, TensorDataset
from tinytorch.core.layers import Linear, Sequential
from tinytorch.core.losses import CrossEntropyLoss
from tinytorch.core.optimizers import Adam
from tinytorch.core.tensor import Tensor
from tinytorch.data import load_digits, load_mnist, read_idx, write_idx

MILESTONE_ACCURACY = 0.94  # the target the MLP milestone states for the digits


def train_mlp(x: np.ndarray, y: np.ndarray, hidden: int, epochs: int, lr: float) -> Any:
    """Train a one-hidden-layer MLP with mini-batches from a shuffling DataLoader."""
    model = Sequential(Linear(x.shape[1], hidden), ReLU(), Linear(hidden, 10))
    loader = DataLoader(TensorDataset(Tensor(x), Tensor(y, dtype=np.int64)), batch_size=32,
                        shuffle=True, seed=0)
    optimizer = Adam(model.parameters(), lr=lr)
    loss_fn = CrossEntropyLoss()
    for _ in range(epochs):
        for batch_x, batch_y in loader:
            optimizer.zero_grad()
            loss_fn(model(batch_x), batch_y).backward()
            optimizer.step()
    return model


def accuracy(model: Any, x: np.ndarray, y: np.ndarray) -> float:
    """Fraction of rows whose highest logit is the label."""
    model.eval()
    with no_grad():
        predicted = model(Tensor(x)).data.argmax(axis=1)
    return float((predicted == y).mean())


def test_mlp_on_shipped_digits_reaches_milestone_accuracy() -> None:
    x_train, y_train, x_test, y_test = load_digits()
    model = train_mlp(x_train, y_train, hidden=128, epochs=20, lr=0.003)
    train_accuracy = accuracy(model, x_train, y_train)
    test_accuracy = accuracy(model, x_test, y_test)
    assert test_accuracy >= MILESTONE_ACCURACY, f"test accuracy {test_accuracy:.3f}"
    assert train_accuracy >= test_accuracy - 0.01  # learned, not guessed


def test_quick_digits_loss_falls_within_one_epoch() -> None:
    x_train, y_train, _, _ = load_digits()
    model = Sequential(Linear(64, 32), ReLU(), Linear(32, 10))
    loss_fn = CrossEntropyLoss()
    with no_grad():
        before = loss_fn(model(Tensor(x_train)), Tensor(y_train, dtype=np.int64)).item()
    assert abs(before - np.log(10)) < 0.5  # an untrained net is about uniform over 10 classes
    trained = train_mlp(x_train, y_train, hidden=32, epochs=1, lr=0.01)
    with no_grad():
        after = loss_fn(trained(Tensor(x_train)), Tensor(y_train, dtype=np.int64)).item()
    assert after < 0.6 * before, f"loss {before:.3f} -> {after:.3f}"


def write_mnist_files(folder: Path, images: np.ndarray, labels: np.ndarray,
                      split: int) -> None:
    """The four standard MNIST files (gzip-compressed IDX) for a train/test split."""
    folder.mkdir(parents=True)
    write_idx(folder / "train-images-idx3-ubyte.gz", images[:split])
    write_idx(folder / "train-labels-idx1-ubyte.gz", labels[:split])
    write_idx(folder / "t10k-images-idx3-ubyte.gz", images[split:])
    write_idx(folder / "t10k-labels-idx1-ubyte", labels[split:])  # one plain file, too


def test_quick_idx_files_load_and_train_like_mnist(tmp_path: Path) -> None:
    x_train, y_train, x_test, y_test = load_digits(flatten=False, normalize=False)
    # MNIST stores 0..255 bytes in (N, rows, cols) and labels as bytes
    images = np.concatenate([x_train, x_test])[:, 0]
    images = np.minimum(images * 16, 255).astype(np.uint8)                 # (N, 8, 8)
    labels = np.concatenate([y_train, y_test]).astype(np.uint8)
    split = len(x_train)
    write_mnist_files(tmp_path / "mnist", images, labels, split)

    raw = read_idx(tmp_path / "mnist" / "train-images-idx3-ubyte.gz")
    assert raw.dtype == np.uint8 and raw.shape == (split, 8, 8)
    mx_train, my_train, mx_test, my_test = load_mnist(root=tmp_path)
    np.testing.assert_array_equal(mx_train, images[:split])
    np.testing.assert_array_equal(mx_test, images[split:])
    np.testing.assert_array_equal(my_train, y_train)
    assert my_test.dtype == np.int64 and my_test.tolist() == y_test.tolist()

    # the same preprocessing any MNIST user writes: scale bytes to [0, 1], flatten rows
    train_rows = mx_train.reshape(len(mx_train), -1).astype(np.float32) / 255
    test_rows = mx_test.reshape(len(mx_test), -1).astype(np.float32) / 255
    model = train_mlp(train_rows, my_train, hidden=32, epochs=4, lr=0.01)
    assert accuracy(model, test_rows, my_test) >= 0.85
