"""Convolution workloads: one Conv2d forward + backward, and one training step of a small CNN.

Both run the same sizes, data and update in tinytorch and PyTorch. ``conv_fwd_bwd`` also has a
raw NumPy row: the three GEMMs a convolution's forward and backward cannot avoid (im2col data
already laid out), the speed ceiling for an im2col implementation on NumPy.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from benchmarks.harness import Step, Workload, optional_torch, train_step

ORDER = 20

CONV_INPUT = (32, 16, 32, 32)  # N, C, H, W
CONV_OUT = 32
CNN_BATCH = 32


def _conv_arrays() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Input x, weight, bias and an upstream gradient g of the 3x3, pad 1 convolution."""
    rng = np.random.default_rng(0)
    n, c, h, w = CONV_INPUT
    return (
        rng.standard_normal(CONV_INPUT, dtype=np.float32),
        rng.standard_normal((CONV_OUT, c, 3, 3), dtype=np.float32) * np.float32(0.1),
        rng.standard_normal(CONV_OUT, dtype=np.float32),
        rng.standard_normal((n, CONV_OUT, h, w), dtype=np.float32),
    )


def conv_tinytorch() -> Step:
    """tinytorch: Conv2d(16, 32, 3, padding=1) forward, then backward with g."""
    from tinytorch.core.spatial import Conv2d
    from tinytorch.core.tensor import Tensor

    x_np, w_np, b_np, g_np = _conv_arrays()
    conv = Conv2d(CONV_INPUT[1], CONV_OUT, 3, padding=1)
    conv.weight.data[...] = w_np
    conv.bias.data[...] = b_np
    x = Tensor(x_np, requires_grad=True)

    def step() -> Any:
        x.grad = None
        conv.zero_grad()
        conv(x).backward(g_np)
        return x.grad, conv.weight.grad

    return step


def conv_torch() -> Step | None:
    """PyTorch: the same layer, input and upstream gradient."""
    torch = optional_torch()
    if torch is None:
        return None
    x_np, w_np, b_np, g_np = _conv_arrays()
    conv = torch.nn.Conv2d(CONV_INPUT[1], CONV_OUT, 3, padding=1)
    with torch.no_grad():
        conv.weight.copy_(torch.from_numpy(w_np))
        conv.bias.copy_(torch.from_numpy(b_np))
    x = torch.from_numpy(x_np).requires_grad_()
    g = torch.from_numpy(g_np)

    def step() -> Any:
        x.grad = None
        conv.zero_grad(set_to_none=True)
        conv(x).backward(g)
        return x.grad, conv.weight.grad

    return step


def _matrix(rng: np.random.Generator, rows: int, cols: int) -> np.ndarray:
    """A random (rows, cols) float32 matrix whose rows sit 64 bytes apart beyond their length.

    tinytorch lays its GEMM operands out this way (rows a multiple of 4 KiB apart slow BLAS
    down through cache-set conflicts), so the baseline does too.
    """
    return rng.standard_normal((rows, cols + 16), dtype=np.float32)[:, :cols]


def conv_numpy() -> Step:
    """Raw NumPy: the forward, weight-gradient and column-gradient GEMMs, nothing else."""
    _, w, _, _ = _conv_arrays()
    n, c, h, width = CONV_INPUT
    rng = np.random.default_rng(1)
    m = n * h * width
    cols = _matrix(rng, c * 9, m)  # the im2col'd input, (C*9, N*H*W)
    g2 = _matrix(rng, CONV_OUT, m)  # the upstream gradient, (O, N*H*W)
    w2 = w.reshape(CONV_OUT, -1)  # (O, C*9)
    out, grad_cols = _matrix(rng, CONV_OUT, m), _matrix(rng, c * 9, m)

    def step() -> Any:
        np.matmul(w2, cols, out=out)
        grad_w = (cols @ g2.T).T
        np.matmul(w2.T, g2, out=grad_cols)
        return out, grad_w, grad_cols

    return step


def _cnn_data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    images = rng.standard_normal((CNN_BATCH, 1, 28, 28), dtype=np.float32)
    labels = rng.integers(0, 10, size=CNN_BATCH)
    return images, labels


def cnn_tinytorch() -> Step:
    """tinytorch: conv-relu-pool-conv-relu-pool-linear, cross-entropy, SGD step."""
    from tinytorch.core.activations import ReLU
    from tinytorch.core.layers import Flatten, Linear, Sequential
    from tinytorch.core.losses import CrossEntropyLoss
    from tinytorch.core.optimizers import SGD
    from tinytorch.core.rng import manual_seed
    from tinytorch.core.spatial import Conv2d, MaxPool2d
    from tinytorch.core.tensor import Tensor

    manual_seed(0)
    model = Sequential(
        Conv2d(1, 8, 3, padding=1),
        ReLU(),
        MaxPool2d(2),
        Conv2d(8, 16, 3, padding=1),
        ReLU(),
        MaxPool2d(2),
        Flatten(),
        Linear(16 * 7 * 7, 10),
    )
    loss_fn = CrossEntropyLoss()
    optimizer = SGD(model.parameters(), lr=0.01)
    images, labels = _cnn_data()
    x, y = Tensor(images), Tensor(labels, dtype=np.int64)
    return train_step(model, loss_fn, optimizer, x, y)


def cnn_torch() -> Step | None:
    """PyTorch: the same network, batch and update."""
    torch = optional_torch()
    if torch is None:
        return None
    nn = torch.nn
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * 7 * 7, 10),
    )
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    images, labels = _cnn_data()
    x, y = torch.from_numpy(images), torch.from_numpy(labels)
    return train_step(model, loss_fn, optimizer, x, y)  # torch's zero_grad sets grads to None


WORKLOADS = [
    Workload(
        name="conv_fwd_bwd",
        description="Conv2d 16->32 3x3 pad 1 on 32x16x32x32, forward + backward (input, weight)",
        make_tinytorch=conv_tinytorch,
        make_torch=conv_torch,
        make_numpy=conv_numpy,
        target="tinytorch/torch <= 5x",
        target_baseline="torch",
        target_max_ratio=5.0,
    ),
    Workload(
        name="cnn_train_step",
        description="batch 32 of 1x28x28: 2x (conv 3x3, ReLU, maxpool 2), linear; CE; SGD",
        make_tinytorch=cnn_tinytorch,
        make_torch=cnn_torch,
        target="tinytorch/torch <= 2.5x (<= 1.5x with the tuned allocator)",
        target_baseline="torch",
        target_max_ratio=2.5,
    ),
]
