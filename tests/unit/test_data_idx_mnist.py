"""The IDX reader/writer and the MNIST loader, on small files the tests write themselves."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from tinytorch.core.errors import DTypeError, SerializationError, ShapeError
from tinytorch.data import DATA_ENV, data_root, load_mnist, read_idx, write_idx
from tinytorch.data.mnist import MNIST_FILES


def write_mnist(folder: Path, n_train: int = 12, n_test: int = 5, gz: bool = False) -> dict:
    """Write a miniature MNIST (random pixels, labels 0..9 cycling) and return its arrays."""
    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": (np.arange(n_train) % 10).astype(np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": (np.arange(n_test)[::-1] % 10).astype(np.uint8),
    }
    for name, array in arrays.items():
        write_idx(folder / (name + (".gz" if gz else "")), array)
    return arrays


# --- IDX format ----------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "int32", "float32", "float64"])
@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_write_then_read_round_trips(tmp_path: Path, dtype: str, suffix: str) -> None:
    rng = np.random.default_rng(1)
    array = (rng.standard_normal((3, 4, 5)) * 50).astype(dtype)
    path = tmp_path / f"array-idx3{suffix}"
    write_idx(path, array)
    back = read_idx(path)
    assert back.dtype == np.dtype(dtype) and back.dtype.isnative
    assert back.shape == (3, 4, 5)
    np.testing.assert_array_equal(back, array)
    back[0, 0, 0] = 1  # a writable copy, not a view of the file's bytes


def test_written_header_follows_the_idx_layout(tmp_path: Path) -> None:
    path = tmp_path / "labels-idx1-ubyte"
    write_idx(path, np.array([7, 2, 1], dtype=np.uint8))
    assert path.read_bytes() == bytes([0, 0, 0x08, 1, 0, 0, 0, 3, 7, 2, 1])
    path32 = tmp_path / "values-idx2-int"
    write_idx(path32, np.array([[1, -2]], dtype=np.int32))
    assert path32.read_bytes() == (bytes([0, 0, 0x0C, 2, 0, 0, 0, 1, 0, 0, 0, 2])
                                   + (1).to_bytes(4, "big") + (-2).to_bytes(4, "big", signed=True))


def test_gzip_output_is_deterministic_and_sniffed_without_suffix(tmp_path: Path) -> None:
    array = np.arange(10, dtype=np.uint8)
    write_idx(tmp_path / "a.gz", array)
    write_idx(tmp_path / "b.gz", array)
    assert (tmp_path / "a.gz").read_bytes() == (tmp_path / "b.gz").read_bytes()
    renamed = tmp_path / "no-suffix"
    renamed.write_bytes((tmp_path / "a.gz").read_bytes())
    np.testing.assert_array_equal(read_idx(renamed), array)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"", "less than the 4-byte magic number"),
        (b"\x00\x00\x08", "less than the 4-byte magic number"),
        (b"PK\x03\x04rest", "does not start with two zero bytes"),
        (b"\x00\x00\x07\x01\x00\x00\x00\x01\x00", "type code is 0x07"),
        (b"\x00\x00\x08\x00", "declares 0 dimensions"),
        (b"\x00\x00\x08\x03\x00\x00\x00\x02", "header needs 16 bytes"),
        (b"\x00\x00\x08\x01\x00\x00\x00\x05\x01\x02", "is truncated"),
        (b"\x00\x00\x08\x01\x00\x00\x00\x01\x01\x02", "has extra bytes at the end"),
    ],
)
def test_bad_idx_files_raise_three_part_errors(tmp_path: Path, payload: bytes,
                                               message: str) -> None:
    path = tmp_path / "bad-idx"
    path.write_bytes(payload)
    with pytest.raises(SerializationError, match=message) as info:
        read_idx(path)
    text = str(info.value)
    assert "bad-idx" in text and "\n  why: " in text and "\n  fix: " in text


def test_truncated_image_file_reports_declared_and_actual_sizes(tmp_path: Path) -> None:
    path = tmp_path / "train-images-idx3-ubyte"
    write_idx(path, np.zeros((4, 28, 28), dtype=np.uint8))
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(SerializationError, match=r"shape \(4, 28, 28\) of uint8 \(3136 data "
                                                 r"bytes\) but it holds 3036 data bytes"):
        read_idx(path)


def test_cut_gzip_stream_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(bytes([0, 0, 8, 1, 0, 0, 0, 200]) + bytes(200))[:30])
    with pytest.raises(SerializationError, match="gzip stream cannot be decompressed"):
        read_idx(path)


def test_missing_idx_file(tmp_path: Path) -> None:
    with pytest.raises(SerializationError, match="no IDX file at"):
        read_idx(tmp_path / "nothing-here")


def test_write_idx_refuses_types_idx_cannot_store(tmp_path: Path) -> None:
    with pytest.raises(DTypeError, match="int64"):
        write_idx(tmp_path / "x", np.arange(3, dtype=np.int64))
    with pytest.raises(DTypeError, match="bool"):
        write_idx(tmp_path / "x", np.ones(3, dtype=bool))
    with pytest.raises(ShapeError, match="0-dimensional"):
        write_idx(tmp_path / "x", np.array(5, dtype=np.uint8))
    assert not (tmp_path / "x").exists()


# --- MNIST ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("gz", [False, True])
def test_load_mnist_from_root(tmp_path: Path, gz: bool) -> None:
    arrays = write_mnist(tmp_path / "mnist", gz=gz)
    x_train, y_train, x_test, y_test = load_mnist(root=tmp_path)
    assert x_train.shape == (12, 28, 28) and x_train.dtype == np.uint8
    assert x_test.shape == (5, 28, 28) and x_test.dtype == np.uint8
    assert y_train.dtype == np.int64 and y_test.dtype == np.int64
    np.testing.assert_array_equal(x_train, arrays["train-images-idx3-ubyte"])
    np.testing.assert_array_equal(x_test, arrays["t10k-images-idx3-ubyte"])
    assert y_train.tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]
    assert y_test.tolist() == [4, 3, 2, 1, 0]


def test_load_mnist_uses_the_environment_variable(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    write_mnist(tmp_path / "mnist", n_train=3, n_test=2)
    monkeypatch.setenv(DATA_ENV, str(tmp_path))
    assert data_root() == tmp_path
    x_train, y_train, x_test, _ = load_mnist()
    assert x_train.shape == (3, 28, 28) and x_test.shape == (2, 28, 28)
    assert y_train.tolist() == [0, 1, 2]


def test_root_argument_wins_over_environment(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    write_mnist(tmp_path / "a" / "mnist", n_train=3)
    write_mnist(tmp_path / "b" / "mnist", n_train=7)
    monkeypatch.setenv(DATA_ENV, str(tmp_path / "a"))
    assert load_mnist(root=tmp_path / "b")[0].shape == (7, 28, 28)


def test_load_mnist_finds_torchvision_layout(tmp_path: Path) -> None:
    write_mnist(tmp_path / "MNIST" / "raw", n_train=4)
    assert load_mnist(root=tmp_path)[1].tolist() == [0, 1, 2, 3]


def test_default_root_is_under_the_home_cache(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DATA_ENV, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert data_root() == tmp_path / ".cache" / "tinytorch"


def test_missing_mnist_names_files_folders_and_fixes(tmp_path: Path) -> None:
    write_idx(tmp_path / "mnist" / "train-images-idx3-ubyte", np.zeros((1, 28, 28), np.uint8))
    with pytest.raises(SerializationError) as info:
        load_mnist(root=tmp_path)
    what, why, fix = str(info.value).split("\n")
    for name in MNIST_FILES[1:]:
        assert name in what
    assert "train-images-idx3-ubyte" not in what.split("(looked in")[0]
    assert str(tmp_path / "mnist") in what
    assert "download=False" in why
    assert "TINYTORCH_DATA" in fix and "root=" in fix and "download=True" in fix


def test_mnist_label_count_mismatch(tmp_path: Path) -> None:
    write_mnist(tmp_path / "mnist")
    write_idx(tmp_path / "mnist" / "t10k-labels-idx1-ubyte", np.zeros(4, dtype=np.uint8))
    with pytest.raises(SerializationError, match="has 4 labels but t10k-images-idx3-ubyte has 5"):
        load_mnist(root=tmp_path)


def test_mnist_swapped_files_are_caught(tmp_path: Path) -> None:
    arrays = write_mnist(tmp_path / "mnist")
    write_idx(tmp_path / "mnist" / "train-images-idx3-ubyte", arrays["train-labels-idx1-ubyte"])
    with pytest.raises(SerializationError, match=r"holds uint8 data of shape \(12,\)"):
        load_mnist(root=tmp_path)


def test_mnist_rejects_non_uint8_images(tmp_path: Path) -> None:
    write_mnist(tmp_path / "mnist")
    write_idx(tmp_path / "mnist" / "t10k-images-idx3-ubyte", np.zeros((5, 28, 28), np.float32))
    with pytest.raises(SerializationError, match="holds float32 data"):
        load_mnist(root=tmp_path)
