"""Load CIFAR-10 from its "python version" batches, downloading the archive first if asked.

The batches (``data_batch_1`` .. ``data_batch_5``, ``test_batch``) are pickles written
by Python 2; they are read with ``safe_unpickle``, which only rebuilds arrays and plain
values. They are looked for in ``<data root>/cifar-10-batches-py/`` and then in
``<data root>/`` itself; ``<data root>`` is ``root=``, else ``$TINYTORCH_DATA``, else
``~/.cache/tinytorch``.
"""

from __future__ import annotations

import os
import tarfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tinytorch.core.errors import SerializationError, explain
from tinytorch.core.serialization import atomic_write_bytes
from tinytorch.data.download import download_from_mirrors
from tinytorch.data.paths import data_root, find_file, missing_data_error
from tinytorch.data.safe_unpickle import safe_loads

BATCH_FOLDER = "cifar-10-batches-py"
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
CIFAR10_FILES = (*TRAIN_BATCHES, TEST_BATCH)
ARCHIVE = "cifar-10-python.tar.gz"
CLASSES = ("airplane", "automobile", "bird", "cat", "deer",
           "dog", "frog", "horse", "ship", "truck")

# Where the archive is published, tried in order (``<url>/cifar-10-python.tar.gz``).
CIFAR10_MIRRORS = ("https://www.cs.toronto.edu/~kriz/",)

_PIXELS = 3 * 32 * 32  # one row of b"data": the red, green and blue planes of a 32x32 image


def load_cifar10(
    root: str | os.PathLike[str] | None = None,
    download: bool = False,
    urls: Sequence[str] | None = None,
    sha256: str | None = None,
    timeout: float = 30.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return CIFAR-10 as ``(x_train, y_train, x_test, y_test)``: uint8 NCHW images, int64 labels.

    Args:
        root: data folder; defaults to ``$TINYTORCH_DATA``, then ``~/.cache/tinytorch``.
        download: fetch and unpack the archive into ``<root>/cifar-10-batches-py/`` when any
            batch is missing.
        urls: mirror base URLs tried in order (``<url>/cifar-10-python.tar.gz``); defaults to
            ``CIFAR10_MIRRORS``.
        sha256: optional expected checksum of the archive.
        timeout: seconds to wait for a server on each network operation.

    Shapes:
        x_train: (50000, 3, 32, 32) uint8    y_train: (50000,) int64 in 0..9
        x_test: (10000, 3, 32, 32) uint8     y_test: (10000,) int64; ``CLASSES`` names them

    Raises:
        SerializationError: batches are missing (and were not downloaded), or a batch is not a
            genuine CIFAR-10 batch (including any pickle that asks to run code).
    """
    base = data_root(root)
    folders = [base / BATCH_FOLDER, base]
    found = {name: find_file(name, folders) for name in CIFAR10_FILES}
    missing = [name for name, path in found.items() if path is None]
    if missing and download:
        archive, attempts = download_from_mirrors(
            ARCHIVE, list(urls if urls is not None else CIFAR10_MIRRORS), base,
            sha256=sha256, timeout=timeout,
        )
        if archive is None:
            raise missing_data_error("CIFAR-10", missing, folders, "load_cifar10", attempts)
        try:
            _extract_batches(archive, folders[0])
        finally:
            archive.unlink(missing_ok=True)  # unpacked or useless: either way not worth 160 MB
        found = {name: find_file(name, folders) for name in CIFAR10_FILES}
        missing = [name for name, path in found.items() if path is None]
        if missing:
            raise missing_data_error(
                "CIFAR-10", missing, folders, "load_cifar10",
                [f"the downloaded {ARCHIVE} does not contain {BATCH_FOLDER}/{missing[0]}"],
            )
    elif missing:
        raise missing_data_error("CIFAR-10", missing, folders, "load_cifar10")
    paths = {name: path for name, path in found.items() if path is not None}
    train = [read_cifar_batch(paths[name]) for name in TRAIN_BATCHES]
    x_test, y_test = read_cifar_batch(paths[TEST_BATCH])
    x_train = np.concatenate([images for images, _ in train])
    y_train = np.concatenate([labels for _, labels in train])
    return x_train, y_train, x_test, y_test


def read_cifar_batch(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray]:
    """Read one CIFAR-10 python batch file into ``(images, labels)``, never running its code.

    Shapes:
        images: (N, 3, 32, 32) uint8    labels: (N,) int64 in 0..9

    Raises:
        SerializationError: the file is missing, is a refused or damaged pickle, or its content
            is not a CIFAR-10 batch.
    """
    source = Path(path)
    if not source.is_file():
        raise SerializationError(explain(
            what=f"no CIFAR-10 batch at {str(source)!r}",
            why="read_cifar_batch can only read an existing file",
            fix="check the path; the batches are named data_batch_1..5 and test_batch",
        ))
    batch = safe_loads(source.read_bytes(), source=repr(str(source)))
    if not isinstance(batch, dict):
        raise _not_a_batch(source, f"it holds a {type(batch).__name__}, not a dict")
    data = batch.get(b"data", batch.get("data"))
    labels = batch.get(b"labels", batch.get("labels"))
    if data is None or labels is None:
        raise _not_a_batch(source, f"its keys are {sorted(map(repr, batch))}, "
                                   "without b'data' and b'labels'")
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 \
            or data.shape[1] != _PIXELS:
        shown = f"{data.dtype} array of shape {data.shape}" if isinstance(data, np.ndarray) \
            else type(data).__name__
        raise _not_a_batch(source, f"b'data' is a {shown}, not uint8 of shape (N, {_PIXELS})")
    try:
        label_array = np.asarray(labels)
    except (ValueError, TypeError) as exc:  # a ragged or odd list cannot become one array
        raise _not_a_batch(source, f"b'labels' cannot be read as integers ({exc})") from exc
    if label_array.shape != (len(data),) or label_array.dtype.kind not in "iu":
        raise _not_a_batch(source, f"b'labels' has shape {label_array.shape} and dtype "
                                   f"{label_array.dtype}, not {len(data)} integers")
    if len(label_array) and (label_array.min() < 0 or label_array.max() >= len(CLASSES)):
        raise _not_a_batch(source, f"b'labels' spans {label_array.min()}..{label_array.max()}, "
                                   f"outside 0..{len(CLASSES) - 1}")
    images = data.reshape(len(data), 3, 32, 32)  # (N, 3072) -> (N, C, H, W): planes R, G, B
    return images, label_array.astype(np.int64)


def _extract_batches(archive: Path, dest: Path) -> None:
    """Copy the batch files out of the archive into ``dest``; ignore every other member.

    Only regular files named ``cifar-10-batches-py/<known name>`` are written, under names we
    choose, so a hostile archive cannot place files elsewhere (no path traversal, no links).
    """
    wanted = {f"{BATCH_FOLDER}/{name}": name for name in (*CIFAR10_FILES, "batches.meta")}
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                name = wanted.get(member.name.removeprefix("./"))
                if name is None or not member.isfile():
                    continue
                handle = tar.extractfile(member)
                if handle is not None:
                    with handle:
                        atomic_write_bytes(dest / name, handle.read())
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise SerializationError(explain(
            what=f"the downloaded archive {str(archive)!r} could not be unpacked ({exc})",
            why="the download is damaged or is not the CIFAR-10 python archive",
            fix="call load_cifar10(download=True) again, or pass sha256= to catch bad mirrors",
        )) from exc


def _not_a_batch(source: Path, what: str) -> SerializationError:
    """The error for a file that unpickles safely but is not a CIFAR-10 batch."""
    return SerializationError(explain(
        what=f"{str(source)!r} is not a CIFAR-10 batch: {what}",
        why="a CIFAR-10 python batch is a dict with b'data' (uint8, N x 3072) and b'labels' "
            "(N integers in 0..9)",
        fix="point root= at the folder holding the original cifar-10-batches-py files",
    ))
