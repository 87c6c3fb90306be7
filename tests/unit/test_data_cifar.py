"""CIFAR-10 batches and the restricted unpickler that reads them without running code."""

from __future__ import annotations

import io
import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from tinytorch.core.errors import SerializationError
from tinytorch.data import CIFAR10_CLASSES, load_cifar10, read_cifar_batch, safe_loads
from tinytorch.data.safe_unpickle import RestrictedUnpickler


def make_batch(n: int, seed: int) -> dict:
    """A batch dict in the real CIFAR-10 layout (bytes keys, uint8 rows of 3072, list labels)."""
    rng = np.random.default_rng(seed)
    return {
        b"batch_label": f"batch {seed}".encode(),
        b"labels": [int(v) for v in rng.integers(0, 10, n)],
        b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
        b"filenames": [f"img_{seed}_{i}.png".encode() for i in range(n)],
    }


def write_cifar(folder: Path, n: int = 4, protocol: int = 2) -> dict[str, dict]:
    """Write data_batch_1..5 and test_batch (n images each) and return their dicts."""
    folder.mkdir(parents=True, exist_ok=True)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    batches = {name: make_batch(n, seed) for seed, name in enumerate(names)}
    for name, batch in batches.items():
        with open(folder / name, "wb") as handle:
            pickle.dump(batch, handle, protocol=protocol)
    return batches


class RunsShell:
    """Unpickling this calls os.system, as a hostile file would."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (os.system, (f"touch {self.marker}",))


class RunsEval:
    """Unpickling this calls the builtin eval, another classic attack."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (eval, (f"open({str(self.marker)!r}, 'w').close()",))


# --- restricted unpickler ------------------------------------------------------------------------

@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_safe_loads_rebuilds_arrays_and_plain_values(protocol: int) -> None:
    batch = make_batch(3, seed=7)
    batch[b"extra"] = (1.5, "text", None, True, {b"nested": [np.arange(4, dtype=np.float32)]})
    loaded = safe_loads(pickle.dumps(batch, protocol=protocol))
    np.testing.assert_array_equal(loaded[b"data"], batch[b"data"])
    assert loaded[b"data"].dtype == np.uint8
    assert loaded[b"labels"] == batch[b"labels"] and loaded[b"filenames"] == batch[b"filenames"]
    assert loaded[b"extra"][:4] == (1.5, "text", None, True)
    np.testing.assert_array_equal(loaded[b"extra"][4][b"nested"][0], np.arange(4))


def test_numpy1_module_path_of_real_cifar_batches_is_accepted() -> None:
    # The real batches were written by NumPy 1, which named numpy.core.multiarray._reconstruct.
    payload = pickle.dumps({b"data": np.arange(6, dtype=np.uint8).reshape(2, 3)}, protocol=2)
    old = payload.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
    assert old != payload
    np.testing.assert_array_equal(safe_loads(old)[b"data"], [[0, 1, 2], [3, 4, 5]])


@pytest.mark.parametrize("attack", [RunsShell, RunsEval])
@pytest.mark.parametrize("protocol", [0, 2, 5])
def test_malicious_pickle_is_refused_without_running(tmp_path: Path, attack: type,
                                                     protocol: int) -> None:
    marker = tmp_path / "pwned"
    payload = pickle.dumps({b"data": attack(marker)}, protocol=protocol)
    with pytest.raises(SerializationError) as info:
        safe_loads(payload, source="evil.pkl")
    assert not marker.exists()
    what, why, fix = str(info.value).split("\n")
    assert "evil.pkl" in what and "refused" in what
    # posix.system / builtins.eval (__builtin__.eval in protocols below 3) is named in the error
    assert (".system" in what) if attack is RunsShell else ("builtin" in what and ".eval" in what)
    assert "could run code" in why and "trust" in fix


def test_allow_list_is_exact() -> None:
    unpickler = RestrictedUnpickler(io.BytesIO(b""))
    assert unpickler.find_class("numpy", "ndarray") is np.ndarray
    for module, name in [("numpy", "load"), ("builtins", "getattr"), ("copyreg", "_reconstructor"),
                         ("numpy.core.multiarray", "scalar"), ("subprocess", "Popen"),
                         ("_codecs", "decode")]:
        with pytest.raises(pickle.UnpicklingError, match=f"{module}.{name}"):
            unpickler.find_class(module, name)


def test_codecs_stand_in_accepts_only_latin1() -> None:
    unpickler = RestrictedUnpickler(io.BytesIO(b""))
    encode = unpickler.find_class("_codecs", "encode")
    assert encode("\xff", "latin1") == b"\xff"
    with pytest.raises(pickle.UnpicklingError, match="rot13"):
        encode("abc", "rot13")


def test_truncated_pickle_is_a_clear_error() -> None:
    payload = pickle.dumps(make_batch(2, seed=1), protocol=2)
    with pytest.raises(SerializationError, match="could not be unpickled") as info:
        safe_loads(payload[: len(payload) // 2], source="cut.pkl")
    assert "cut.pkl" in str(info.value) and "\n  fix: " in str(info.value)


# --- CIFAR-10 loader -----------------------------------------------------------------------------

def test_read_cifar_batch_layout(tmp_path: Path) -> None:
    batch = make_batch(3, seed=3)
    batch[b"data"][0] = np.repeat([10, 20, 30], 1024)  # first image: R=10, G=20, B=30 planes
    (tmp_path / "data_batch_1").write_bytes(pickle.dumps(batch, protocol=2))
    images, labels = read_cifar_batch(tmp_path / "data_batch_1")
    assert images.shape == (3, 3, 32, 32) and images.dtype == np.uint8
    assert labels.dtype == np.int64 and labels.tolist() == batch[b"labels"]
    assert images[0, :, 5, 7].tolist() == [10, 20, 30]
    np.testing.assert_array_equal(images[1].reshape(-1), batch[b"data"][1])


@pytest.mark.parametrize("protocol", [2, 5])
def test_load_cifar10_from_root(tmp_path: Path, protocol: int) -> None:
    batches = write_cifar(tmp_path / "cifar-10-batches-py", n=4, protocol=protocol)
    x_train, y_train, x_test, y_test = load_cifar10(root=tmp_path)
    assert x_train.shape == (20, 3, 32, 32) and x_train.dtype == np.uint8
    assert x_test.shape == (4, 3, 32, 32) and y_test.dtype == np.int64
    expected = sum((batches[f"data_batch_{i}"][b"labels"] for i in range(1, 6)), [])
    assert y_train.tolist() == expected
    assert y_test.tolist() == batches["test_batch"][b"labels"]
    np.testing.assert_array_equal(x_train[4].reshape(-1), batches["data_batch_2"][b"data"][0])
    assert len(CIFAR10_CLASSES) == 10 and CIFAR10_CLASSES[3] == "cat"


def test_load_cifar10_refuses_a_poisoned_batch(tmp_path: Path) -> None:
    folder = tmp_path / "cifar-10-batches-py"
    write_cifar(folder)
    marker = tmp_path / "pwned"
    (folder / "data_batch_3").write_bytes(pickle.dumps({b"data": RunsShell(marker)}, protocol=2))
    with pytest.raises(SerializationError, match="data_batch_3"):
        load_cifar10(root=tmp_path)
    assert not marker.exists()


@pytest.mark.parametrize(
    ("batch", "message"),
    [
        ([1, 2, 3], "holds a list, not a dict"),
        ({b"data": np.zeros((2, 3072), np.uint8)}, "without b'data' and b'labels'"),
        ({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}, r"shape \(2, 100\)"),
        ({b"data": np.zeros((2, 3072), np.float32), b"labels": [0, 1]}, "float32 array"),
        ({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0]}, "not 2 integers"),
        ({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 10]}, "spans 0..10"),
        ({b"data": np.zeros((1, 3072), np.uint8), b"labels": [b"cat"]}, "not 1 integers"),
    ],
)
def test_batches_with_wrong_content_are_rejected(tmp_path: Path, batch: object,
                                                 message: str) -> None:
    (tmp_path / "test_batch").write_bytes(pickle.dumps(batch, protocol=2))
    with pytest.raises(SerializationError, match=message) as info:
        read_cifar_batch(tmp_path / "test_batch")
    assert "is not a CIFAR-10 batch" in str(info.value)


def test_missing_cifar_lists_batches_and_fixes(tmp_path: Path) -> None:
    write_cifar(tmp_path / "cifar-10-batches-py")
    (tmp_path / "cifar-10-batches-py" / "data_batch_4").unlink()
    with pytest.raises(SerializationError) as info:
        load_cifar10(root=tmp_path)
    what, why, fix = str(info.value).split("\n")
    assert "CIFAR-10 files missing: data_batch_4 (looked in" in what
    assert str(tmp_path / "cifar-10-batches-py") in what
    assert "download=False" in why
    assert "load_cifar10(download=True)" in fix and "TINYTORCH_DATA" in fix
