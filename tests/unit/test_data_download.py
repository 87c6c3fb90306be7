"""Downloads against a local HTTP server on 127.0.0.1: good files, bad checksums, dead mirrors."""

from __future__ import annotations

import functools
import hashlib
import io
import pickle
import socket
import tarfile
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from tinytorch.core.errors import SerializationError, TinyTorchError
from tinytorch.data import DownloadError, download, load_cifar10, load_mnist, write_idx
from tinytorch.data.mnist import MNIST_FILES


class Server:
    """A static file server on 127.0.0.1 that records the paths it was asked for."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.requests: list[str] = []
        handler = functools.partial(_Handler, self, directory=str(root))
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        # A short poll interval lets shutdown() return quickly at teardown.
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


class _Handler(SimpleHTTPRequestHandler):
    """Serves files from the folder; /short announces more bytes than it sends."""

    def __init__(self, server_state: Server, *args: object, **kwargs: object) -> None:
        self.state = server_state
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def do_GET(self) -> None:  # noqa: N802 (the name http.server dispatches to)
        self.state.requests.append(self.path)
        if self.path == "/short":
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b"only ten b")
            self.close_connection = True
            return
        super().do_GET()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (base signature)
        """Keep test output quiet."""


@pytest.fixture(autouse=True)
def no_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    # A proxy from the environment would send our 127.0.0.1 requests elsewhere.
    for name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY",
                 "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    root = tmp_path / "www"
    root.mkdir()
    running = Server(root)
    yield running
    running.close()


@pytest.fixture
def dead_url() -> str:
    """A URL on 127.0.0.1 whose port nothing listens on (the connection is refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".part"))


def serve_mnist(folder: Path, n_train: int = 6, n_test: int = 3) -> dict[str, np.ndarray]:
    """Write a gzip IDX set like the one mirrors serve, and return its arrays by file name."""
    rng = np.random.default_rng(5)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": np.arange(n_train, dtype=np.uint8) % 10,
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": np.full(n_test, 9, dtype=np.uint8),
    }
    for name, array in arrays.items():
        write_idx(folder / f"{name}.gz", array)
    return arrays


# --- download() ----------------------------------------------------------------------------------

def test_download_good_file_with_checksum(server: Server, tmp_path: Path) -> None:
    payload = bytes(range(256)) * 40
    (server.root / "blob.bin").write_bytes(payload)
    dest = tmp_path / "out" / "blob.bin"
    result = download(server.url + "blob.bin", dest,
                      sha256=hashlib.sha256(payload).hexdigest().upper())
    assert result == dest and dest.read_bytes() == payload
    assert leftovers(dest.parent) == []
    assert server.requests == ["/blob.bin"]


def test_checksum_mismatch_deletes_the_download(server: Server, tmp_path: Path) -> None:
    (server.root / "blob.bin").write_bytes(b"tampered content")
    dest = tmp_path / "blob.bin"
    with pytest.raises(DownloadError) as info:
        download(server.url + "blob.bin", dest, sha256="0" * 64)
    assert not dest.exists() and leftovers(tmp_path) == []
    what, why, fix = str(info.value).split("\n")
    expected = hashlib.sha256(b"tampered content").hexdigest()
    assert f"has SHA-256 {expected}, expected {'0' * 64}" in what
    assert "deleted" in why and "mirror" in fix


def test_failed_download_keeps_the_older_file(server: Server, tmp_path: Path) -> None:
    (server.root / "blob.bin").write_bytes(b"new")
    dest = tmp_path / "blob.bin"
    dest.write_bytes(b"old and good")
    with pytest.raises(DownloadError):
        download(server.url + "blob.bin", dest, sha256="1" * 64)
    assert dest.read_bytes() == b"old and good"


def test_http_404_is_a_download_error(server: Server, tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match="answered HTTP 404"):
        download(server.url + "missing.bin", tmp_path / "missing.bin")
    assert list(tmp_path.iterdir()) == [server.root]


def test_unreachable_url_is_a_download_error(dead_url: str, tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match="could not download") as info:
        download(dead_url + "x.bin", tmp_path / "x.bin", timeout=5)
    assert isinstance(info.value, OSError) and isinstance(info.value, TinyTorchError)
    assert not (tmp_path / "x.bin").exists() and leftovers(tmp_path) == []


def test_body_shorter_than_announced_is_rejected(server: Server, tmp_path: Path) -> None:
    with pytest.raises(DownloadError) as info:
        download(server.url + "short", tmp_path / "short.bin")
    assert "IncompleteRead" in str(info.value) or "announced 1000" in str(info.value)
    assert not (tmp_path / "short.bin").exists() and leftovers(tmp_path) == []


def test_malformed_checksum_argument(tmp_path: Path) -> None:
    with pytest.raises(TinyTorchError, match="64 hexadecimal characters"):
        download("http://127.0.0.1:9/x", tmp_path / "x", sha256="abc")


# --- MNIST download ------------------------------------------------------------------------------

def test_mnist_download_falls_through_dead_mirror(server: Server, dead_url: str,
                                                  tmp_path: Path) -> None:
    arrays = serve_mnist(server.root / "mnist")
    root = tmp_path / "data"
    x_train, y_train, x_test, y_test = load_mnist(
        root=root, download=True, urls=[dead_url, server.url + "mnist/"], timeout=5)
    np.testing.assert_array_equal(x_train, arrays["train-images-idx3-ubyte"])
    np.testing.assert_array_equal(x_test, arrays["t10k-images-idx3-ubyte"])
    assert y_train.tolist() == [0, 1, 2, 3, 4, 5] and y_test.tolist() == [9, 9, 9]
    assert sorted(p.name for p in (root / "mnist").iterdir()) == sorted(
        f"{name}.gz" for name in MNIST_FILES)
    # A second call reads the local copies and asks the server for nothing.
    count = len(server.requests)
    load_mnist(root=root, download=True, urls=[server.url + "mnist/"])
    assert len(server.requests) == count


def test_mnist_download_fetches_only_missing_files(server: Server, tmp_path: Path) -> None:
    serve_mnist(server.root / "mnist")
    root = tmp_path / "data"
    serve_mnist(root / "mnist")
    (root / "mnist" / "t10k-labels-idx1-ubyte.gz").unlink()
    load_mnist(root=root, download=True, urls=[server.url + "mnist/"])
    assert server.requests == ["/mnist/t10k-labels-idx1-ubyte.gz"]


def test_mnist_corrupt_mirror_is_skipped_by_checksum(server: Server, tmp_path: Path) -> None:
    good = serve_mnist(server.root / "good")
    serve_mnist(server.root / "bad", n_train=2)  # valid IDX, but not the files we want
    checksums = {f"{n}.gz": sha256_of(server.root / "good" / f"{n}.gz") for n in MNIST_FILES}
    x_train, *_ = load_mnist(root=tmp_path / "data", download=True, sha256=checksums,
                             urls=[server.url + "bad/", server.url + "good/"])
    np.testing.assert_array_equal(x_train, good["train-images-idx3-ubyte"])
    assert "/bad/train-images-idx3-ubyte.gz" in server.requests


def test_mnist_every_mirror_failing_is_a_three_part_error(server: Server, dead_url: str,
                                                          tmp_path: Path) -> None:
    root = tmp_path / "data"
    with pytest.raises(SerializationError) as info:
        load_mnist(root=root, download=True, urls=[dead_url, server.url + "nothing/"], timeout=5)
    message = str(info.value)
    what = message.split("\n")[0]
    assert all(name in what for name in MNIST_FILES) and str(root / "mnist") in what
    why = message.split("\n  why: ")[1].split("\n  fix: ")[0]
    assert "every URL failed" in why
    assert f"could not download {dead_url}train-images-idx3-ubyte.gz" in why
    assert f"{server.url}nothing/train-images-idx3-ubyte.gz answered HTTP 404" in why
    # After the first file fails on every mirror, the others are not attempted.
    assert server.requests == ["/nothing/train-images-idx3-ubyte.gz"]
    assert "TINYTORCH_DATA" in message.split("\n  fix: ")[1]
    assert not (root / "mnist").exists() or list((root / "mnist").iterdir()) == []


# --- CIFAR-10 download ---------------------------------------------------------------------------

def make_cifar_archive(path: Path, n: int = 2) -> dict[str, list[int]]:
    """A cifar-10-python.tar.gz in the real layout, plus members that must never be extracted."""
    labels = {}
    with tarfile.open(path, "w:gz") as tar:
        def add(name: str, payload: bytes) -> None:
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))

        for seed, name in enumerate([f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]):
            rng = np.random.default_rng(seed)
            batch = {b"labels": [int(v) for v in rng.integers(0, 10, n)],
                     b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8)}
            labels[name] = batch[b"labels"]
            add(f"cifar-10-batches-py/{name}", pickle.dumps(batch, protocol=2))
        add("../escaped.txt", b"must not be written")
        add("cifar-10-batches-py/readme.html", b"<html></html>")
        link = tarfile.TarInfo("cifar-10-batches-py/batches.meta")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(link)
    return labels


def test_cifar_download_unpacks_only_the_batches(server: Server, dead_url: str,
                                                 tmp_path: Path) -> None:
    labels = make_cifar_archive(server.root / "cifar-10-python.tar.gz")
    root = tmp_path / "data"
    x_train, y_train, x_test, y_test = load_cifar10(root=root, download=True,
                                                    urls=[dead_url, server.url], timeout=5)
    assert x_train.shape == (10, 3, 32, 32) and x_test.shape == (2, 3, 32, 32)
    assert y_train.tolist() == sum((labels[f"data_batch_{i}"] for i in range(1, 6)), [])
    assert y_test.tolist() == labels["test_batch"]
    names = sorted(p.name for p in (root / "cifar-10-batches-py").iterdir())
    assert names == ["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4",
                     "data_batch_5", "test_batch"]
    assert sorted(p.name for p in root.iterdir()) == ["cifar-10-batches-py"]  # archive removed
    assert not (tmp_path / "escaped.txt").exists()


def test_cifar_download_all_failing(dead_url: str, tmp_path: Path) -> None:
    with pytest.raises(SerializationError, match="CIFAR-10 files missing: data_batch_1") as info:
        load_cifar10(root=tmp_path, download=True, urls=[dead_url], timeout=5)
    assert f"could not download {dead_url}cifar-10-python.tar.gz" in str(info.value)


def test_cifar_archive_without_batches(server: Server, tmp_path: Path) -> None:
    with tarfile.open(server.root / "cifar-10-python.tar.gz", "w:gz") as tar:
        info = tarfile.TarInfo("something/else.txt")
        tar.addfile(info, io.BytesIO(b""))
    with pytest.raises(SerializationError, match="does not contain cifar-10-batches-py/"):
        load_cifar10(root=tmp_path / "data", download=True, urls=[server.url])
