# ruff: noqa: N806, B007  (written as the PyTorch quickstart writes it)
"""The PyTorch quickstart, on synthetic 8x8 "images" of 10 classes (no download needed)."""

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def make_data(n, seed):
    rng = np.random.default_rng(seed)
    centers = np.random.default_rng(99).normal(size=(10, 8, 8)).astype(np.float32)
    labels = rng.integers(0, 10, size=n)
    images = centers[labels] + 0.8 * rng.normal(size=(n, 8, 8)).astype(np.float32)
    return TensorDataset(torch.from_numpy(images), torch.from_numpy(labels))


class NeuralNetwork(nn.Module):
    def __init__(self):
        super().__init__()
        self.flatten = nn.Flatten()
        self.linear_relu_stack = nn.Sequential(
            nn.Linear(8 * 8, 128),
            nn.ReLU(),
            nn.Linear(128, 128),
            nn.ReLU(),
            nn.Linear(128, 10),
        )

    def forward(self, x):
        x = self.flatten(x)
        logits = self.linear_relu_stack(x)
        return logits


def train(dataloader, model, loss_fn, optimizer):
    model.train()
    losses = []
    for batch, (X, y) in enumerate(dataloader):
        pred = model(X)
        loss = loss_fn(pred, y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    return losses


def test(dataloader, model, loss_fn):
    size = len(dataloader.dataset)
    num_batches = len(dataloader)
    model.eval()
    test_loss, correct = 0, 0
    with torch.no_grad():
        for X, y in dataloader:
            pred = model(X)
            test_loss += loss_fn(pred, y).item()
            correct += (pred.argmax(1) == y).type(torch.float).sum().item()
    return test_loss / num_batches, correct / size


def build(seed=0):
    torch.manual_seed(seed)
    model = NeuralNetwork().to("cpu")
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    return model, loss_fn, optimizer


def main(epochs=3, shuffle=True):
    model, loss_fn, optimizer = build()
    train_loader = DataLoader(make_data(1024, 0), batch_size=64, shuffle=shuffle)
    test_loader = DataLoader(make_data(256, 1), batch_size=64)
    for _ in range(epochs):
        train(train_loader, model, loss_fn, optimizer)
    return test(test_loader, model, loss_fn)
