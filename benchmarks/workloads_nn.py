"""Neural-network workloads: one full training step of a small MLP.

``mlp_train_step`` is the everyday unit of work of the course: a batch of 128 MNIST-sized
inputs through 784-256-128-10 with ReLU, cross-entropy, backward, and an SGD update. Its cost
is dominated by six GEMMs (two per layer in backward, one in forward), so anything beyond
them (copies, float64 upcasts, temporaries in Linear, the loss or the optimizer) shows up
directly in the ratio. The NumPy row is the same step written by hand: the ceiling for a
framework built on NumPy.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from benchmarks.harness import Step, Workload, optional_torch, train_step

ORDER = 10

BATCH = 128
SIZES = (784, 256, 128, 10)
LR = 0.01


def _data() -> tuple[np.ndarray, np.ndarray]:
    """A fixed batch: float32 inputs (BATCH, 784) and int64 labels (BATCH,)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((BATCH, SIZES[0]), dtype=np.float32)
    y = rng.integers(0, SIZES[-1], size=BATCH)
    return x, y


def _weights() -> list[tuple[np.ndarray, np.ndarray]]:
    """(W of shape (in, out), b) per layer, float32, the same for every framework."""
    rng = np.random.default_rng(1)
    layers = []
    for fan_in, fan_out in zip(SIZES[:-1], SIZES[1:], strict=True):
        w = (rng.standard_normal((fan_in, fan_out)) / np.sqrt(fan_in)).astype(np.float32)
        layers.append((w, np.zeros(fan_out, dtype=np.float32)))
    return layers


def mlp_tinytorch() -> Step:
    """tinytorch: Sequential(Linear, ReLU, Linear, ReLU, Linear), CrossEntropyLoss, SGD."""
    from tinytorch.core.activations import ReLU
    from tinytorch.core.layers import Linear, Sequential
    from tinytorch.core.losses import CrossEntropyLoss
    from tinytorch.core.optimizers import SGD
    from tinytorch.core.tensor import Tensor

    x_np, y_np = _data()
    linears = [Linear(a, b) for a, b in zip(SIZES[:-1], SIZES[1:], strict=True)]
    for layer, (w, b) in zip(linears, _weights(), strict=True):
        layer.weight.data[...] = w
        layer.bias.data[...] = b
    model = Sequential(linears[0], ReLU(), linears[1], ReLU(), linears[2])
    loss_fn = CrossEntropyLoss()
    optimizer = SGD(model.parameters(), lr=LR)
    x, y = Tensor(x_np), Tensor(y_np, dtype=np.int64)
    return train_step(model, loss_fn, optimizer, x, y)


def mlp_torch() -> Step | None:
    """PyTorch: the same model, loss and optimizer (nn.Linear stores W transposed)."""
    torch = optional_torch()
    if torch is None:
        return None
    x_np, y_np = _data()
    linears = [torch.nn.Linear(a, b) for a, b in zip(SIZES[:-1], SIZES[1:], strict=True)]
    with torch.no_grad():
        for layer, (w, b) in zip(linears, _weights(), strict=True):
            layer.weight.copy_(torch.from_numpy(w.T.copy()))
            layer.bias.copy_(torch.from_numpy(b))
    model = torch.nn.Sequential(linears[0], torch.nn.ReLU(), linears[1], torch.nn.ReLU(),
                                linears[2])
    loss_fn = torch.nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=LR)
    x, y = torch.from_numpy(x_np), torch.from_numpy(y_np)
    return train_step(model, loss_fn, optimizer, x, y)


def mlp_numpy() -> Step:
    """Raw NumPy: the same step written out by hand, with in-place updates."""
    x, y = _data()
    params = [(w.copy(), b.copy()) for w, b in _weights()]
    rows = np.arange(BATCH)

    def step() -> Any:
        activations = [x]
        h = x
        for i, (w, b) in enumerate(params):
            h = h @ w
            h += b
            if i < len(params) - 1:
                np.maximum(h, 0, out=h)
            activations.append(h)
        logits = activations[-1]
        shifted = logits - logits.max(axis=1, keepdims=True)
        probs = np.exp(shifted)
        total = probs.sum(axis=1, keepdims=True)
        loss = float(np.mean(np.log(total[:, 0]) - shifted[rows, y]))
        probs /= total
        probs[rows, y] -= 1.0
        grad = probs
        grad *= np.float32(1.0 / BATCH)                      # d(mean CE)/d(logits)
        for i in range(len(params) - 1, -1, -1):
            w, b = params[i]
            grad_w = activations[i].T @ grad
            grad_b = grad.sum(axis=0)
            if i:
                grad = grad @ w.T
                grad *= activations[i] > 0                   # ReLU backward
            grad_w *= -LR
            w += grad_w
            grad_b *= -LR
            b += grad_b
        return loss

    return step


WORKLOADS = [
    Workload(
        name="mlp_train_step",
        description=f"MLP {'-'.join(map(str, SIZES))} ReLU, batch {BATCH}, cross-entropy, "
                    f"backward, SGD step (float32)",
        make_tinytorch=mlp_tinytorch,
        make_torch=mlp_torch,
        make_numpy=mlp_numpy,
        target="tinytorch/torch <= 1.2x",
        target_baseline="torch",
        target_max_ratio=1.2,
    ),
]
