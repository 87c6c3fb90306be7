"""Critical: gradients cross every boundary of modules 01-08 intact.

The pattern for each model: the gradients exist, are non-zero, reach every layer, have the
values PyTorch (or central differences) gives for the same weights, and training with them
lowers the loss. A missing gradient fails with the name of the layer where the chain broke.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest
from oracle_helpers import import_torch

from tinytorch.core.activations import GELU, LeakyReLU, ReLU, Sigmoid, SiLU, Tanh
from tinytorch.core.autograd import Function, gradcheck, no_grad
from tinytorch.core.layers import Dropout, Linear, Module, Sequential
from tinytorch.core.losses import BinaryCrossEntropyLoss, CrossEntropyLoss, MSELoss
from tinytorch.core.optimizers import SGD, Adam
from tinytorch.core.tensor import Parameter, Tensor
from tinytorch.core.training import clip_grad_norm

ATOL, RTOL = 1e-5, 1e-4  # float32 through a few layers


def torch_activation(activation: Any, torch: Any) -> Callable[[Any], Any]:
    """The torch function computing the same thing as one of our activation objects."""
    functional = torch.nn.functional
    table: dict[type, Callable[[Any], Any]] = {
        ReLU: torch.relu,
        Sigmoid: torch.sigmoid,
        Tanh: torch.tanh,
        SiLU: functional.silu,
        LeakyReLU: lambda x: functional.leaky_relu(x, activation.negative_slope),
        GELU: lambda x: functional.gelu(x, approximate=activation.approximate),
    }
    return table[type(activation)]


def torch_linear(layer: Linear, torch: Any) -> Any:
    """A torch.nn.Linear holding the same numbers (torch stores the weight as (out, in))."""
    twin = torch.nn.Linear(layer.in_features, layer.out_features, bias=layer.bias is not None)
    with torch.no_grad():
        twin.weight.copy_(torch.from_numpy(layer.weight.data.T.copy()))
        if layer.bias is not None:
            twin.bias.copy_(torch.from_numpy(layer.bias.data.copy()))
    return twin


def assert_layer_grads_match(layers: Sequence[Linear], twins: Sequence[Any]) -> None:
    """Every weight and bias gradient is present, non-zero and equal to its torch twin's."""
    for i, (layer, twin) in enumerate(zip(layers, twins, strict=True)):
        assert layer.weight.grad is not None, f"layer {i}: weight has no gradient"
        assert layer.bias.grad is not None, f"layer {i}: bias has no gradient"
        assert np.abs(layer.weight.grad.data).sum() > 0, f"layer {i}: weight gradient is zero"
        assert np.abs(layer.bias.grad.data).sum() > 0, f"layer {i}: bias gradient is zero"
        np.testing.assert_allclose(layer.weight.grad.data, twin.weight.grad.numpy().T,
                                   atol=ATOL, rtol=RTOL, err_msg=f"layer {i} weight gradient")
        np.testing.assert_allclose(layer.bias.grad.data, twin.bias.grad.numpy(),
                                   atol=ATOL, rtol=RTOL, err_msg=f"layer {i} bias gradient")


def assert_mse_gradients_match(model: Any, layers: Sequence[Linear], twins: Sequence[Any],
                               twin_forward: Any, x_np: np.ndarray, y_np: np.ndarray,
                               torch: Any) -> None:
    """MSE backward through ``model`` and its torch twin: layer and input gradients agree.

    ``twin_forward`` is the same network written with the ``twins`` in torch.
    """
    x = Tensor(x_np, requires_grad=True)
    MSELoss()(model(x), Tensor(y_np)).backward()
    tx = torch.tensor(x_np, requires_grad=True)
    torch.nn.functional.mse_loss(twin_forward(tx), torch.tensor(y_np)).backward()
    assert_layer_grads_match(layers, twins)
    np.testing.assert_allclose(x.grad.data, tx.grad.numpy(), atol=ATOL, rtol=RTOL)


def mlp(sizes: Sequence[int], activation: Any) -> tuple[list[Linear], Sequential]:
    """Linear layers of the given widths with ``activation`` between them (none at the end)."""
    layers = [Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:], strict=False)]
    parts: list[Any] = []
    for i, layer in enumerate(layers):
        parts.append(layer)
        if i < len(layers) - 1:
            parts.append(activation)
    return layers, Sequential(*parts)


# --- the seed's pattern: gradients reach every layer ------------------------------------------

def test_quick_gradients_reach_all_five_layers_of_relu_mlp(rng: np.random.Generator) -> None:
    layers = [Linear(4, 4) for _ in range(5)]
    x = Tensor(rng.standard_normal((3, 4)), requires_grad=True)
    target = Tensor(rng.standard_normal((3, 4)))
    h = x
    for layer in layers:
        h = ReLU()(layer(h)) if layer is not layers[-1] else layer(h)
    loss = MSELoss()(h, target)
    loss.backward()
    for i, layer in enumerate(layers):
        assert layer.weight.grad is not None, f"layer {i} has no weight gradient"
        assert layer.weight.grad.shape == (4, 4), f"layer {i} weight gradient has wrong shape"
        assert np.abs(layer.weight.grad.data).sum() > 0, f"layer {i} weight gradient is zero"
        assert np.all(np.isfinite(layer.weight.grad.data)), f"layer {i} gradient not finite"
    assert x.grad is not None and x.grad.shape == (3, 4)


@pytest.mark.oracle
@pytest.mark.parametrize("depth", [1, 3, 6])
@pytest.mark.parametrize("activation", [ReLU(), Sigmoid(), Tanh(), GELU(), LeakyReLU(0.1), SiLU()],
                         ids=lambda a: type(a).__name__)
def test_mlp_gradients_match_torch(depth: int, activation: Any,
                                   rng: np.random.Generator) -> None:
    torch = import_torch()
    sizes = [5] + [7] * (depth - 1) + [3]
    layers, model = mlp(sizes, activation)
    twins = [torch_linear(layer, torch) for layer in layers]
    act = torch_activation(activation, torch)
    x_np = rng.standard_normal((4, 5)).astype(np.float32)
    y_np = rng.standard_normal((4, 3)).astype(np.float32)

    def twin_forward(h: Any) -> Any:
        for i, twin in enumerate(twins):
            h = twin(h)
            if i < len(twins) - 1:
                h = act(h)
        return h

    assert_mse_gradients_match(model, layers, twins, twin_forward, x_np, y_np, torch)


@pytest.mark.oracle
def test_quick_cross_entropy_gradients_through_mlp_match_torch(rng: np.random.Generator) -> None:
    torch = import_torch()
    layers, model = mlp([6, 8, 8, 4], ReLU())
    twins = [torch_linear(layer, torch) for layer in layers]
    x_np = rng.standard_normal((5, 6)).astype(np.float32)
    labels = np.array([0, 3, 1, 1, 2])

    CrossEntropyLoss()(model(Tensor(x_np)), Tensor(labels, dtype=np.int64)).backward()
    logits = twins[2](torch.relu(twins[1](torch.relu(twins[0](torch.tensor(x_np))))))
    torch.nn.functional.cross_entropy(logits, torch.tensor(labels)).backward()
    assert_layer_grads_match(layers, twins)


@pytest.mark.oracle
def test_binary_cross_entropy_after_sigmoid_matches_torch(rng: np.random.Generator) -> None:
    torch = import_torch()
    layers, model = mlp([3, 6, 1], Tanh())
    twins = [torch_linear(layer, torch) for layer in layers]
    x_np = rng.standard_normal((8, 3)).astype(np.float32)
    y_np = rng.integers(0, 2, size=(8, 1)).astype(np.float32)

    BinaryCrossEntropyLoss()(Sigmoid()(model(Tensor(x_np))), Tensor(y_np)).backward()
    prob = torch.sigmoid(twins[1](torch.tanh(twins[0](torch.tensor(x_np)))))
    torch.nn.functional.binary_cross_entropy(prob, torch.tensor(y_np)).backward()
    assert_layer_grads_match(layers, twins)


# --- graphs that are not a chain ---------------------------------------------------------------

class ResidualMLP(Module):
    """x -> x + f(x) blocks: the skip path and the layer path meet at every addition."""

    def __init__(self, width: int, blocks: int) -> None:
        super().__init__()
        self.blocks = [Linear(width, width) for _ in range(blocks)]
        self.head = Linear(width, 2)

    def forward(self, x: Tensor) -> Tensor:
        for block in self.blocks:
            x = x + block(x).tanh()
        return self.head(x)


@pytest.mark.oracle
def test_quick_residual_gradients_sum_both_paths_like_torch(rng: np.random.Generator) -> None:
    torch = import_torch()
    model = ResidualMLP(width=5, blocks=4)
    layers = [*model.blocks, model.head]
    twins = [torch_linear(layer, torch) for layer in layers]
    x_np = rng.standard_normal((3, 5)).astype(np.float32)
    y_np = rng.standard_normal((3, 2)).astype(np.float32)

    def twin_forward(h: Any) -> Any:
        for twin in twins[:-1]:
            h = h + torch.tanh(twin(h))
        return twins[-1](h)

    assert_mse_gradients_match(model, layers, twins, twin_forward, x_np, y_np, torch)


@pytest.mark.oracle
def test_shared_layer_used_twice_gets_both_contributions(rng: np.random.Generator) -> None:
    torch = import_torch()
    shared, head = Linear(4, 4), Linear(4, 1)
    twin_shared, twin_head = torch_linear(shared, torch), torch_linear(head, torch)
    x_np = rng.standard_normal((6, 4)).astype(np.float32)
    y_np = rng.standard_normal((6, 1)).astype(np.float32)

    out = head(shared(shared(Tensor(x_np)).relu()))  # the same weights applied twice
    MSELoss()(out, Tensor(y_np)).backward()
    t_out = twin_head(twin_shared(torch.relu(twin_shared(torch.tensor(x_np)))))
    torch.nn.functional.mse_loss(t_out, torch.tensor(y_np)).backward()

    assert_layer_grads_match([shared, head], [twin_shared, twin_head])


def test_shared_weight_graph_passes_finite_difference_check(rng: np.random.Generator) -> None:
    # Weights passed as inputs, so gradcheck perturbs them: a lost contribution of either use
    # of w (or of the skip path) shows up as a numerical mismatch.
    def model(x: Tensor, w: Tensor, b: Tensor) -> Tensor:
        h = (x @ w + b).tanh()
        h = h + (h @ w + b).sigmoid()
        return (h * h).mean()

    inputs = [Tensor(rng.standard_normal((3, 4)), requires_grad=True),
              Tensor(rng.standard_normal((4, 4)) * 0.5, requires_grad=True),
              Tensor(rng.standard_normal(4) * 0.1, requires_grad=True)]
    assert gradcheck(model, inputs, eps=1e-6, atol=1e-6, rtol=1e-4)


def test_quick_tied_parameters_are_counted_once_and_get_one_gradient() -> None:
    class Tied(Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = Linear(3, 3)
            self.decoder = Linear(3, 3)
            self.decoder.weight = self.encoder.weight  # tying: one Parameter, two places

        def forward(self, x: Tensor) -> Tensor:
            return self.decoder(self.encoder(x).relu())

    model = Tied()
    x = Tensor(np.arange(6, dtype=np.float32).reshape(2, 3) / 6)
    model(x).sum().backward()
    names = [name for name, _ in model.named_parameters()]
    assert names == ["encoder.weight", "encoder.bias", "decoder.bias"]
    w = model.encoder.weight.data
    h = np.maximum(x.data @ w + model.encoder.bias.data, 0)
    upstream_h = np.ones((2, 3), dtype=np.float32) @ w.T * (h > 0)
    expected = h.T @ np.ones((2, 3)) + x.data.T @ upstream_h  # decoder use + encoder use
    np.testing.assert_allclose(model.encoder.weight.grad.data, expected, rtol=1e-5, atol=1e-6)


# --- reading gradients without an optimizer ---------------------------------------------------

def test_quick_weight_grad_is_readable_directly_without_optimizer() -> None:
    layer = Linear(2, 1)
    assert isinstance(layer.weight, Parameter) and layer.weight.requires_grad
    assert layer.bias.requires_grad
    x = Tensor([[1.0, 2.0], [3.0, -1.0]])
    layer(x).sum().backward()
    # d(sum(x @ W + b))/dW = column sums of x; d/db = batch size
    np.testing.assert_allclose(layer.weight.grad.data, [[4.0], [1.0]])
    np.testing.assert_allclose(layer.bias.grad.data, [2.0])
    np.testing.assert_allclose(np.asarray(layer.weights.grad), [[4.0], [1.0]])  # upstream name


def test_gradient_accumulates_across_batches_until_zero_grad(rng: np.random.Generator) -> None:
    _, model = mlp([3, 5, 2], Tanh())
    loss_fn = MSELoss()
    x = rng.standard_normal((8, 3)).astype(np.float32)
    y = rng.standard_normal((8, 2)).astype(np.float32)

    loss_fn(model(Tensor(x)), Tensor(y)).backward()
    full = [p.grad.data.copy() for p in model.parameters()]
    model.zero_grad()
    assert all(p.grad is None or not np.any(p.grad.data) for p in model.parameters())

    for part in (slice(0, 4), slice(4, 8)):  # two half batches, no zero_grad in between
        loss_fn(model(Tensor(x[part])), Tensor(y[part])).backward()
    for p, g in zip(model.parameters(), full, strict=True):
        # mean over 8 = (mean over first 4 + mean over last 4) / 2
        np.testing.assert_allclose(p.grad.data / 2, g, atol=1e-6, rtol=1e-5)


def test_quick_zero_grad_between_steps_keeps_gradients_fresh(rng: np.random.Generator) -> None:
    layer = Linear(3, 1)
    x = Tensor(rng.standard_normal((4, 3)))
    layer(x).sum().backward()
    first = layer.weight.grad.data.copy()
    layer.zero_grad()
    layer(x).sum().backward()
    np.testing.assert_allclose(layer.weight.grad.data, first)  # not doubled


# --- boundaries with autograd, dropout and grad mode -----------------------------------------

class Cube(Function):
    """A user-written op placed between two layers: y = x ** 3."""

    @staticmethod
    def forward(ctx: Any, x: np.ndarray) -> np.ndarray:
        ctx.save_for_backward(x)
        return x ** 3

    @staticmethod
    def backward(ctx: Any, grad: np.ndarray) -> np.ndarray:
        (x,) = ctx.saved_tensors
        return grad * 3 * x ** 2


@pytest.mark.oracle
def test_custom_function_between_layers_passes_gradients_on(rng: np.random.Generator) -> None:
    torch = import_torch()
    first, second = Linear(3, 4), Linear(4, 2)
    twins = [torch_linear(first, torch), torch_linear(second, torch)]
    x_np = rng.standard_normal((5, 3)).astype(np.float32)
    second(Cube.apply(first(Tensor(x_np)))).sum().backward()
    twins[1](twins[0](torch.tensor(x_np)) ** 3).sum().backward()
    assert_layer_grads_match([first, second], twins)


def test_dropout_gradient_is_zero_exactly_where_units_were_dropped() -> None:
    layer = Linear(4, 200)
    dropout = Dropout(p=0.5)
    x = Tensor(np.ones((1, 4), dtype=np.float32))
    h = layer(x)
    dropout(h).sum().backward()
    # d(sum(dropout(h)))/dbias is the dropout mask scaled by 1 / (1 - p) = 2
    bias_grad = layer.bias.grad.data
    assert set(np.unique(bias_grad).tolist()) == {0.0, 2.0}
    assert 40 < int((bias_grad == 0).sum()) < 160  # about half of 200 dropped

    layer.zero_grad()
    dropout.eval()
    dropout(layer(x)).sum().backward()
    np.testing.assert_array_equal(layer.bias.grad.data, np.ones(200, dtype=np.float32))


def test_detach_stops_gradients_before_the_cut(rng: np.random.Generator) -> None:
    frozen, trained = Linear(3, 3), Linear(3, 1)
    x = Tensor(rng.standard_normal((2, 3)))
    trained(frozen(x).detach()).sum().backward()
    assert frozen.weight.grad is None and frozen.bias.grad is None
    assert np.abs(trained.weight.grad.data).sum() > 0


def test_no_grad_forward_records_nothing_for_any_layer(rng: np.random.Generator) -> None:
    _, model = mlp([3, 4, 2], ReLU())
    with no_grad():
        out = model(Tensor(rng.standard_normal((2, 3))))
    assert out.grad_fn is None and not out.requires_grad
    assert all(p.grad is None for p in model.parameters())


# --- gradients are used: optimizers and clipping ----------------------------------------------

def test_quick_sgd_step_moves_every_parameter_by_lr_times_grad(rng: np.random.Generator) -> None:
    _, model = mlp([3, 4, 2], Sigmoid())
    params = model.parameters()
    before = [p.data.copy() for p in params]
    loss = MSELoss()(model(Tensor(rng.standard_normal((5, 3)))),
                     Tensor(rng.standard_normal((5, 2))))
    loss.backward()
    grads = [p.grad.data.copy() for p in params]
    SGD(params, lr=0.1).step()
    for i, (p, b, g) in enumerate(zip(params, before, grads, strict=True)):
        assert np.abs(g).sum() > 0, f"parameter {i} got no gradient"
        np.testing.assert_allclose(p.data, b - 0.1 * g, atol=1e-7, rtol=1e-6)


@pytest.mark.parametrize("make_optimizer", [
    lambda params: SGD(params, lr=0.1, momentum=0.9),
    lambda params: Adam(params, lr=0.01),
], ids=["sgd_momentum", "adam"])
def test_training_lowers_the_loss(make_optimizer: Callable[[list[Parameter]], Any],
                                  rng: np.random.Generator) -> None:
    _, model = mlp([2, 16, 16, 1], Tanh())
    x = rng.uniform(-1, 1, size=(64, 2)).astype(np.float32)
    y = (np.sin(2 * x[:, :1]) * x[:, 1:]).astype(np.float32)  # a smooth nonlinear target
    optimizer = make_optimizer(model.parameters())
    losses = []
    for _ in range(150):
        optimizer.zero_grad()
        loss = MSELoss()(model(Tensor(x)), Tensor(y))
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.2 * losses[0], f"loss went {losses[0]:.4f} -> {losses[-1]:.4f}"


def test_clip_grad_norm_rescales_every_layers_gradient(rng: np.random.Generator) -> None:
    _, model = mlp([4, 8, 3], ReLU())
    loss = (model(Tensor(rng.standard_normal((6, 4)) * 10)) ** 2).sum()
    loss.backward()
    params = model.parameters()
    before = [p.grad.data.copy() for p in params]
    total = float(np.sqrt(sum((g.astype(np.float64) ** 2).sum() for g in before)))
    assert total > 1.0  # otherwise the test would not clip
    returned = clip_grad_norm(params, max_norm=1.0)
    np.testing.assert_allclose(returned, total, rtol=1e-5)
    after = float(np.sqrt(sum((p.grad.data.astype(np.float64) ** 2).sum() for p in params)))
    np.testing.assert_allclose(after, 1.0, rtol=1e-5)
    for p, g in zip(params, before, strict=True):  # same direction in every layer
        np.testing.assert_allclose(p.grad.data, g / total, rtol=1e-4, atol=1e-7)
