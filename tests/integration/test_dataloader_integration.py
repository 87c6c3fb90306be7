"""Standard: the data pipeline (module 05) feeding models, losses and optimizers.

Batches come out with the shapes and dtypes a model and a loss expect, every sample is seen
once per epoch, shuffling is reproducible from a seed, transforms are applied to what the model
sees, and the last, smaller batch is neither lost nor mis-weighted.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tinytorch.core.activations import ReLU
from tinytorch.core.dataloader import (
    Compose,
    DataLoader,
    Dataset,
    Normalize,
    RandomCrop,
    RandomHorizontalFlip,
    TensorDataset,
)
from tinytorch.core.errors import ShapeError
from tinytorch.core.layers import Flatten, Linear, Sequential
from tinytorch.core.losses import CrossEntropyLoss, MSELoss
from tinytorch.core.optimizers import SGD, Adam
from tinytorch.core.rng import manual_seed
from tinytorch.core.spatial import Conv2d, MaxPool2d
from tinytorch.core.tensor import Tensor
from tinytorch.data import load_digits


def fit(model: Any, optimizer: Any, loader: DataLoader, epochs: int) -> list[list[float]]:
    """The plain loop a user writes (cross-entropy); each epoch's batch losses, in order."""
    history = []
    for _ in range(epochs):
        losses = []
        for inputs, labels in loader:
            optimizer.zero_grad()
            loss = CrossEntropyLoss()(model(inputs), labels)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        history.append(losses)
    return history


def epoch_ids(loader: DataLoader) -> list[int]:
    """The sample ids (last field) in the order one epoch delivers them."""
    return [i for batch in loader for i in batch[-1].tolist()]


def test_quick_batches_feed_a_training_loop(rng: np.random.Generator) -> None:
    x = rng.standard_normal((100, 5)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int64)  # a linearly separable rule
    loader = DataLoader(TensorDataset(x, y), batch_size=20, shuffle=True)
    batch_x, batch_y = next(iter(loader))
    assert isinstance(batch_x, Tensor) and batch_x.shape == (20, 5)
    assert batch_x.dtype == np.float32 and batch_y.dtype == np.int64

    model = Sequential(Linear(5, 8), ReLU(), Linear(8, 2))
    epoch_losses = [np.mean(e) for e in fit(model, Adam(model.parameters(), lr=0.05), loader, 8)]
    assert epoch_losses[-1] < 0.3 * epoch_losses[0]
    predicted = model(Tensor(x)).data.argmax(axis=1)
    assert (predicted == y).mean() >= 0.95


def test_quick_every_sample_is_seen_once_per_epoch_in_a_new_order() -> None:
    ids = np.arange(50)
    loader = DataLoader(TensorDataset(np.zeros((50, 2), dtype=np.float32), ids), batch_size=8,
                        shuffle=True)
    assert len(loader) == 7  # 6 full batches and one of 2
    first, second = epoch_ids(loader), epoch_ids(loader)
    assert sorted(first) == sorted(second) == ids.tolist()
    assert first != second and first != ids.tolist()
    assert epoch_ids(DataLoader(TensorDataset(np.zeros(50), ids), batch_size=8)) == ids.tolist()


def test_seeded_shuffling_is_reproducible_and_resumable() -> None:
    dataset = TensorDataset(np.zeros((30, 1), dtype=np.float32), np.arange(30))

    def loader(seed: int | None) -> DataLoader:
        return DataLoader(dataset, batch_size=7, shuffle=True, seed=seed)

    a, b = loader(5), loader(5)
    epochs_a = [epoch_ids(a) for _ in range(3)]
    assert epochs_a == [epoch_ids(b) for _ in range(3)]
    assert epochs_a[0] != epochs_a[1]  # a new order every epoch ...
    resumed = loader(5)
    resumed.set_epoch(2)  # ... and any epoch can be replayed on its own
    assert epoch_ids(resumed) == epochs_a[2]
    assert epoch_ids(loader(6)) != epochs_a[0]

    manual_seed(42)  # unseeded loaders follow the global generator
    first = epoch_ids(loader(None))
    manual_seed(42)
    assert epoch_ids(loader(None)) == first


def test_quick_last_partial_batch_is_kept_or_dropped(rng: np.random.Generator) -> None:
    x = rng.standard_normal((10, 3)).astype(np.float32)
    y = rng.standard_normal((10, 1)).astype(np.float32)
    sizes = [len(bx) for bx, _ in DataLoader(TensorDataset(x, y), batch_size=4)]
    assert sizes == [4, 4, 2]
    dropping = DataLoader(TensorDataset(x, y), batch_size=4, drop_last=True)
    assert [len(bx) for bx, _ in dropping] == [4, 4] and len(dropping) == 2

    # the small batch's loss is its own mean: its gradient equals the one computed directly
    model = Linear(3, 1)
    last_x, last_y = list(DataLoader(TensorDataset(x, y), batch_size=4))[-1]
    np.testing.assert_array_equal(last_x.data, x[8:])
    MSELoss()(model(last_x), last_y).backward()
    residual = x[8:] @ model.weight.data + model.bias.data - y[8:]           # (2, 1)
    np.testing.assert_allclose(model.weight.grad.data, 2 * x[8:].T @ residual / 2, rtol=1e-5)


def test_transforms_change_what_the_model_sees(rng: np.random.Generator) -> None:
    images = rng.uniform(0, 1, size=(16, 1, 4, 4)).astype(np.float32)
    labels = np.arange(16)

    normalize = Normalize(mean=0.5, std=0.25)
    batch_x, _ = next(iter(DataLoader(TensorDataset(images, labels, transform=normalize),
                                      batch_size=16)))
    np.testing.assert_allclose(batch_x.data, (images - 0.5) / 0.25, rtol=1e-6)

    flip_all = Compose([RandomHorizontalFlip(p=1.0), normalize])  # flip, then normalize
    batch_x, batch_ids = next(iter(DataLoader(TensorDataset(images, labels, transform=flip_all),
                                              batch_size=16, shuffle=True)))
    expected = (images[batch_ids.data][..., ::-1] - 0.5) / 0.25
    np.testing.assert_allclose(batch_x.data, expected, rtol=1e-6)

    keep = DataLoader(TensorDataset(images, labels, transform=RandomHorizontalFlip(p=0.0)),
                      batch_size=16)
    np.testing.assert_array_equal(next(iter(keep))[0].data, images)


def test_random_crop_shifts_images_but_keeps_their_shape(rng: np.random.Generator) -> None:
    images = rng.uniform(0.1, 1, size=(64, 1, 6, 6)).astype(np.float32)  # no zeros inside
    loader = DataLoader(TensorDataset(images, np.arange(64), transform=RandomCrop(6, padding=2)),
                        batch_size=64)
    crops, ids = next(iter(loader))
    assert crops.shape == (64, 1, 6, 6)
    padded = np.pad(images, ((0, 0), (0, 0), (2, 2), (2, 2)))
    shifts = set()
    for crop, i in zip(crops.data, ids.tolist(), strict=True):  # each crop is one window
        windows = np.lib.stride_tricks.sliding_window_view(padded[i, 0], (6, 6))
        hits = np.argwhere((windows == crop[0]).all(axis=(2, 3)))
        assert len(hits) >= 1, f"crop {i} is not a window of its padded image"
        shifts.add(tuple(hits[0]))
    assert len(shifts) > 5  # the windows really are random


def test_fast_path_and_per_sample_path_give_the_same_batches(rng: np.random.Generator) -> None:
    x = rng.standard_normal((23, 2, 3, 3)).astype(np.float32)
    y = rng.integers(0, 4, size=23)
    dataset = TensorDataset(x, y, transform=Normalize([0.1, -0.2], [2.0, 0.5]))
    fast = DataLoader(dataset, batch_size=5, shuffle=True, seed=9)
    slow = DataLoader(dataset, batch_size=5, shuffle=True, seed=9,
                      collate_fn=lambda samples: tuple(
                          Tensor(np.stack([s[k].data for s in samples]),
                                 dtype=samples[0][k].dtype) for k in range(2)))
    assert fast.uses_fast_path and not slow.uses_fast_path
    for (fx, fy), (sx, sy) in zip(fast, slow, strict=True):
        np.testing.assert_allclose(fx.data, sx.data, rtol=1e-6)
        np.testing.assert_array_equal(fy.data, sy.data)


class ShapesDataset(Dataset):
    """A hand-written dataset: a vertical or horizontal stripe image per sample, label as int."""

    def __len__(self) -> int:
        return 40

    def __getitem__(self, index: int) -> tuple[np.ndarray, int]:
        image = np.zeros((1, 6, 6), dtype=np.float32)
        label = index % 2
        if label:
            image[0, :, index % 6] = 1.0
        else:
            image[0, index % 6, :] = 1.0
        return image, label


def test_quick_custom_dataset_collates_into_a_cnn_training_step() -> None:
    loader = DataLoader(ShapesDataset(), batch_size=8, shuffle=True)
    assert not loader.uses_fast_path
    images, labels = next(iter(loader))
    assert images.shape == (8, 1, 6, 6) and images.dtype == np.float32
    assert labels.dtype == np.int64  # Python ints become class indices for the loss

    model = Sequential(Conv2d(1, 4, 3, padding=1), ReLU(), MaxPool2d(2), Flatten(),
                       Linear(4 * 3 * 3, 2))
    epochs = fit(model, SGD(model.parameters(), lr=0.1, momentum=0.9), loader, 10)
    losses = [loss for epoch in epochs for loss in epoch]
    assert np.mean(losses[-5:]) < 0.2 * np.mean(losses[:5])


def test_shipped_digits_flow_through_a_loader_into_a_cnn() -> None:
    x_train, y_train, _, _ = load_digits(flatten=False)
    loader = DataLoader(TensorDataset(x_train, y_train), batch_size=32, shuffle=True, seed=0)
    assert len(loader) == int(np.ceil(len(x_train) / 32))
    images, labels = next(iter(loader))
    assert images.shape == (32, 1, 8, 8) and labels.shape == (32,)
    assert images.data.min() >= 0.0 and images.data.max() <= 1.0
    model = Sequential(Conv2d(1, 4, 3), ReLU(), Flatten(), Linear(4 * 6 * 6, 10))
    loss = CrossEntropyLoss()(model(images), labels)
    loss.backward()
    assert loss.item() == pytest.approx(np.log(10), abs=1.0)
    assert np.abs(model.layers[0].weight.grad.data).sum() > 0


def test_samples_of_different_shapes_fail_with_a_clear_error() -> None:
    class Ragged(Dataset):
        def __len__(self) -> int:
            return 4

        def __getitem__(self, index: int) -> Any:
            return np.ones(index + 1, dtype=np.float32), 0

    with pytest.raises(ShapeError, match="different shapes"):
        next(iter(DataLoader(Ragged(), batch_size=4)))
