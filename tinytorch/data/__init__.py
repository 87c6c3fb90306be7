"""Data sets and loaders: shipped digits and text, plus MNIST (IDX) and CIFAR-10 readers.

Everything here returns NumPy arrays or strings; wrap them in tensors or a
``TensorDataset`` to train. The digits and the corpus ship inside the package; MNIST and
CIFAR-10 are read from local files and can be downloaded with ``download=True``.
"""

from __future__ import annotations

from tinytorch.data.cifar import CLASSES as CIFAR10_CLASSES
from tinytorch.data.cifar import load_cifar10, read_cifar_batch
from tinytorch.data.corpus import load_corpus, load_qa_pairs
from tinytorch.data.digits import load_digits
from tinytorch.data.download import DownloadError, download
from tinytorch.data.idx import read_idx, write_idx
from tinytorch.data.mnist import load_mnist
from tinytorch.data.paths import DATA_ENV, data_root
from tinytorch.data.safe_unpickle import RestrictedUnpickler, safe_loads

__all__ = [
    "CIFAR10_CLASSES",
    "DATA_ENV",
    "DownloadError",
    "RestrictedUnpickler",
    "data_root",
    "download",
    "load_cifar10",
    "load_corpus",
    "load_digits",
    "load_mnist",
    "load_qa_pairs",
    "read_cifar_batch",
    "read_idx",
    "safe_loads",
    "write_idx",
]
