"""Scenario: XOR, the problem a single layer cannot solve (Minsky and Papert, 1969).

A hidden layer with a nonlinearity must learn all four cases exactly; a purely linear model
must fail on at least one of them, which shows the hidden layer is what does the work.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from oracle_helpers import import_torch

from tinytorch.core.activations import Sigmoid, Tanh
from tinytorch.core.autograd import no_grad
from tinytorch.core.dataloader import DataLoader, TensorDataset
from tinytorch.core.layers import Linear, Sequential
from tinytorch.core.losses import BinaryCrossEntropyLoss, MSELoss
from tinytorch.core.optimizers import SGD, Adam
from tinytorch.core.tensor import Tensor
from tinytorch.core.training import Trainer

X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
Y = np.array([[0], [1], [1], [0]], dtype=np.float32)


def predictions(model: Any) -> np.ndarray:
    """Class 0/1 for each of the four XOR inputs."""
    with no_grad():
        return (Sigmoid()(model(Tensor(X))).data > 0.5).astype(np.float32)


def train_full_batch(model: Any, optimizer: Any, steps: int) -> list[float]:
    """Plain loop: forward all four points, BCE on the sigmoid output, step."""
    loss_fn = BinaryCrossEntropyLoss()
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = loss_fn(Sigmoid()(model(Tensor(X))), Tensor(Y))
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def test_quick_xor_mlp_learns_all_four_cases() -> None:
    model = Sequential(Linear(2, 8), Tanh(), Linear(8, 1))
    losses = train_full_batch(model, Adam(model.parameters(), lr=0.05), steps=300)
    np.testing.assert_array_equal(predictions(model), Y)
    assert losses[-1] < 0.05, f"final loss {losses[-1]:.4f}"
    assert losses[-1] < losses[0] / 10


def test_quick_linear_model_cannot_solve_xor() -> None:
    model = Linear(2, 1)  # no hidden layer: the decision boundary is a straight line
    train_full_batch(model, Adam(model.parameters(), lr=0.05), steps=300)
    correct = int((predictions(model) == Y).sum())
    assert correct <= 3  # no line separates {01, 10} from {00, 11}


def test_xor_with_plain_sgd_and_mse_learns_too() -> None:
    # The 1986 recipe: sigmoid units, squared error, gradient descent with momentum.
    model = Sequential(Linear(2, 4), Sigmoid(), Linear(4, 1), Sigmoid())
    optimizer = SGD(model.parameters(), lr=0.5, momentum=0.9)
    for _ in range(1000):
        optimizer.zero_grad()
        loss = MSELoss()(model(Tensor(X)), Tensor(Y))
        loss.backward()
        optimizer.step()
    with no_grad():
        out = model(Tensor(X)).data
    np.testing.assert_array_equal((out > 0.5).astype(np.float32), Y)
    assert loss.item() < 0.02


def test_xor_through_dataloader_and_trainer() -> None:
    model = Sequential(Linear(2, 8), Tanh(), Linear(8, 2))  # two logits, cross-entropy
    labels = Y[:, 0].astype(np.int64)
    data = DataLoader(TensorDataset(Tensor(X), Tensor(labels, dtype=np.int64)), batch_size=4,
                      shuffle=True, seed=0)
    trainer = Trainer(model, Adam(model.parameters(), lr=0.05))  # default loss: cross-entropy
    for _ in range(150):
        trainer.train_epoch(data)
    loss, accuracy = trainer.evaluate(data)
    assert accuracy == 1.0
    assert loss < 0.05


@pytest.mark.oracle
def test_xor_training_trajectory_matches_torch() -> None:
    # Ten SGD steps in both frameworks from the same weights end at the same weights.
    torch = import_torch()
    model = Sequential(Linear(2, 3), Tanh(), Linear(3, 1))
    first, second = model.layers[0], model.layers[2]
    weights = [torch.tensor(a.copy(), requires_grad=True) for a in
               (first.weight.data, first.bias.data, second.weight.data, second.bias.data)]
    optimizer = SGD(model.parameters(), lr=0.5, momentum=0.9)
    torch_optimizer = torch.optim.SGD(weights, lr=0.5, momentum=0.9)
    losses, torch_losses = [], []
    for _ in range(10):
        optimizer.zero_grad()
        loss = BinaryCrossEntropyLoss()(Sigmoid()(model(Tensor(X))), Tensor(Y))
        loss.backward()
        optimizer.step()
        losses.append(loss.item())

        torch_optimizer.zero_grad()
        w1, b1, w2, b2 = weights
        prob = torch.sigmoid(torch.tanh(torch.tensor(X) @ w1 + b1) @ w2 + b2)
        torch_loss = torch.nn.functional.binary_cross_entropy(prob, torch.tensor(Y))
        torch_loss.backward()
        torch_optimizer.step()
        torch_losses.append(torch_loss.item())
    np.testing.assert_allclose(losses, torch_losses, rtol=1e-4, atol=1e-6)
    for ours, theirs in zip(model.parameters(), weights, strict=True):
        np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=1e-4, atol=1e-5)
