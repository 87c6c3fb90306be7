"""Datasets, the DataLoader (batching, fast path, reproducible shuffling) and image transforms."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tinytorch.core.dataloader import (
    Compose,
    DataLoader,
    Dataset,
    Normalize,
    RandomCrop,
    RandomHorizontalFlip,
    TensorDataset,
    default_collate,
)
from tinytorch.core.errors import ShapeError
from tinytorch.core.rng import manual_seed
from tinytorch.core.tensor import Tensor


def _indexed(n: int = 10) -> TensorDataset:
    """Sample i has input row [i, i] and label i % 3, so batches reveal which samples they hold."""
    x = np.repeat(np.arange(n, dtype=np.float64)[:, None], 2, axis=1)
    return TensorDataset(x, np.arange(n) % 3)


def _ids(loader: DataLoader) -> list[int]:
    return [int(v) for x, _ in loader for v in x.data[:, 0]]


# --- datasets and batching -----------------------------------------------------------------------


def test_tensor_dataset_rows_and_dtypes() -> None:
    data = _indexed(5)
    assert len(data) == 5
    x, y = data[3]
    assert x.tolist() == [3.0, 3.0] and x.dtype == np.float32   # float64 input stored as float32
    assert y.item() == 0 and y.dtype == np.int64
    labels = Tensor([1, 2, 3, 4, 5], dtype=np.int32)
    assert TensorDataset(Tensor(np.zeros((5, 2))), labels)[4][1].dtype == np.int32


@pytest.mark.parametrize("fields", [(), (np.zeros((4, 2)), np.zeros(3)), (np.float32(1.0),)])
def test_tensor_dataset_rejects_fields_that_do_not_line_up(fields: tuple[Any, ...]) -> None:
    with pytest.raises(ShapeError, match="fix:"):
        TensorDataset(*fields)


def test_batches_sizes_and_last_partial_batch() -> None:
    loader = DataLoader(_indexed(10), batch_size=4)
    batches = list(loader)
    assert len(loader) == 3
    assert [tuple(x.shape) for x, _ in batches] == [(4, 2), (4, 2), (2, 2)]
    assert _ids(loader) == list(range(10))
    assert batches[0][1].dtype == np.int64 and batches[0][1].tolist() == [0, 1, 2, 0]
    assert batches[0][0].dtype == np.float32 and not batches[0][0].requires_grad


def test_drop_last_skips_the_partial_batch() -> None:
    loader = DataLoader(_indexed(10), batch_size=4, drop_last=True)
    assert len(loader) == 2
    assert [x.shape[0] for x, _ in loader] == [4, 4]
    assert len(DataLoader(_indexed(8), batch_size=4, drop_last=True)) == 2


@pytest.mark.parametrize("batch_size", [0, -1, 2.5, True])
def test_bad_batch_size_is_rejected(batch_size: Any) -> None:
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(_indexed(), batch_size=batch_size)


def test_tensor_dataset_uses_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    original = TensorDataset.__getitem__

    def counting(self: TensorDataset, index: int) -> Any:
        calls.append(index)
        return original(self, index)

    monkeypatch.setattr(TensorDataset, "__getitem__", counting)
    loader = DataLoader(_indexed(10), batch_size=4, shuffle=True)
    assert loader.uses_fast_path
    assert sorted(_ids(loader)) == list(range(10))
    assert calls == []  # one fancy-index per field per batch, no per-sample call


def test_subclass_that_changes_getitem_is_honoured() -> None:
    class Shifted(TensorDataset):
        def __getitem__(self, index: int) -> tuple[Tensor, ...]:
            x, y = super().__getitem__(index)
            return x + 100.0, y

    loader = DataLoader(Shifted(np.arange(6.0)[:, None], np.arange(6)), batch_size=4)
    assert not loader.uses_fast_path  # the per-sample logic must not be bypassed
    assert [v for x, _ in loader for v in x.data[:, 0].tolist()] == [100.0 + i for i in range(6)]


def test_batches_are_copies_not_views_of_the_dataset() -> None:
    data = _indexed(4)
    x, _ = next(iter(DataLoader(data, batch_size=4)))
    x.data[...] = -1.0
    assert data[0][0].tolist() == [0.0, 0.0]


class _Pairs(Dataset):
    """A map-style dataset of (image array, int label, float weight)."""

    def __len__(self) -> int:
        return 5

    def __getitem__(self, index: int) -> tuple[np.ndarray, int, float]:
        return np.full((1, 2, 2), index, dtype=np.float64), index * 2, 0.5 * index


def test_generic_path_collates_samples() -> None:
    x, y, w = next(iter(DataLoader(_Pairs(), batch_size=3)))
    assert x.shape == (3, 1, 2, 2) and x.dtype == np.float32
    assert x.data[:, 0, 0, 0].tolist() == [0.0, 1.0, 2.0]
    assert y.dtype == np.int64 and y.tolist() == [0, 2, 4]
    assert w.dtype == np.float32 and w.tolist() == [0.0, 0.5, 1.0]


def test_default_collate_of_single_values_and_bad_shapes() -> None:
    batch = default_collate([np.zeros(3), np.ones(3)])
    assert isinstance(batch, Tensor) and batch.tolist() == [[0.0] * 3, [1.0] * 3]
    assert default_collate([{"a": 1}, {"a": 2}])["a"].tolist() == [1, 2]
    with pytest.raises(ShapeError, match="different shapes"):
        default_collate([np.zeros(3), np.zeros(4)])


def test_custom_collate_fn_receives_the_samples() -> None:
    seen = []

    def collate(samples: list[Any]) -> int:
        seen.append(len(samples))
        return sum(label for _, label, _ in samples)

    assert list(DataLoader(_Pairs(), batch_size=2, collate_fn=collate)) == [2, 10, 8]
    assert seen == [2, 2, 1]


def test_base_dataset_must_be_subclassed() -> None:
    with pytest.raises(NotImplementedError):
        len(Dataset())


# --- shuffling -----------------------------------------------------------------------------------


def test_every_sample_seen_once_per_shuffled_epoch() -> None:
    loader = DataLoader(_indexed(23), batch_size=5, shuffle=True)
    first, second = _ids(loader), _ids(loader)
    assert sorted(first) == sorted(second) == list(range(23))
    assert first != second  # a new order every epoch


def test_seeded_shuffle_is_reproducible_and_changes_per_epoch() -> None:
    a = DataLoader(_indexed(20), batch_size=4, shuffle=True, seed=42)
    b = DataLoader(_indexed(20), batch_size=4, shuffle=True, seed=42)
    epochs_a = [_ids(a) for _ in range(3)]
    manual_seed(123)  # the global generator does not affect a seeded loader
    epochs_b = [_ids(b) for _ in range(3)]
    assert epochs_a == epochs_b
    assert epochs_a[0] != epochs_a[1] != epochs_a[2]
    b.set_epoch(1)
    assert _ids(b) == epochs_a[1]  # how a resumed run sees the same order again
    assert _ids(DataLoader(_indexed(20), batch_size=4, shuffle=True, seed=7)) != epochs_a[0]


def test_unseeded_shuffle_follows_manual_seed() -> None:
    loader = DataLoader(_indexed(20), batch_size=4, shuffle=True)
    manual_seed(5)
    first = [_ids(loader), _ids(loader)]
    manual_seed(5)
    again = [_ids(loader), _ids(loader)]
    manual_seed(6)
    other = _ids(loader)
    assert first == again
    assert other != first[0]


def test_negative_seed_is_rejected() -> None:
    with pytest.raises(ValueError, match="seed"):
        DataLoader(_indexed(), seed=-1)


# --- transforms ----------------------------------------------------------------------------------


def _images(n: int = 6, c: int = 2, h: int = 4, w: int = 5) -> np.ndarray:
    return np.arange(n * c * h * w, dtype=np.float32).reshape(n, c, h, w)


def test_flip_really_mirrors_the_width_axis() -> None:
    images = _images()
    flipped = RandomHorizontalFlip(p=1.0)(images)
    np.testing.assert_array_equal(flipped, images[..., ::-1])
    np.testing.assert_array_equal(RandomHorizontalFlip(p=0.0)(images), images)
    single = RandomHorizontalFlip(p=1.0)(Tensor(images[0]))
    assert isinstance(single, Tensor)
    np.testing.assert_array_equal(single.data, images[0][..., ::-1])
    assert images[0, 0, 0, 0] == 0.0  # the input is never modified


def test_flip_decides_per_image_and_follows_manual_seed() -> None:
    images = _images(n=64)
    manual_seed(3)
    out = RandomHorizontalFlip(p=0.5)(images)
    flipped = [bool(np.array_equal(o, i[..., ::-1])) for o, i in zip(out, images, strict=True)]
    kept = [bool(np.array_equal(o, i)) for o, i in zip(out, images, strict=True)]
    assert all(f != k for f, k in zip(flipped, kept, strict=True))  # each image one or the other
    assert 10 < sum(flipped) < 54
    manual_seed(3)
    np.testing.assert_array_equal(RandomHorizontalFlip(p=0.5)(images), out)


def test_random_crop_shape_and_windows_come_from_the_padded_image() -> None:
    images = _images(n=8, c=2, h=4, w=5) + 1.0  # no zeros inside, so padding is visible
    out = RandomCrop((4, 5), padding=2)(images)
    assert out.shape == (8, 2, 4, 5) and out.dtype == np.float32
    padded = np.pad(images, ((0, 0), (0, 0), (2, 2), (2, 2)))
    for n in range(8):
        matches = [(t, s) for t in range(5) for s in range(5)
                   if np.array_equal(out[n], padded[n, :, t:t + 4, s:s + 5])]
        assert matches, f"crop {n} is not a window of the padded image"
    assert (out == 0).any()  # with padding 2 some window almost surely includes the border


def test_random_crop_single_image_and_size_errors() -> None:
    image = _images(n=1)[0]                                    # (2, 4, 5)
    out = RandomCrop(3)(image)
    assert out.shape == (2, 3, 3)
    assert any(np.array_equal(out, image[:, t:t + 3, s:s + 3]) for t in range(2)
               for s in range(3))
    assert RandomCrop(2)(image[0]).shape == (2, 2)             # a 2-D (H, W) image
    with pytest.raises(ShapeError, match="larger"):
        RandomCrop(6)(image)
    with pytest.raises(ShapeError, match="channel-first"):
        RandomCrop(2)(np.zeros(5))


def test_normalize_math_per_channel_and_scalar() -> None:
    images = _images(n=3, c=2)
    mean, std = [1.0, 2.0], [0.5, 4.0]
    out = Normalize(mean, std)(images)
    expected = (images - np.array(mean)[:, None, None]) / np.array(std)[:, None, None]
    np.testing.assert_allclose(out, expected, rtol=1e-6)
    assert out.dtype == np.float32
    np.testing.assert_allclose(Normalize(3.0, 2.0)(images.astype(np.uint8)),
                               (images - 3.0) / 2.0, rtol=1e-6)
    with pytest.raises(ShapeError, match="channel"):
        Normalize([0.0, 0.0, 0.0], [1.0, 1.0, 1.0])(images)
    with pytest.raises(ValueError, match="zero"):
        Normalize(0.0, [1.0, 0.0])


def test_compose_applies_in_order_and_works_in_the_fast_path() -> None:
    images = _images(n=4, c=1, h=3, w=3)
    pipeline = Compose([Normalize(10.0, 2.0), RandomHorizontalFlip(p=1.0)])
    np.testing.assert_allclose(pipeline(images), ((images - 10.0) / 2.0)[..., ::-1])
    data = TensorDataset(images, np.arange(4), transform=pipeline)
    x, y = next(iter(DataLoader(data, batch_size=4)))
    np.testing.assert_allclose(x.data, pipeline(images))
    assert y.tolist() == [0, 1, 2, 3]
    np.testing.assert_allclose(data[1][0].data, pipeline(images[1]))
    assert "Normalize" in repr(pipeline)
