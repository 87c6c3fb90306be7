"""Load MNIST from its four standard IDX files, downloading them first if asked.

The files are looked for in ``<data root>/mnist/``, then ``<data root>/MNIST/raw/`` (where
torchvision keeps them) and then ``<data root>/`` itself, each either plain or ``.gz``.
``<data root>`` is ``root=``, else ``$TINYTORCH_DATA``, else ``~/.cache/tinytorch``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from tinytorch.core.errors import SerializationError, explain
from tinytorch.data.download import download_from_mirrors
from tinytorch.data.idx import read_idx
from tinytorch.data.paths import data_root, find_file, missing_data_error

TRAIN_IMAGES = "train-images-idx3-ubyte"
TRAIN_LABELS = "train-labels-idx1-ubyte"
TEST_IMAGES = "t10k-images-idx3-ubyte"
TEST_LABELS = "t10k-labels-idx1-ubyte"
MNIST_FILES = (TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS)

# Public mirrors of the original files, tried in order. Each serves "<name>.gz".
MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)


def load_mnist(
    root: str | os.PathLike[str] | None = None,
    download: bool = False,
    urls: Sequence[str] | None = None,
    sha256: Mapping[str, str] | None = None,
    timeout: float = 30.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return MNIST as ``(x_train, y_train, x_test, y_test)``: uint8 images and int64 labels.

    Args:
        root: data folder; defaults to ``$TINYTORCH_DATA``, then ``~/.cache/tinytorch``.
        download: fetch the missing files into ``<root>/mnist/`` (as ``.gz``) before loading.
        urls: mirror base URLs tried in order for each file (``<url>/<name>.gz``); defaults to
            ``MNIST_MIRRORS``.
        sha256: optional expected checksums of the downloaded ``.gz`` files, keyed by their
            name (e.g. ``"train-images-idx3-ubyte.gz"``).
        timeout: seconds to wait for a server on each network operation.

    Shapes:
        x_train: (60000, 28, 28) uint8 in 0..255    y_train: (60000,) int64 in 0..9
        x_test: (10000, 28, 28) uint8               y_test: (10000,) int64

    Raises:
        SerializationError: files are missing (and were not downloaded), or a file is not a
            valid IDX file, or images and labels do not match.
    """
    base = data_root(root)
    folders = [base / "mnist", base / "MNIST" / "raw", base]
    found = {name: find_file(name, folders, allow_gz=True) for name in MNIST_FILES}
    missing = [name for name, path in found.items() if path is None]
    if missing and download:
        attempts: list[str] = []
        for name in missing:
            gz_name = f"{name}.gz"
            path, failures = download_from_mirrors(
                gz_name, list(urls if urls is not None else MNIST_MIRRORS), folders[0],
                sha256=(sha256 or {}).get(gz_name), timeout=timeout,
            )
            found[name] = path
            if path is None:
                attempts += failures
                break  # the load fails anyway; do not wait for dead mirrors once per file
        missing = [name for name, path in found.items() if path is None]
        if missing:
            raise missing_data_error("MNIST", missing, folders, "load_mnist", attempts)
    elif missing:
        raise missing_data_error("MNIST", missing, folders, "load_mnist")
    paths = {name: path for name, path in found.items() if path is not None}
    x_train, y_train = _read_pair(paths[TRAIN_IMAGES], paths[TRAIN_LABELS])
    x_test, y_test = _read_pair(paths[TEST_IMAGES], paths[TEST_LABELS])
    return x_train, y_train, x_test, y_test


def _read_pair(images_path: Path, labels_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read one images file and its labels file, check they fit together, convert the labels."""
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.dtype != np.uint8 or images.ndim != 3:
        raise _mismatch(images_path, f"holds {images.dtype} data of shape {images.shape}",
                        "an MNIST images file holds uint8 data of shape (N, rows, cols)")
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise _mismatch(labels_path, f"holds {labels.dtype} data of shape {labels.shape}",
                        "an MNIST labels file holds uint8 data of shape (N,)")
    if len(images) != len(labels):
        raise _mismatch(labels_path, f"has {len(labels)} labels but {images_path.name} has "
                                     f"{len(images)} images",
                        "every image needs exactly one label")
    return images, labels.astype(np.int64)


def _mismatch(path: Path, what: str, why: str) -> SerializationError:
    """The error for an MNIST file that is valid IDX but not what its name promises."""
    return SerializationError(explain(
        what=f"{str(path)!r} {what}",
        why=why,
        fix="check that each file has its standard name and was not swapped or damaged; "
            "download it again if unsure",
    ))
