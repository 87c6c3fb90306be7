"""Quantization workloads: int8 ``QuantizedLinear`` inference against the float ``Linear``.

One Linear layer of the course's MNIST MLP (784 -> 256), inference only (``no_grad``), at batch
1 (latency) and batch 128 (throughput), in three variants:

- ``qlinear_float_b*``: the float32 tinytorch ``Linear``;
- ``qlinear_dequantized_b*``: ``QuantizedLinear`` on its default path (int8 codes dequantized
  per output channel, then the float32 GEMM);
- ``qlinear_integer_b*``: ``QuantizedLinear`` on the integer path (calibrated int8 input,
  int8 x int8 with int32 accumulation, one rescale).

Every row has the same two baselines, so the rows can be compared with each other in one run:
the NumPy column is the float32 GEMM ``x @ W + b`` written by hand, and the torch column is
``torch.nn.Linear`` in float32 (PyTorch's own int8 Linear needs its deprecated quantized-tensor
API, so it is not used). The number that answers "how fast is int8 here" is the ratio of the
``tt/numpy`` column of a quantized row to that of the float row at the same batch size.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from benchmarks.harness import Step, Workload, optional_torch

ORDER = 60

FAN_IN, FAN_OUT = 784, 256
BATCHES = (1, 128)


def _arrays(batch: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A fixed input (batch, 784), weight (784, 256) and bias (256,), float32."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, FAN_IN), dtype=np.float32)
    w = (rng.standard_normal((FAN_IN, FAN_OUT)) / np.sqrt(FAN_IN)).astype(np.float32)
    return x, w, rng.standard_normal(FAN_OUT).astype(np.float32) * np.float32(0.1)


def _tinytorch(batch: int, variant: str) -> Step:
    """tinytorch: the float Linear, or QuantizedLinear on one path, under no_grad."""
    from tinytorch.core.autograd import no_grad
    from tinytorch.core.layers import Linear
    from tinytorch.core.tensor import Tensor
    from tinytorch.perf.quantization import QuantizedLinear

    x_np, w, b = _arrays(batch)
    layer: Any = Linear(FAN_IN, FAN_OUT)
    layer.weight.data[...] = w
    layer.bias.data[...] = b
    if variant != "float":
        layer = QuantizedLinear(layer, path=variant)
        layer.calibrate(x_np)
    x = Tensor(x_np)

    def step() -> Any:
        with no_grad():
            return layer(x)

    return step


def _torch(batch: int) -> Step | None:
    """PyTorch: float32 nn.Linear (W stored transposed), under no_grad."""
    torch = optional_torch()
    if torch is None:
        return None
    x_np, w, b = _arrays(batch)
    layer = torch.nn.Linear(FAN_IN, FAN_OUT)
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(w.T.copy()))
        layer.bias.copy_(torch.from_numpy(b))
    x = torch.from_numpy(x_np)

    def step() -> Any:
        with torch.no_grad():
            return layer(x)

    return step


def _numpy(batch: int) -> Step:
    """Raw NumPy: the float32 GEMM and bias, the shared baseline of every row."""
    x, w, b = _arrays(batch)

    def step() -> Any:
        out = x @ w
        out += b
        return out

    return step


def _workload(batch: int, variant: str) -> Workload:
    what = {"float": "float32 Linear",
            "dequantized": "QuantizedLinear, dequantized path (default)",
            "integer": "QuantizedLinear, integer path (int8 x int8 -> int32)"}[variant]
    return Workload(
        name=f"qlinear_{variant}_b{batch}",
        description=f"{what} {FAN_IN}->{FAN_OUT}, batch {batch}, inference (no_grad)",
        make_tinytorch=lambda: _tinytorch(batch, variant),
        make_torch=lambda: _torch(batch),
        make_numpy=lambda: _numpy(batch),
    )


WORKLOADS = [_workload(batch, variant) for batch in BATCHES
             for variant in ("float", "dequantized", "integer")]
