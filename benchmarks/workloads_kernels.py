"""The transformer's fused kernels alone, at the shapes of the ``gpt_train_step`` workload.

A train-step ratio says how far the whole step is from PyTorch's; these rows say which kernel
is responsible. Each runs one op forward and backward with a fixed random upstream gradient:

* ``layernorm_fwd_bwd``: LayerNorm(128) over (16, 64, 128), gradients for x, weight and bias;
* ``attention_fwd_bwd``: causal ``scaled_dot_product_attention`` over 4 heads,
  q, k, v (16, 4, 64, 32) as views of (16, 64, 128) projections (the layout a model hands it).

PyTorch runs ``nn.LayerNorm`` and ``F.scaled_dot_product_attention(is_causal=True)`` on the
same numbers (the same strided views). GELU has its own rows in ``workloads_systems``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from benchmarks.harness import Step, Workload, forward_backward_step, optional_torch

ORDER = 35  # after the GPT rows they explain

BATCH, CONTEXT, WIDTH, HEADS = 16, 64, 128, 4


def _normal(shape: tuple[int, ...], seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape, dtype=np.float32)


def _heads(seed: int) -> np.ndarray:
    """(B, H, T, d) as the transposed view of a (B, T, H * d) projection output."""
    flat = _normal((BATCH, CONTEXT, WIDTH), seed)
    heads: np.ndarray = flat.reshape(BATCH, CONTEXT, HEADS, WIDTH // HEADS).transpose(0, 2, 1, 3)
    return heads


def _tinytorch_step(arrays: list[np.ndarray], op: Callable[..., Any], grad: np.ndarray) -> Step:
    from tinytorch.core.tensor import Tensor

    return forward_backward_step([Tensor(a, requires_grad=True) for a in arrays], op, Tensor(grad))


def _torch_step(arrays: list[np.ndarray], make_op: Callable[[Any], Callable[..., Any]],
                grad: np.ndarray) -> Step | None:
    torch = optional_torch()
    if torch is None:
        return None
    inputs = [torch.from_numpy(a).requires_grad_() for a in arrays]
    return forward_backward_step(inputs, make_op(torch), torch.from_numpy(grad))


# --- LayerNorm --------------------------------------------------------------------------------


def _layernorm_arrays() -> tuple[list[np.ndarray], np.ndarray]:
    return [_normal((BATCH, CONTEXT, WIDTH), 0)], _normal((BATCH, CONTEXT, WIDTH), 1)


def layernorm_tinytorch() -> Step:
    """tinytorch: LayerNorm(128) forward and backward (x, weight and bias gradients)."""
    from tinytorch.core.transformer import LayerNorm

    norm = LayerNorm(WIDTH)
    arrays, grad = _layernorm_arrays()

    def op(x: Any) -> Any:
        norm.zero_grad()
        return norm(x)

    return _tinytorch_step(arrays, op, grad)


def layernorm_torch() -> Step | None:
    """PyTorch: nn.LayerNorm(128) on the same numbers."""
    arrays, grad = _layernorm_arrays()

    def make_op(torch: Any) -> Callable[..., Any]:
        norm = torch.nn.LayerNorm(WIDTH)

        def op(x: Any) -> Any:
            norm.zero_grad(set_to_none=True)
            return norm(x)

        return op

    return _torch_step(arrays, make_op, grad)


# --- Attention --------------------------------------------------------------------------------


def _attention_arrays() -> tuple[list[np.ndarray], np.ndarray]:
    grad = _normal((BATCH, HEADS, CONTEXT, WIDTH // HEADS), 3)
    return [_heads(0), _heads(1), _heads(2)], grad


def attention_tinytorch() -> Step:
    """tinytorch: nn.functional.scaled_dot_product_attention(is_causal=True), fwd + bwd."""
    from tinytorch.nn import functional

    arrays, grad = _attention_arrays()
    return _tinytorch_step(
        arrays, lambda q, k, v: functional.scaled_dot_product_attention(q, k, v, is_causal=True),
        grad)


def attention_torch() -> Step | None:
    """PyTorch: F.scaled_dot_product_attention(is_causal=True) on the same numbers."""
    arrays, grad = _attention_arrays()
    return _torch_step(
        arrays, lambda torch: lambda q, k, v: torch.nn.functional.scaled_dot_product_attention(
            q, k, v, is_causal=True), grad)


_SHAPES = f"batch {BATCH}, context {CONTEXT}, width {WIDTH}"

WORKLOADS = [
    Workload(
        name="layernorm_fwd_bwd",
        description=f"LayerNorm({WIDTH}) forward + backward, {_SHAPES}",
        make_tinytorch=layernorm_tinytorch,
        make_torch=layernorm_torch,
    ),
    Workload(
        name="attention_fwd_bwd",
        description=f"causal scaled_dot_product_attention, {HEADS} heads, {_SHAPES}: "
                    "forward + backward",
        make_tinytorch=attention_tinytorch,
        make_torch=attention_torch,
    ),
]
