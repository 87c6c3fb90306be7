"""Critical: the CNN stack (module 09) joined to layers, losses and optimizers.

conv -> activation -> pool -> flatten -> linear -> loss: the gradients that reach the input,
every filter and every bias equal PyTorch's for the same weights, and a small CNN learns to tell
images apart.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from oracle_helpers import import_torch

from tinytorch.core.activations import ReLU, Tanh
from tinytorch.core.autograd import gradcheck, no_grad
from tinytorch.core.layers import Flatten, Linear, Module, Sequential
from tinytorch.core.losses import CrossEntropyLoss
from tinytorch.core.optimizers import Adam
from tinytorch.core.spatial import (
    AvgPool2d,
    BatchNorm2d,
    Conv2d,
    MaxPool2d,
    avg_pool2d,
    conv2d,
    max_pool2d,
)
from tinytorch.core.tensor import Tensor

ATOL, RTOL = 1e-5, 1e-4


def torch_twin(layer: Any, torch: Any) -> Any:
    """The torch layer equal to one of ours (same numbers; Linear weight transposed)."""
    nn = torch.nn
    if isinstance(layer, Conv2d):
        padding = layer.padding if isinstance(layer.padding, str) else tuple(layer.padding)
        twin = nn.Conv2d(layer.in_channels, layer.out_channels, layer.kernel_size,
                         stride=layer.stride, padding=padding, bias=layer.bias is not None)
        with torch.no_grad():
            twin.weight.copy_(torch.from_numpy(layer.weight.data.copy()))
            if layer.bias is not None:
                twin.bias.copy_(torch.from_numpy(layer.bias.data.copy()))
        return twin
    if isinstance(layer, Linear):
        twin = nn.Linear(layer.in_features, layer.out_features)
        with torch.no_grad():
            twin.weight.copy_(torch.from_numpy(layer.weight.data.T.copy()))
            twin.bias.copy_(torch.from_numpy(layer.bias.data.copy()))
        return twin
    if isinstance(layer, BatchNorm2d):
        return nn.BatchNorm2d(layer.num_features, eps=layer.eps, momentum=layer.momentum)
    table: dict[type, Callable[[], Any]] = {
        ReLU: nn.ReLU, Tanh: nn.Tanh, Flatten: nn.Flatten,
        MaxPool2d: lambda: nn.MaxPool2d(layer.kernel_size, layer.stride, layer.padding),
        AvgPool2d: lambda: nn.AvgPool2d(layer.kernel_size, layer.stride, layer.padding),
    }
    return table[type(layer)]()


def compare_with_torch(layers: list[Any], input_shape: tuple[int, ...], num_classes: int,
                       rng: np.random.Generator) -> None:
    """Run the stack and its torch twin on one batch; every gradient must agree."""
    torch = import_torch()
    twins = [torch_twin(layer, torch) for layer in layers]
    x_np = rng.standard_normal(input_shape).astype(np.float32)
    labels = rng.integers(0, num_classes, size=input_shape[0])

    x = Tensor(x_np, requires_grad=True)
    logits = Sequential(*layers)(x)
    CrossEntropyLoss()(logits, Tensor(labels, dtype=np.int64)).backward()
    tx = torch.tensor(x_np, requires_grad=True)
    t_logits = torch.nn.Sequential(*twins)(tx)
    torch.nn.functional.cross_entropy(t_logits, torch.tensor(labels)).backward()

    np.testing.assert_allclose(logits.data, t_logits.detach().numpy(), atol=ATOL, rtol=RTOL)
    assert np.abs(x.grad.data).sum() > 0, "no gradient reached the input image"
    np.testing.assert_allclose(x.grad.data, tx.grad.numpy(), atol=ATOL, rtol=RTOL,
                               err_msg="input gradient")
    for i, (layer, twin) in enumerate(zip(layers, twins, strict=True)):
        if not hasattr(layer, "weight"):
            continue
        name = f"layer {i} ({type(layer).__name__})"
        ours_w, theirs_w = layer.weight.grad.data, twin.weight.grad.numpy()
        if isinstance(layer, Linear):
            theirs_w = theirs_w.T
        assert np.abs(ours_w).sum() > 0, f"{name}: weight gradient is zero"
        np.testing.assert_allclose(ours_w, theirs_w, atol=ATOL, rtol=RTOL,
                                   err_msg=f"{name} weight gradient")
        np.testing.assert_allclose(layer.bias.grad.data, twin.bias.grad.numpy(), atol=ATOL,
                                   rtol=RTOL, err_msg=f"{name} bias gradient")


@pytest.mark.oracle
def test_quick_conv_pool_flatten_linear_gradients_match_torch(rng: np.random.Generator) -> None:
    layers = [Conv2d(2, 4, kernel_size=3, padding=1), ReLU(), MaxPool2d(2), Flatten(),
              Linear(4 * 3 * 3, 5)]
    compare_with_torch(layers, (3, 2, 6, 6), num_classes=5, rng=rng)


@pytest.mark.oracle
@pytest.mark.parametrize("case", ["stride2_pad1", "same_5x5", "two_convs_avgpool",
                                  "rectangular_kernel", "overlapping_maxpool"])
def test_cnn_variants_gradients_match_torch(case: str, rng: np.random.Generator) -> None:
    if case == "stride2_pad1":
        layers = [Conv2d(3, 6, 3, stride=2, padding=1), Tanh(), Flatten(), Linear(6 * 4 * 4, 4)]
        shape = (2, 3, 7, 7)
    elif case == "same_5x5":
        layers = [Conv2d(1, 3, 5, padding="same"), ReLU(), MaxPool2d(2), Flatten(),
                  Linear(3 * 4 * 4, 3)]
        shape = (4, 1, 8, 8)
    elif case == "two_convs_avgpool":
        layers = [Conv2d(2, 4, 3, padding=1), ReLU(), Conv2d(4, 4, 3, padding=1), ReLU(),
                  AvgPool2d(2), Flatten(), Linear(4 * 3 * 3, 3)]
        shape = (2, 2, 6, 6)
    elif case == "rectangular_kernel":
        layers = [Conv2d(2, 3, (3, 2), stride=(1, 2)), ReLU(), Flatten(), Linear(3 * 4 * 3, 2)]
        shape = (3, 2, 6, 6)
    else:
        layers = [Conv2d(1, 2, 3), ReLU(), MaxPool2d(3, stride=1), Flatten(),
                  Linear(2 * 4 * 4, 3)]
        shape = (2, 1, 8, 8)
    compare_with_torch(layers, shape, num_classes=layers[-1].out_features, rng=rng)


@pytest.mark.oracle
def test_batchnorm_between_conv_and_linear_matches_torch(rng: np.random.Generator) -> None:
    torch = import_torch()
    conv, bn, head = Conv2d(2, 3, 3, padding=1), BatchNorm2d(3), Linear(3 * 4 * 4, 2)
    model = Sequential(conv, bn, ReLU(), MaxPool2d(2), Flatten(), head)
    t_conv, t_bn, t_head = (torch_twin(layer, torch) for layer in (conv, bn, head))
    t_model = torch.nn.Sequential(t_conv, t_bn, torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                                  torch.nn.Flatten(), t_head)
    x_np = rng.standard_normal((5, 2, 8, 8)).astype(np.float32) * 3 + 1
    labels = rng.integers(0, 2, size=5)

    CrossEntropyLoss()(model(Tensor(x_np)), Tensor(labels, dtype=np.int64)).backward()
    torch.nn.functional.cross_entropy(t_model(torch.tensor(x_np)),
                                      torch.tensor(labels)).backward()
    for ours, theirs in [(conv.weight, t_conv.weight), (conv.bias, t_conv.bias),
                         (bn.weight, t_bn.weight), (bn.bias, t_bn.bias)]:
        np.testing.assert_allclose(ours.grad.data, theirs.grad.numpy(), atol=ATOL, rtol=RTOL)
    np.testing.assert_allclose(head.weight.grad.data, t_head.weight.grad.numpy().T, atol=ATOL,
                               rtol=RTOL)
    np.testing.assert_allclose(bn.running_mean.data, t_bn.running_mean.numpy(), rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_allclose(bn.running_var.data, t_bn.running_var.numpy(), rtol=1e-5,
                               atol=1e-6)

    model.eval()
    t_model.eval()
    with no_grad():
        ours_eval = model(Tensor(x_np)).data
    np.testing.assert_allclose(ours_eval, t_model(torch.tensor(x_np)).detach().numpy(),
                               atol=ATOL, rtol=RTOL)


def test_quick_conv_and_pool_pass_finite_difference_check(rng: np.random.Generator) -> None:
    def net(x: Tensor, w: Tensor, b: Tensor) -> Tensor:
        h = conv2d(x, w, b, stride=1, padding=1).tanh()
        return avg_pool2d(h, 2) + max_pool2d(h, 2)

    inputs = [Tensor(rng.standard_normal((2, 2, 4, 4)), requires_grad=True),
              Tensor(rng.standard_normal((3, 2, 3, 3)) * 0.5, requires_grad=True),
              Tensor(rng.standard_normal(3) * 0.1, requires_grad=True)]
    assert gradcheck(net, inputs, eps=1e-6, atol=1e-6, rtol=1e-4)


def test_gradients_reach_every_conv_of_a_deep_stack(rng: np.random.Generator) -> None:
    convs = [Conv2d(1 if i == 0 else 4, 4, 3, padding=1) for i in range(5)]
    parts: list[Any] = []
    for conv in convs:
        parts += [conv, ReLU()]
    head = Linear(4 * 8 * 8, 3)
    model = Sequential(*parts, Flatten(), head)
    x = Tensor(rng.standard_normal((4, 1, 8, 8)), requires_grad=True)
    CrossEntropyLoss()(model(x), Tensor([0, 1, 2, 0], dtype=np.int64)).backward()
    for i, conv in enumerate(convs):
        assert conv.weight.grad is not None, f"conv {i} has no weight gradient"
        assert conv.weight.grad.shape == conv.weight.shape
        assert np.abs(conv.weight.grad.data).sum() > 0, f"conv {i} weight gradient is zero"
        assert np.abs(conv.bias.grad.data).sum() > 0, f"conv {i} bias gradient is zero"
    assert x.grad.shape == (4, 1, 8, 8) and np.abs(x.grad.data).sum() > 0


def bar_images(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """8x8 images of one horizontal (label 0) or vertical (label 1) bar at a random place."""
    labels = rng.integers(0, 2, size=n)
    where = rng.integers(0, 8, size=n)
    images = rng.normal(0, 0.1, size=(n, 1, 8, 8)).astype(np.float32)
    rows = np.arange(n)
    horizontal, vertical = labels == 0, labels == 1
    images[rows[horizontal], 0, where[horizontal], :] += 1.0
    images[rows[vertical], 0, :, where[vertical]] += 1.0
    return images, labels


class BarNet(Module):
    """conv -> relu -> pool -> flatten -> linear, as a custom Module."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = Conv2d(1, 4, 3, padding=1)
        self.pool = MaxPool2d(2)
        self.head = Linear(4 * 4 * 4, 2)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.pool(self.conv(x).relu()).flatten(1))


def test_quick_cnn_learns_horizontal_versus_vertical_bars(rng: np.random.Generator) -> None:
    x_train, y_train = bar_images(rng, 128)
    x_test, y_test = bar_images(rng, 64)
    model = BarNet()
    optimizer = Adam(model.parameters(), lr=0.02)
    loss_fn = CrossEntropyLoss()
    losses = []
    for _ in range(40):
        optimizer.zero_grad()
        loss = loss_fn(model(Tensor(x_train)), Tensor(y_train, dtype=np.int64))
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    with no_grad():
        predicted = model(Tensor(x_test)).data.argmax(axis=1)
    assert losses[-1] < 0.1 * losses[0], f"loss {losses[0]:.3f} -> {losses[-1]:.3f}"
    assert (predicted == y_test).mean() == 1.0
