"""In-place operations against PyTorch: the values they write, and the safety rule.

Each case runs the same steps in both libraries. Where PyTorch allows an in-place change
(under no_grad, on tensors outside the graph, on inputs a backward did not save), the values
and gradients must match; where PyTorch refuses (a leaf that requires grad, a saved tensor
changed before backward), tinytorch must refuse too, with a RuntimeError (GraphError is one).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from oracle_helpers import assert_three_parts, import_torch

import tinytorch
from tinytorch.core.errors import GraphError

torch = import_torch()

W0 = np.random.default_rng(0).uniform(-2, 2, (3, 4)).astype(np.float32)
X0 = np.random.default_rng(1).uniform(-2, 2, (3, 4)).astype(np.float32)
MASK = W0 > 0
INDEX = np.array([[0, 3], [1, 2], [2, 0]])       # distinct per row: scatter_ has one writer
REPEATS = np.array([[0, 0], [1, 1], [3, 0]])     # scatter_add_ must add both


def _both(steps: Callable[[Any, Any, Any], Any]) -> tuple[Any, Any]:
    """Run ``steps(lib, w, x)`` with tinytorch and with torch; return both results."""
    ours = steps(tinytorch, tinytorch.tensor(W0.copy(), requires_grad=True),
                 tinytorch.tensor(X0.copy()))
    theirs = steps(torch, torch.tensor(W0.copy(), requires_grad=True), torch.tensor(X0.copy()))
    return ours, theirs


def _values(t: Any) -> np.ndarray:
    return np.asarray(t.detach().numpy() if hasattr(t, "detach") else t)


NO_GRAD_UPDATES: dict[str, Callable[[Any, Any, Any], Any]] = {
    "add_alpha": lambda lib, w, x: w.add_(x, alpha=-0.5),
    "sub_": lambda lib, w, x: w.sub_(x),
    "mul_": lambda lib, w, x: w.mul_(x),
    "div_number": lambda lib, w, x: w.div_(4.0),
    "zero_": lambda lib, w, x: w.zero_(),
    "fill_": lambda lib, w, x: w.fill_(0.25),
    "copy_broadcast": lambda lib, w, x: w.copy_(x[0]),
    "masked_fill_": lambda lib, w, x: w.masked_fill_(lib.tensor(MASK), -1.0),
    "clamp_": lambda lib, w, x: w.clamp_(-0.5, 0.5),
    "scatter_src": lambda lib, w, x: w.scatter_(1, lib.tensor(INDEX), x),
    "scatter_value": lambda lib, w, x: w.scatter_(1, lib.tensor(INDEX), 7.0),
    "scatter_add_": lambda lib, w, x: w.scatter_add_(1, lib.tensor(REPEATS), x),
    "setitem_mask": lambda lib, w, x: w.__setitem__(w < 0, float("-inf")),
    "setitem_slice": lambda lib, w, x: w.__setitem__((slice(None), 1), x[:, 2]),
    "iadd": lambda lib, w, x: w.__iadd__(x * 0.1),
    "view_fill_reaches_base": lambda lib, w, x: w[1].fill_(3.0),
}


@pytest.mark.parametrize("name", NO_GRAD_UPDATES)
def test_in_place_update_under_no_grad_matches_torch(name: str) -> None:
    def steps(lib: Any, w: Any, x: Any) -> Any:
        with lib.no_grad():
            NO_GRAD_UPDATES[name](lib, w, x)
        return w

    ours, theirs = _both(steps)
    np.testing.assert_array_equal(_values(ours), _values(theirs))
    assert ours.requires_grad and ours.is_leaf


def test_in_place_on_a_leaf_that_requires_grad_is_refused_by_both() -> None:
    for lib in (tinytorch, torch):
        w = lib.tensor(W0.copy(), requires_grad=True)
        with pytest.raises(RuntimeError):
            w.add_(1.0)
        with pytest.raises(RuntimeError):
            w[0] = 0.0
    with pytest.raises(GraphError) as info:
        tinytorch.tensor(W0.copy(), requires_grad=True).mul_(2.0)
    assert_three_parts(str(info.value), "mul_()", "leaf", "no_grad")


def _saved_input_changed(lib: Any, w: Any, x: Any) -> Any:
    y = w * x                 # Mul saved x for w's gradient
    x.mul_(2.0)
    y.sum().backward()


def _saved_output_changed(lib: Any, w: Any, x: Any) -> Any:
    y = w.exp()               # Exp saved its output
    with lib.no_grad():
        y.add_(1.0)
    y.sum().backward()


def _saved_view_changed(lib: Any, w: Any, x: Any) -> Any:
    y = w * x
    x[0].fill_(0.0)           # a view of x: the change reaches the saved array
    y.sum().backward()


def _leaf_changed_after_forward(lib: Any, w: Any, x: Any) -> Any:
    y = (w * w).sum()         # Mul saved w itself
    with lib.no_grad():
        w.sub_(0.1)
    y.backward()


@pytest.mark.parametrize("steps", [_saved_input_changed, _saved_output_changed,
                                   _saved_view_changed, _leaf_changed_after_forward],
                         ids=lambda f: f.__name__.strip("_"))
def test_changing_a_saved_tensor_fails_at_backward_in_both(steps: Callable[..., Any]) -> None:
    with pytest.raises(RuntimeError, match="inplace|in-place"):
        steps(torch, torch.tensor(W0.copy(), requires_grad=True), torch.tensor(X0.copy()))
    with pytest.raises(GraphError) as info:
        steps(tinytorch, tinytorch.tensor(W0.copy(), requires_grad=True),
              tinytorch.tensor(X0.copy()))
    assert_three_parts(str(info.value), "modified by an in-place operation", "version")


def _unsaved_input_changed(lib: Any, w: Any, x: Any) -> Any:
    y = w + x                 # Add saves nothing: changing x afterwards is harmless
    x.mul_(2.0)
    y.sum().backward()
    return w.grad


def _changed_before_use(lib: Any, w: Any, x: Any) -> Any:
    x.mul_(2.0)
    with lib.no_grad():
        w.mul_(0.5)
    (w * x).sum().backward()
    return w.grad


def _augmented_on_graph_tensor(lib: Any, w: Any, x: Any) -> Any:
    h = w * x
    h += w                    # an intermediate result: recorded like any op
    h *= 2.0
    (h * h).sum().backward()
    return w.grad


def _manual_sgd_steps(lib: Any, w: Any, x: Any) -> Any:
    for _ in range(3):
        loss = ((w * x).sum(dim=1) ** 2).mean()
        loss.backward()
        with lib.no_grad():
            w -= 0.1 * w.grad
            w.grad.zero_()
    return w


@pytest.mark.parametrize("steps", [_unsaved_input_changed, _changed_before_use,
                                   _augmented_on_graph_tensor, _manual_sgd_steps],
                         ids=lambda f: f.__name__.strip("_"))
def test_allowed_in_place_changes_give_torch_gradients(steps: Callable[..., Any]) -> None:
    ours, theirs = _both(steps)
    np.testing.assert_allclose(_values(ours), _values(theirs), rtol=1e-5, atol=1e-6)
