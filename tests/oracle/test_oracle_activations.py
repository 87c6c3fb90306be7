"""Every activation (module and functional form) against PyTorch: values and gradients."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from oracle_helpers import assert_matches_torch, import_torch

from tinytorch.core import activations as acts
from tinytorch.core.tensor import Tensor
from tinytorch.nn import functional as F  # noqa: N812  (the PyTorch habit)

torch = import_torch()
TF = torch.nn.functional

# name -> (tinytorch callable, torch callable)
CASES: dict[str, tuple[Callable[[Any], Any], Callable[[Any], Any]]] = {
    "relu": (acts.ReLU(), torch.relu),
    "sigmoid": (acts.Sigmoid(), torch.sigmoid),
    "tanh": (acts.Tanh(), torch.tanh),
    "silu": (acts.SiLU(), TF.silu),
    "leaky_relu": (acts.LeakyReLU(), TF.leaky_relu),
    "leaky_relu_0.2": (acts.LeakyReLU(0.2), lambda x: TF.leaky_relu(x, 0.2)),
    "gelu_tanh": (acts.GELU(), lambda x: TF.gelu(x, approximate="tanh")),
    "gelu_none": (acts.GELU("none"), lambda x: TF.gelu(x, approximate="none")),
    "gelu_sigmoid": (acts.GELU("sigmoid"), lambda x: x * torch.sigmoid(1.702 * x)),
    "softmax": (acts.Softmax(), lambda x: torch.softmax(x, dim=-1)),
    "softmax_dim0": (acts.Softmax(dim=0), lambda x: torch.softmax(x, dim=0)),
    "log_softmax": (acts.LogSoftmax(), lambda x: torch.log_softmax(x, dim=-1)),
    "log_softmax_dim1": (acts.LogSoftmax(dim=1), lambda x: torch.log_softmax(x, dim=1)),
    "f_relu": (F.relu, torch.relu),
    "f_gelu": (F.gelu, lambda x: TF.gelu(x, approximate="tanh")),
    "f_gelu_none": (lambda x: F.gelu(x, approximate="none"), TF.gelu),
    "f_silu": (F.silu, TF.silu),
    "f_softmax": (lambda x: F.softmax(x, dim=1), lambda x: torch.softmax(x, dim=1)),
    "f_log_softmax": (lambda x: F.log_softmax(x, dim=0), lambda x: torch.log_softmax(x, dim=0)),
    "f_leaky_relu": (lambda x: F.leaky_relu(x, 0.3), lambda x: TF.leaky_relu(x, 0.3)),
    "f_sigmoid": (F.sigmoid, torch.sigmoid),
    "f_tanh": (F.tanh, torch.tanh),
}
ACROSS_ROWS = {"softmax_dim0", "log_softmax_dim1", "f_softmax", "f_log_softmax"}


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("shape", [(7,), (4, 5), (2, 3, 6)])
def test_activation_matches_torch(name: str, shape: tuple[int, ...]) -> None:
    ours, theirs = CASES[name]
    if name in ACROSS_ROWS and len(shape) < 2:
        shape = (3, *shape)  # these reduce over axis 0 or 1, so they need two axes
    assert_matches_torch(ours, [shape], torch_fn=theirs, low=-4.0, high=4.0)


EXTREME = np.array([[-1000.0, -100.0, -20.0, -1e-3, 0.0, 1e-3, 20.0, 100.0, 1000.0]],
                   dtype=np.float32)


@pytest.mark.parametrize("name", sorted(CASES))
def test_activation_at_extremes_is_finite_and_matches_torch(name: str) -> None:
    ours, theirs = CASES[name]
    inputs = EXTREME.reshape(3, 3) if name in ACROSS_ROWS else EXTREME
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        x = Tensor(inputs, requires_grad=True)
        out = ours(x)
        out.backward(np.ones(out.shape, dtype=np.float32))
    assert np.isfinite(out.data).all() and np.isfinite(x.grad.data).all()
    # torch's float32 gelu/silu at +-1000 agree exactly; compare values and gradients too
    assert_matches_torch(ours, inputs=[inputs], torch_fn=theirs, atol=1e-5, rtol=1e-5)


def test_gelu_forms_differ_by_a_little() -> None:
    x = Tensor(np.linspace(-3, 3, 13, dtype=np.float32))
    exact, tanh_form, sig_form = (acts.GELU(f)(x).data for f in ("none", "tanh", "sigmoid"))
    assert np.max(np.abs(exact - tanh_form)) < 1e-3   # the tanh form is a close fit
    assert 1e-3 < np.max(np.abs(exact - sig_form)) < 3e-2  # the sigmoid form is rougher


def test_activations_keep_float64_for_exact_checks() -> None:
    x = np.random.default_rng(3).normal(size=(3, 4))
    for name, (ours, theirs) in CASES.items():
        if name.startswith("gelu_none") or name == "f_gelu_none":
            continue  # our erf is accurate to 1.5e-7: enough for float32, not for float64
        assert_matches_torch(ours, inputs=[x], torch_fn=theirs, dtype=np.float64)
