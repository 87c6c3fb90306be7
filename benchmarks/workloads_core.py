"""Core workloads: one big GEMM with its gradients, and the fixed cost of a tiny op.

``matmul_1024`` asks whether tinytorch adds anything to the BLAS work of ``a @ b`` and its
backward (three 1024x1024 GEMMs); ``op_overhead`` (16 floats) and ``op_overhead_1`` (one float)
ask how much Python bookkeeping one differentiable op costs when the arithmetic itself is
nearly free: at these sizes an op should cost no more than PyTorch's.
"""

from __future__ import annotations

import operator
from functools import partial
from typing import Any

import numpy as np

from benchmarks.harness import Step, Workload, forward_backward_step, optional_torch

ORDER = 0  # these rows come first in the report

MATMUL_N = 1024
CHAIN_OPS = 1_000
CHAIN_SIZE = 16


def _matmul_arrays() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Inputs a, b and a random upstream gradient g, all (N, N) float32, the same every run."""
    rng = np.random.default_rng(0)
    shape = (MATMUL_N, MATMUL_N)
    return (
        rng.standard_normal(shape, dtype=np.float32),
        rng.standard_normal(shape, dtype=np.float32),
        rng.standard_normal(shape, dtype=np.float32),
    )


def matmul_tinytorch() -> Step:
    """tinytorch: out = a @ b, then backward with g, filling a.grad and b.grad."""
    from tinytorch.core.tensor import Tensor

    a_np, b_np, g_np = _matmul_arrays()
    a = Tensor(a_np, requires_grad=True)
    b = Tensor(b_np, requires_grad=True)
    return forward_backward_step([a, b], operator.matmul, Tensor(g_np))


def matmul_torch() -> Step | None:
    """PyTorch: the same forward and backward."""
    torch = optional_torch()
    if torch is None:
        return None
    a_np, b_np, g_np = _matmul_arrays()
    a = torch.from_numpy(a_np).requires_grad_()
    b = torch.from_numpy(b_np).requires_grad_()
    return forward_backward_step([a, b], operator.matmul, torch.from_numpy(g_np))


def matmul_numpy() -> Step:
    """Raw NumPy: the three GEMMs that forward and backward need, and nothing else."""
    a, b, g = _matmul_arrays()

    def step() -> Any:
        out = a @ b
        grad_a = g @ b.T  # dL/da = g b^T
        grad_b = a.T @ g  # dL/db = a^T g
        return out, grad_a, grad_b

    return step


def _chain_start(size: int) -> np.ndarray:
    return np.full(size, 0.5, dtype=np.float32)


def _chain_step(x0: Any) -> Step:
    """CHAIN_OPS alternating x * 1.0001 and x + 0.001 from x0, then sum and backward."""

    def step() -> Any:
        x0.grad = None
        x = x0
        for _ in range(CHAIN_OPS // 2):
            x = x * 1.0001
            x = x + 0.001
        x.sum().backward()
        return x0.grad

    return step


def chain_tinytorch(size: int = CHAIN_SIZE) -> Step:
    """tinytorch: CHAIN_OPS alternating x * 1.0001 and x + 0.001 on ``size`` floats, then sum
    and backward."""
    from tinytorch.core.tensor import Tensor

    return _chain_step(Tensor(_chain_start(size), requires_grad=True))


def chain_torch(size: int = CHAIN_SIZE) -> Step | None:
    """PyTorch: the same chain."""
    torch = optional_torch()
    if torch is None:
        return None
    return _chain_step(torch.from_numpy(_chain_start(size)).requires_grad_())


WORKLOADS = [
    Workload(
        name="matmul_1024",
        description=f"{MATMUL_N}x{MATMUL_N} float32 a @ b, forward + backward (3 GEMMs)",
        make_tinytorch=matmul_tinytorch,
        make_torch=matmul_torch,
        make_numpy=matmul_numpy,
        target="tinytorch/numpy <= 1.15x",
        target_baseline="numpy",
        target_max_ratio=1.15,
    ),
    *(Workload(
        name="op_overhead" if size == CHAIN_SIZE else f"op_overhead_{size}",
        description=f"{CHAIN_OPS} chained elementwise ops on {size} float(s), fwd + bwd",
        make_tinytorch=partial(chain_tinytorch, size),
        make_torch=partial(chain_torch, size),
        target="tinytorch/torch <= 1x",
        target_baseline="torch",
        target_max_ratio=1.0,
    ) for size in (CHAIN_SIZE, 1)),
]
