"""The PyTorch oracle: run the same function in tinytorch and torch and compare everything.

``import_torch()`` returns torch, or skips loudly when it is absent; with
``TINYTORCH_REQUIRE_ORACLE=1`` (set by CI) a missing torch fails instead of skipping.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest

from tinytorch.core.tensor import Tensor


def import_torch() -> Any:
    """Return the torch module, or skip (fail under TINYTORCH_REQUIRE_ORACLE=1) without it."""
    try:
        import torch
    except ImportError:
        reason = ("ORACLE TESTS NOT RUN: torch is not installed, so tinytorch is not being checked "
                  "against PyTorch. Install it with: pip install torch==2.13.0")
        if os.environ.get("TINYTORCH_REQUIRE_ORACLE") == "1":
            pytest.fail(reason + " (TINYTORCH_REQUIRE_ORACLE=1 makes this a failure)")
        pytest.skip(reason, allow_module_level=True)
    torch.set_num_threads(1)
    return torch


def to_numpy(x: Any) -> np.ndarray:
    """An array from a tinytorch tensor, a torch tensor or anything array-like."""
    if hasattr(x, "detach"):
        x = x.detach()
        if hasattr(x, "cpu"):
            return x.cpu().numpy()
    return np.asarray(getattr(x, "data", x))


def tolerances(dtype: Any) -> tuple[float, float]:
    """(atol, rtol) suited to float32 or float64 comparisons."""
    return (1e-10, 1e-7) if np.dtype(dtype) == np.float64 else (1e-5, 1e-4)


def assert_matches_torch(
    fn: Callable[..., Any],
    shapes: Sequence[tuple[int, ...]] | None = None,
    *,
    inputs: Sequence[np.ndarray] | None = None,
    torch_fn: Callable[..., Any] | None = None,
    low: float = -2.0,
    high: float = 2.0,
    dtype: Any = np.float32,
    grad: bool = True,
    atol: float | None = None,
    rtol: float | None = None,
    seed: int = 0,
) -> None:
    """Check ``fn`` on tinytorch against ``torch_fn`` (default: the same ``fn``) on torch.

    Compares forward values and dtype, then backpropagates the same *random* upstream
    gradient through both (an all-ones gradient would hide transposed gradients) and compares
    every input's gradient.
    """
    torch = import_torch()
    rng = np.random.default_rng(seed)
    if inputs is None:
        assert shapes is not None, "give shapes or inputs"
        inputs = [rng.uniform(low, high, size=s).astype(dtype) for s in shapes]
    default_atol, default_rtol = tolerances(dtype)
    atol = default_atol if atol is None else atol
    rtol = default_rtol if rtol is None else rtol
    ours = [Tensor(x, requires_grad=grad, dtype=x.dtype) for x in inputs]
    theirs = [torch.tensor(x, requires_grad=grad) for x in inputs]
    out = fn(*ours)
    expected = (torch_fn or fn)(*theirs)
    np.testing.assert_allclose(to_numpy(out), to_numpy(expected), atol=atol, rtol=rtol,
                               err_msg="forward values differ from torch")
    assert to_numpy(out).dtype == to_numpy(expected).dtype, (
        f"dtype {to_numpy(out).dtype} differs from torch's {to_numpy(expected).dtype}")
    if not grad:
        return
    upstream = rng.uniform(0.5, 1.5, size=np.shape(to_numpy(expected))).astype(dtype)
    out.backward(upstream)
    expected.backward(torch.tensor(upstream))
    for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        expected_grad = np.zeros_like(inputs[i]) if b.grad is None else to_numpy(b.grad)
        actual_grad = np.zeros_like(inputs[i]) if a.grad is None else to_numpy(a.grad)
        np.testing.assert_allclose(actual_grad, expected_grad, atol=atol, rtol=rtol,
                                   err_msg=f"gradient of input {i} differs from torch")


def assert_three_parts(message: str, *values: str) -> None:
    """A user-facing error says what, why and how to fix, and names the given values."""
    assert "\n  why: " in message and "\n  fix: " in message, message
    for value in values:
        assert value in message, f"{value!r} missing from:\n{message}"
