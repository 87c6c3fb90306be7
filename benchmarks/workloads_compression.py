"""Compression workloads: a pruned layer's matmul stored in CSR against the same one dense.

``sparse_matmul_<sparsity>_b<batch>`` multiplies a (256, 784) weight (an MNIST MLP's first
layer, stored as W^T so each CSR row is a neuron) by a batch of inputs laid out (784, batch):

* tinytorch: ``CSRMatrix.matmul`` (gather + ``np.add.reduceat``, no Python loop);
* numpy:     the same product with the zeros kept, ``np.matmul`` on the dense array (BLAS);
* torch:     ``torch.sparse_csr_tensor`` @ dense, PyTorch's own CSR kernel on the same arrays.

So the ratio tinytorch/numpy is "sparse over dense" in one run: below 1 the CSR path wins. The
sparse path does 2 nnz k FLOPs but through gathers and a segment sum, while BLAS streams the
dense matrix through cache-blocked kernels, so any crossover sits at very high sparsity and
moves with the batch size (a matrix-vector product, batch 1, has no blocking to lose). On the
2-core machine of the README's table there is none up to 99% zeros (1.35x at batch 1).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from benchmarks.harness import Step, Workload, optional_torch

ORDER = 60

ROWS, COLS = 256, 784
SPARSITIES = (0.5, 0.9, 0.95, 0.99)
BATCHES = (1, 128)


def _operands(sparsity: float, batch: int) -> tuple[np.ndarray, np.ndarray]:
    """A pruned float32 (ROWS, COLS) weight (exactly that share zero) and (COLS, batch) inputs."""
    rng = np.random.default_rng(0)
    weight = rng.standard_normal((ROWS, COLS), dtype=np.float32)
    flat = weight.reshape(-1)
    flat[rng.permutation(flat.size)[:round(sparsity * flat.size)]] = 0.0
    inputs = rng.standard_normal((COLS, batch), dtype=np.float32)
    return weight, inputs


def _tinytorch(sparsity: float, batch: int) -> Step:
    from tinytorch.perf.sparse import CSRMatrix

    weight, inputs = _operands(sparsity, batch)
    csr = CSRMatrix.from_dense(weight)
    return lambda: csr.matmul(inputs)


def _numpy(sparsity: float, batch: int) -> Step:
    weight, inputs = _operands(sparsity, batch)
    return lambda: weight @ inputs


def _torch(sparsity: float, batch: int) -> Step | None:
    torch = optional_torch()
    if torch is None:
        return None
    from tinytorch.perf.sparse import CSRMatrix

    weight, inputs = _operands(sparsity, batch)
    csr = CSRMatrix.from_dense(weight)
    with warnings.catch_warnings():                  # "sparse CSR support is in beta"
        warnings.simplefilter("ignore")
        matrix = torch.sparse_csr_tensor(torch.from_numpy(csr.indptr.astype(np.int64)),
                                         torch.from_numpy(csr.indices.astype(np.int64)),
                                         torch.from_numpy(csr.data), size=csr.shape)
    dense_inputs = torch.from_numpy(inputs)

    def step() -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return matrix @ dense_inputs

    return step


def _workload(sparsity: float, batch: int) -> Workload:
    percent = round(sparsity * 100)
    return Workload(
        name=f"sparse_matmul_{percent}_b{batch}",
        description=f"CSR ({ROWS}x{COLS}, {percent}% zeros) @ ({COLS}x{batch}); numpy = dense",
        make_tinytorch=lambda: _tinytorch(sparsity, batch),
        make_torch=lambda: _torch(sparsity, batch),
        make_numpy=lambda: _numpy(sparsity, batch),
        target="tinytorch/numpy < 1 means CSR beats the dense matmul",
    )


WORKLOADS = [_workload(s, b) for b in BATCHES for s in SPARSITIES]
