"""Steps several check files share: make inputs, backpropagate, compare gradients, train.

Each helper states one pattern of the seed suite once, so a check reads as what it tests:
``backward_against`` sends a known gradient into an output, ``expect_gradients`` compares the
gradients of named inputs with the oracle's, ``expect_every_parameter_trains`` asks that no
parameter of a model is cut off from the loss, and ``train``/``learns`` run a few Adam steps.
Like the checks, this file imports the student's ``tinytorch`` only through ``need``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..harness import arr, expect, expect_close, grad_of, need

GRAD_TOL = {"rtol": 1e-3, "atol": 1e-5}  # float32 student against a float64 oracle


def leaf(Tensor: Any, value: np.ndarray) -> Any:  # noqa: N803 (a class)
    """``value`` as a float32 tensor that collects a gradient."""
    return Tensor(value.astype(np.float32), requires_grad=True)


def set_param(tensor: Any, value: np.ndarray) -> None:
    """Overwrite a parameter's values in place (so the reference can use the same numbers)."""
    arr(tensor)[...] = value.astype(np.float32)


def backward_against(out: Any, weights: np.ndarray) -> None:
    """Backpropagate ``sum(out * weights)``: the gradient arriving at ``out`` is ``weights``.

    Random weights (rather than ``out.sum()``) make every output element matter differently,
    so a gradient routed to the wrong place cannot pass by symmetry.
    """
    Tensor = need("core.tensor", "Tensor")  # noqa: N806 (a class)
    (out * Tensor(np.asarray(weights).astype(np.float32))).sum().backward()


def expect_gradients(leaves: dict[str, Any], refs: Any, *, layer: str = "", why: str, fix: str,
                     **tolerance: float) -> None:
    """Fail unless each named leaf's gradient equals the oracle's, in the order of ``refs``.

    Args:
        leaves: label -> tensor, in the order of the oracle's arguments.
        refs: the oracle's gradients; any beyond the leaves (of inputs that are not trained,
            such as the random weights of ``backward_against``) are ignored.
        layer: names the layer in messages ("Conv2d gradient of weight").
        why: the rule the gradients follow.
        fix: where to look when one differs.
        **tolerance: ``rtol``/``atol`` for ``expect_close`` (``GRAD_TOL`` by default).
    """
    tol = {**GRAD_TOL, **tolerance}
    prefix = f"{layer} " if layer else ""
    for (label, tensor), ref in zip(leaves.items(), list(refs)[:len(leaves)], strict=True):
        expect_close(grad_of(tensor, f"{prefix}{label}"), ref,
                     what=f"{prefix}gradient of {label}", why=why, fix=fix, **tol)


def expect_every_parameter_trains(model: Any, name: str, *, why: str, fix: str) -> None:
    """After a backward pass, fail unless every parameter of ``model`` has a non-zero gradient."""
    for i, p in enumerate(model.parameters()):
        g = grad_of(p, f"{name} parameter {i} {arr(p).shape}")
        expect(np.abs(g).sum() > 0, what=f"{name} parameter {i} has zero gradient",
               why=why, fix=fix)


def train(model: Any, batch: Any, loss_of: Callable[[Any], Any], steps: int,
          lr: float) -> list[float]:
    """Adam on ``loss_of(model(batch))`` for ``steps`` full-batch steps; the losses in order."""
    Adam = need("core.optimizers", "Adam")  # noqa: N806 (a class)
    optimizer, losses = Adam(model.parameters(), lr=lr), []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = loss_of(model(batch))
        loss.backward()
        optimizer.step()
        losses.append(float(arr(loss)))
    return losses


def learns(model: Any, batch: Any, targets: np.ndarray, steps: int, lr: float) -> list[float]:
    """``train`` on cross-entropy of class ``targets``; logits (..., C) meet targets (...)."""
    Tensor = need("core.tensor", "Tensor")  # noqa: N806
    loss_fn = need("core.losses", "CrossEntropyLoss")()
    flat = Tensor(targets.reshape(-1))
    return train(model, batch, lambda logits: loss_fn(logits.reshape(-1, logits.shape[-1]), flat),
                 steps, lr)


def expect_each_close(cases: dict[str, tuple[Any, Any]], *, what: str, why: str, fix: str,
                      **tolerance: float) -> None:
    """``expect_close`` for every named ``(actual, expected)`` pair, stopping at the first miss.

    ``{name}`` in ``what`` and ``fix`` is filled with the case's name, so one sentence serves
    the whole table.
    """
    for name, (actual, expected) in cases.items():
        expect_close(actual, expected, what=what.format(name=name), why=why,
                     fix=fix.format(name=name), **tolerance)
