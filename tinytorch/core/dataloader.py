"""Data loading (module 05): datasets, batching with reproducible shuffling, and image transforms.

A ``Dataset`` answers two questions: how many samples, and what is sample ``i``. A
``DataLoader`` turns one into an iterable of batches: tuples of Tensors whose first axis is the
batch. For a ``TensorDataset``, whose samples are rows of arrays already in memory, a batch is
taken with one fancy-index per field instead of one ``__getitem__`` per sample: the Python
cost per batch stays constant, whatever the batch size.

Shuffling is reproducible. With ``seed=None`` the order comes from the global generator (see
``tinytorch.manual_seed``), so a saved RNG state resumes it. With a ``seed``, epoch ``k``'s
order depends only on ``(seed, k)``; ``set_epoch(k)`` selects it, which is how a resumed run
sees the same orders as an uninterrupted one.

Example:
    >>> x = np.arange(10, dtype=np.float32).reshape(5, 2)
    >>> y = np.array([0, 1, 0, 1, 1])
    >>> loader = DataLoader(TensorDataset(x, y), batch_size=2)
    >>> [tuple(batch_y.shape) for _, batch_y in loader]
    [(2,), (2,), (1,)]
    >>> next(iter(loader))[1].dtype
    dtype('int64')
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from tinytorch.core.errors import ShapeError, explain
from tinytorch.core.rng import get_rng
from tinytorch.core.tensor import Tensor

Batch = Any  # usually a tuple of Tensors, one per field


# --- Datasets --------------------------------------------------------------------------------


class Dataset:
    """A sized collection of samples: subclasses define ``__len__`` and ``__getitem__``."""

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must define __len__()")

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__()")


def _field_array(value: Any) -> np.ndarray:
    """The array behind one dataset field: floats become float32, integers stay integer."""
    array = value.data if isinstance(value, Tensor) else np.asarray(value)
    if array.dtype == np.float64:
        array = array.astype(np.float32)  # float32 throughout: no float64 in the training path
    return array


class TensorDataset(Dataset):
    """Samples are the rows of one or more arrays that share their first dimension.

    Args:
        *tensors: Tensors or array-likes; ``dataset[i]`` is the tuple of their ``i``-th rows.
        transform: optional callable applied to the first field (the inputs), on a single
            sample or, in the DataLoader's fast path, on a whole batch at once.

    Raises:
        ShapeError: no field was given, a field is 0-d, or first dimensions differ.
    """

    def __init__(self, *tensors: Any, transform: Callable[[Any], Any] | None = None) -> None:
        if not tensors:
            raise ShapeError(explain(
                what="TensorDataset() was given no tensors",
                why="a sample is made of one row from each tensor, so at least one is needed",
                fix="pass the inputs and the targets, e.g. TensorDataset(x, y)",
            ))
        arrays = [_field_array(t) for t in tensors]
        lengths = [a.shape[0] if a.ndim else None for a in arrays]
        if None in lengths or len(set(lengths)) != 1:
            shapes = [tuple(a.shape) for a in arrays]
            raise ShapeError(explain(
                what=f"TensorDataset got fields of shapes {shapes}",
                why="every field needs one row per sample, so all first dimensions must be equal",
                fix="check that inputs and targets hold the same number of samples",
            ))
        self.arrays = arrays
        self.tensors = tuple(Tensor._from_op(a, None) for a in arrays)
        self.transform = transform

    def __len__(self) -> int:
        return int(self.arrays[0].shape[0])

    def __getitem__(self, index: int) -> tuple[Tensor, ...]:
        fields = [a[index] for a in self.arrays]
        if self.transform is not None:
            fields[0] = self.transform(fields[0])
        return tuple(Tensor._from_op(np.asarray(f), None) for f in fields)

    def get_batch(self, indices: np.ndarray) -> tuple[Tensor, ...]:
        """The samples at ``indices``, already batched: one fancy-index per field."""
        fields = [a[indices] for a in self.arrays]  # fancy indexing copies: batches never alias
        if self.transform is not None:
            fields[0] = self.transform(fields[0])
        return tuple(Tensor._from_op(np.asarray(f), None) for f in fields)


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order (a view: nothing is copied).

    Args:
        dataset: any map-style dataset.
        indices: positions in ``dataset``; ``subset[i]`` is ``dataset[indices[i]]``.
    """

    def __init__(self, dataset: Any, indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = [int(i) for i in indices]

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int) -> Any:
        return self.dataset[self.indices[index]]


def random_split(dataset: Any, lengths: Sequence[float], seed: int | None = None
                 ) -> list[Subset]:
    """Split ``dataset`` into non-overlapping random ``Subset``s of the given lengths.

    ``lengths`` are sample counts summing to ``len(dataset)``, or fractions summing to 1 (as
    PyTorch: counts are floored, and the remainder is dealt one by one from the first subset).
    The permutation comes from the global generator, or from ``seed`` when it is given.

    Raises:
        ValueError: the lengths do not add up to the dataset.

    Example:
        >>> train, val = random_split(list(range(10)), [0.8, 0.2], seed=0)
        >>> len(train), len(val), sorted(list(train.indices) + list(val.indices)) == list(range(10))
        (8, 2, True)
    """
    n = len(dataset)
    counts = [int(x) for x in lengths]
    if lengths and all(0.0 <= x <= 1.0 for x in lengths) and math.isclose(sum(lengths), 1.0) \
            and sum(counts) != n:
        counts = [int(math.floor(n * x)) for x in lengths]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
    if sum(counts) != n or min(counts, default=0) < 0:
        raise ValueError(explain(
            what=f"random_split got lengths {list(lengths)} for a dataset of {n} samples",
            why="the subsets partition the dataset, so the counts must add up to its size "
                "(or fractions to 1)",
            fix=f"pass counts summing to {n}, or fractions such as [0.8, 0.2]",
        ))
    generator = get_rng() if seed is None else np.random.default_rng(int(seed))
    order = generator.permutation(n)
    bounds = np.cumsum([0, *counts])
    return [Subset(dataset, order[start:stop].tolist())
            for start, stop in zip(bounds[:-1], bounds[1:], strict=True)]


def _has_trusted_get_batch(dataset: Any) -> bool:
    """True when ``get_batch`` is defined at least as low in the class tree as ``__getitem__``.

    A subclass that changes ``__getitem__`` without changing ``get_batch`` would otherwise have
    its per-sample logic silently bypassed by the fast path.
    """
    if not callable(getattr(dataset, "get_batch", None)):
        return False
    mro = type(dataset).__mro__
    owner_of_batch = next(c for c in mro if "get_batch" in vars(c))
    owner_of_item = next((c for c in mro if "__getitem__" in vars(c)), object)
    return issubclass(owner_of_batch, owner_of_item)


# --- Collation -------------------------------------------------------------------------------


def _collate_field(values: Sequence[Any]) -> Any:
    """Stack one field of many samples into a batch Tensor (recursing into tuples and dicts)."""
    first = values[0]
    if isinstance(first, (tuple, list)) and not isinstance(first, str):
        return tuple(_collate_field([v[i] for v in values]) for i in range(len(first)))
    if isinstance(first, dict):
        return {key: _collate_field([v[key] for v in values]) for key in first}
    if isinstance(first, (bool, np.bool_)):
        return Tensor._from_op(np.asarray(values, dtype=bool), None)
    if isinstance(first, numbers.Integral):
        return Tensor._from_op(np.asarray(values, dtype=np.int64), None)
    if isinstance(first, numbers.Real):
        return Tensor._from_op(np.asarray(values, dtype=np.float32), None)
    arrays = [_field_array(v) for v in values]
    shapes = {a.shape for a in arrays}
    if len(shapes) != 1:
        raise ShapeError(explain(
            what=f"samples of one batch have different shapes {sorted(shapes)}",
            why="samples are stacked along a new batch axis, so their shapes must agree",
            fix="resize or pad the samples to one shape, or pass a collate_fn that handles them",
        ))
    return Tensor._from_op(np.stack(arrays), None)


def default_collate(samples: Sequence[Any]) -> Batch:
    """Stack a list of samples into a batch.

    A sample that is a tuple of fields gives a tuple of batched Tensors; a single array, Tensor
    or number gives one Tensor. Integer fields stay int64, floating fields become float32.
    """
    first = samples[0]
    if isinstance(first, (tuple, list)):
        return tuple(_collate_field([s[i] for s in samples]) for i in range(len(first)))
    return _collate_field(samples)


# --- The loader ------------------------------------------------------------------------------


class DataLoader:
    """Iterate over a dataset in batches, optionally shuffled, as tuples of Tensors.

    Args:
        dataset: a ``Dataset`` (or anything with ``__len__`` and ``__getitem__``).
        batch_size: samples per batch (the last batch may be smaller).
        shuffle: visit the samples in a new random order every epoch.
        drop_last: skip the final batch when it is smaller than ``batch_size``.
        collate_fn: turns a list of samples into a batch (default: ``default_collate``).
            Giving one disables the TensorDataset fast path, since it expects samples.
        seed: None draws the order from the global generator; an int makes epoch ``k``'s
            order a function of ``(seed, k)`` alone.
        num_workers, pin_memory: PyTorch's options, accepted so its programs run; loading
            always happens in the calling process and there is no device memory to pin.

    Raises:
        ValueError: batch_size is not a positive integer, or seed is negative.
    """

    def __init__(self, dataset: Any, batch_size: int = 32, shuffle: bool = False,
                 drop_last: bool = False, collate_fn: Callable[[list[Any]], Any] | None = None,
                 seed: int | None = None, *, num_workers: int = 0,
                 pin_memory: bool = False) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or (
                batch_size < 1):
            raise ValueError(explain(
                what=f"DataLoader got batch_size={batch_size!r}",
                why="a batch holds a whole, positive number of samples",
                fix="pass an integer such as 32",
            ))
        if seed is not None and int(seed) < 0:
            raise ValueError(explain(
                what=f"DataLoader got seed={seed}",
                why="seeds are non-negative integers",
                fix="pass a seed >= 0, or None to follow tinytorch.manual_seed",
            ))
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.collate_fn = collate_fn
        self.seed = None if seed is None else int(seed)
        self.num_workers, self.pin_memory = int(num_workers), bool(pin_memory)
        self.epoch = 0  # the epoch whose order the next iteration uses

    def __len__(self) -> int:
        """The number of batches per epoch."""
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    @property
    def uses_fast_path(self) -> bool:
        """True when batches are fetched with one fancy-index per field (no per-sample calls)."""
        return self.collate_fn is None and _has_trusted_get_batch(self.dataset)

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch whose shuffled order the next iteration uses (seeded loaders)."""
        self.epoch = int(epoch)

    def _order(self) -> np.ndarray:
        n = len(self.dataset)
        if not self.shuffle:
            return np.arange(n)
        if self.seed is None:
            return get_rng().permutation(n)
        return np.random.default_rng([self.seed, self.epoch]).permutation(n)

    def __iter__(self) -> Iterator[Batch]:
        order = self._order()
        self.epoch += 1
        stop = len(self) * self.batch_size if self.drop_last else len(order)
        fast = self.uses_fast_path
        collate = self.collate_fn or default_collate
        for start in range(0, stop, self.batch_size):
            indices = order[start:start + self.batch_size]
            if fast:
                yield self.dataset.get_batch(indices)
            else:
                yield collate([self.dataset[int(i)] for i in indices])


# --- Transforms ------------------------------------------------------------------------------
# Each transform takes an image (C, H, W), a batch (N, C, H, W), or a 2-D image (H, W), as a
# NumPy array or a Tensor, and returns the same kind. Random choices come from the global
# generator, one per image, drawn for the whole batch at once.


def _unwrap(x: Any) -> tuple[np.ndarray, bool]:
    return (x.data, True) if isinstance(x, Tensor) else (np.asarray(x), False)


def _rewrap(array: np.ndarray, was_tensor: bool) -> Any:
    return Tensor._from_op(array, None) if was_tensor else array


def _check_image(array: np.ndarray, name: str) -> None:
    if array.ndim not in (2, 3, 4):
        raise ShapeError(explain(
            what=f"{name} got an array of shape {array.shape}",
            why="images are (H, W), (C, H, W) or batches (N, C, H, W)",
            fix="reshape the data to channel-first images, e.g. x.reshape(-1, 1, 28, 28)",
        ))


class RandomHorizontalFlip:
    """Mirror each image left-right with probability ``p``."""

    def __init__(self, p: float = 0.5) -> None:
        if not 0.0 <= p <= 1.0:
            raise ValueError(explain(
                what=f"RandomHorizontalFlip(p={p}) is not a probability",
                why="p is the chance of flipping each image, so it lies in [0, 1]",
                fix="pass a value such as 0.5",
            ))
        self.p = p

    def __call__(self, x: Any) -> Any:
        array, was_tensor = _unwrap(x)
        _check_image(array, "RandomHorizontalFlip")
        if array.ndim < 4:
            flip = get_rng().random() < self.p
            return _rewrap(array[..., ::-1].copy() if flip else array.copy(), was_tensor)
        flip = get_rng().random(array.shape[0]) < self.p   # one draw per image
        out = array.copy()
        out[flip] = array[flip][..., ::-1]                   # (n_flipped, C, H, W), mirrored in W
        return _rewrap(out, was_tensor)

    def __repr__(self) -> str:
        return f"RandomHorizontalFlip(p={self.p})"


def _pair(size: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(size, (int, np.integer)):
        return int(size), int(size)
    height, width = size
    return int(height), int(width)


class RandomCrop:
    """Cut a random ``size`` window from each image, after zero-padding its borders.

    Args:
        size: output (height, width), or one int for a square.
        padding: zeros added on every side of height and width before cropping.
    """

    def __init__(self, size: int | Sequence[int], padding: int = 0) -> None:
        self.size = _pair(size)
        self.padding = int(padding)
        if min(self.size) < 1 or self.padding < 0:
            raise ValueError(explain(
                what=f"RandomCrop(size={size}, padding={padding}) is not a valid crop",
                why="the crop must be at least 1x1 and padding cannot be negative",
                fix="pass a positive size and padding >= 0",
            ))

    def __call__(self, x: Any) -> Any:
        array, was_tensor = _unwrap(x)
        _check_image(array, "RandomCrop")
        single = array.ndim < 4
        batch: np.ndarray = array.reshape((1,) * (4 - array.ndim) + array.shape)  # (N, C, H, W)
        pad = self.padding
        if pad:
            batch = np.pad(batch, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
        n, height, width = batch.shape[0], batch.shape[2], batch.shape[3]
        crop_h, crop_w = self.size
        if crop_h > height or crop_w > width:
            raise ShapeError(explain(
                what=f"RandomCrop(size={self.size}) is larger than the padded image "
                     f"({height}, {width})",
                why="a crop window must fit inside the image",
                fix="use a smaller size or more padding",
            ))
        top = get_rng().integers(0, height - crop_h + 1, size=n)
        left = get_rng().integers(0, width - crop_w + 1, size=n)
        windows = np.lib.stride_tricks.sliding_window_view(batch, (crop_h, crop_w), axis=(2, 3))
        out = windows[np.arange(n), :, top, left]                      # (N, C, crop_h, crop_w)
        if single:
            out = out.reshape(array.shape[:-2] + self.size)
        return _rewrap(np.ascontiguousarray(out), was_tensor)

    def __repr__(self) -> str:
        return f"RandomCrop(size={self.size}, padding={self.padding})"


class Normalize:
    """(x - mean) / std per channel, in float32.

    Args:
        mean, std: one number for all channels, or one per channel (axis -3 of the image).
    """

    def __init__(self, mean: float | Sequence[float], std: float | Sequence[float]) -> None:
        self.mean = np.asarray(mean, dtype=np.float32)
        self.std = np.asarray(std, dtype=np.float32)
        if np.any(self.std == 0):
            raise ValueError(explain(
                what=f"Normalize got std={std}",
                why="dividing by a zero standard deviation gives infinities",
                fix="pass strictly positive standard deviations",
            ))

    def __call__(self, x: Any) -> Any:
        array, was_tensor = _unwrap(x)
        mean, std = self.mean, self.std
        if mean.ndim or std.ndim:
            channels = max(mean.size, std.size)
            if array.ndim < 3 or array.shape[-3] != channels:
                raise ShapeError(explain(
                    what=f"Normalize has {channels} channel statistics but got an image of "
                         f"shape {array.shape}",
                    why="per-channel statistics apply along the channel axis of (C, H, W) images",
                    fix="pass one mean and std per channel, or single numbers",
                ))
            mean, std = mean.reshape(-1, 1, 1), std.reshape(-1, 1, 1)   # (C, 1, 1)
        out = array.astype(np.float32)    # a fresh float32 copy that the math below reuses
        out -= mean
        out /= std
        return _rewrap(out, was_tensor)

    def __repr__(self) -> str:
        return f"Normalize(mean={self.mean.tolist()}, std={self.std.tolist()})"


class Compose:
    """Apply transforms one after the other."""

    def __init__(self, transforms: Sequence[Callable[[Any], Any]]) -> None:
        self.transforms = list(transforms)

    def __call__(self, x: Any) -> Any:
        for transform in self.transforms:
            x = transform(x)
        return x

    def __repr__(self) -> str:
        inner = ", ".join(repr(t) for t in self.transforms)
        return f"Compose([{inner}])"


__all__ = ["Compose", "DataLoader", "Dataset", "Normalize", "RandomCrop", "RandomHorizontalFlip",
           "Subset", "TensorDataset", "default_collate", "random_split"]
