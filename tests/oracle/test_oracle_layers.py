"""Layers against PyTorch: Linear (weight transposed), Dropout off, Flatten, a whole MLP.

Our ``Linear`` keeps its weight as ``(in_features, out_features)`` (upstream's layout), the
transpose of torch's, so torch gets ``weight.T`` and returns gradients we compare transposed.
"""

from __future__ import annotations

import numpy as np
import pytest
from oracle_helpers import assert_matches_torch, import_torch

from tinytorch.core.layers import Dropout, Flatten, Identity, Linear, Sequential
from tinytorch.core.tensor import Tensor
from tinytorch.nn import functional as F  # noqa: N812  (the PyTorch habit)

torch = import_torch()


def linear_with(weight: Tensor, bias: Tensor | None) -> Linear:
    layer = Linear(weight.shape[0], weight.shape[1], bias=bias is not None)
    layer.weight, layer.bias = weight, bias
    return layer


@pytest.mark.parametrize("x_shape", [(5, 3), (2, 4, 3), (3,)])
def test_linear_matches_torch_linear_with_transposed_weight(x_shape: tuple[int, ...]) -> None:
    reference = torch.nn.Linear(3, 4)

    def torch_fn(x, w, b):  # run torch.nn.Linear itself, with our weight transposed in
        return torch.func.functional_call(reference, {"weight": w.T, "bias": b}, (x,))

    assert_matches_torch(lambda x, w, b: linear_with(w, b)(x), [x_shape, (3, 4), (4,)],
                         torch_fn=torch_fn)


def test_linear_without_bias_matches_torch() -> None:
    assert_matches_torch(lambda x, w: linear_with(w, None)(x), [(6, 2), (2, 5)],
                         torch_fn=lambda x, w: torch.nn.functional.linear(x, w.T))


def test_functional_linear_matches_torch() -> None:
    assert_matches_torch(F.linear, [(4, 3), (3, 2), (2,)],
                         torch_fn=lambda x, w, b: torch.nn.functional.linear(x, w.T, b))


def test_linear_module_parameters_copied_into_torch_give_same_gradients() -> None:
    rng = np.random.default_rng(0)
    ours = Linear(6, 3)
    theirs = torch.nn.Linear(6, 3)
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(ours.weight.data.T))
        theirs.bias.copy_(torch.tensor(rng.normal(size=3).astype(np.float32)))
    ours.bias.data[...] = theirs.bias.detach().numpy()
    x = rng.normal(size=(8, 6)).astype(np.float32)
    upstream = rng.normal(size=(8, 3)).astype(np.float32)
    out = ours(Tensor(x))
    expected = theirs(torch.tensor(x))
    np.testing.assert_allclose(out.data, expected.detach().numpy(), atol=1e-5, rtol=1e-5)
    out.backward(upstream)
    expected.backward(torch.tensor(upstream))
    np.testing.assert_allclose(ours.weight.grad.data, theirs.weight.grad.numpy().T, atol=1e-5)
    np.testing.assert_allclose(ours.bias.grad.data, theirs.bias.grad.numpy(), atol=1e-5)


def test_mlp_matches_torch_end_to_end() -> None:
    from tinytorch.core.activations import GELU, ReLU

    ours = Sequential(Linear(5, 7), ReLU(), Linear(7, 4), GELU("none"), Linear(4, 2))
    theirs = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.ReLU(), torch.nn.Linear(7, 4),
                                 torch.nn.GELU(), torch.nn.Linear(4, 2))
    with torch.no_grad():
        for mine, other in zip([ours[0], ours[2], ours[4]], [theirs[0], theirs[2], theirs[4]],
                               strict=True):
            other.weight.copy_(torch.tensor(mine.weight.data.T))
            mine.bias.data[...] = other.bias.numpy()
    x = np.random.default_rng(1).normal(size=(10, 5)).astype(np.float32)
    ours_loss = (ours(Tensor(x)) ** 2).sum()
    theirs_loss = (theirs(torch.tensor(x)) ** 2).sum()
    assert ours_loss.item() == pytest.approx(theirs_loss.item(), rel=1e-5)
    ours_loss.backward()
    theirs_loss.backward()
    for mine, other in zip([ours[0], ours[2], ours[4]], [theirs[0], theirs[2], theirs[4]],
                           strict=True):
        np.testing.assert_allclose(mine.weight.grad.data, other.weight.grad.numpy().T,
                                   atol=1e-5, rtol=1e-4)
        np.testing.assert_allclose(mine.bias.grad.data, other.bias.grad.numpy(),
                                   atol=1e-5, rtol=1e-4)


def test_dropout_with_p_zero_matches_torch_identity() -> None:
    assert_matches_torch(lambda x: Dropout(0.0)(x), [(4, 5)],
                         torch_fn=lambda x: torch.nn.functional.dropout(x, 0.0, training=True))


def test_dropout_in_eval_mode_matches_torch_eval() -> None:
    ours, theirs = Dropout(0.7).eval(), torch.nn.Dropout(0.7).eval()
    assert_matches_torch(lambda x: ours(x), [(3, 6)], torch_fn=lambda x: theirs(x))
    assert_matches_torch(lambda x: F.dropout(x, 0.7, training=False), [(3, 6)],
                         torch_fn=lambda x: torch.nn.functional.dropout(x, 0.7, training=False))


@pytest.mark.parametrize("start, end", [(1, -1), (0, -1), (1, 2), (2, 3)])
def test_flatten_matches_torch(start: int, end: int) -> None:
    assert_matches_torch(lambda x: Flatten(start, end)(x), [(2, 3, 4, 5)],
                         torch_fn=lambda x: torch.nn.Flatten(start, end)(x))


def test_functional_flatten_and_identity_match_torch() -> None:
    assert_matches_torch(F.flatten, [(2, 3, 4)], torch_fn=lambda x: torch.flatten(x, 1))
    assert_matches_torch(lambda x: Identity()(x) * 1.0, [(2, 3)],
                         torch_fn=lambda x: torch.nn.Identity()(x) * 1.0)
