# ruff: noqa: N806, N812  (written as PyTorch tutorials write it: X, F)
"""A small CNN with BatchNorm, trained with SGD + momentum and a StepLR schedule.

The task: 12x12 noisy images holding one bar, horizontal (class 0) or vertical (class 1).
"""

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.optim.lr_scheduler import StepLR
from torch.utils.data import DataLoader, TensorDataset


def bar_images(count, seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, size=count)
    images = rng.normal(scale=0.3, size=(count, 1, 12, 12)).astype(np.float32)
    along = rng.integers(0, 9, size=count)[:, None] + np.arange(4)
    across = rng.integers(0, 12, size=count)[:, None]
    rows = np.where(labels[:, None] == 0, across, along)
    cols = np.where(labels[:, None] == 0, along, across)
    images[np.arange(count)[:, None], 0, rows, cols] += 1.0
    return TensorDataset(torch.tensor(images), torch.tensor(labels))


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(16)
        self.pool = nn.MaxPool2d(2)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(16, 2)

    def forward(self, x):
        x = self.pool(F.relu(self.bn1(self.conv1(x))))
        x = self.pool(F.relu(self.bn2(self.conv2(x))))
        x = torch.flatten(self.gap(x), 1)
        return self.fc(x)


def build(seed=0):
    torch.manual_seed(seed)
    model = Net()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)
    scheduler = StepLR(optimizer, step_size=2, gamma=0.5)
    return model, optimizer, scheduler


def train_epoch(model, loader, optimizer):
    model.train()
    losses = []
    for X, y in loader:
        optimizer.zero_grad()
        loss = F.cross_entropy(model(X), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def evaluate(model, loader):
    model.eval()
    correct = 0
    with torch.no_grad():
        for X, y in loader:
            _, predicted = torch.max(model(X), 1)
            correct += (predicted == y).sum().item()
    return correct / len(loader.dataset)


def main(epochs=5):
    model, optimizer, scheduler = build()
    train_loader = DataLoader(bar_images(512, 0), batch_size=32, shuffle=True)
    test_loader = DataLoader(bar_images(256, 1), batch_size=128)
    rates = []
    for _ in range(epochs):
        train_epoch(model, train_loader, optimizer)
        rates.append(scheduler.get_last_lr()[0])
        scheduler.step()
    return evaluate(model, test_loader), rates
