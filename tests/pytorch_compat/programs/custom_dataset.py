"""A custom map-style Dataset of dicts, a DataLoader with default collation, random_split."""

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, Subset, random_split


class Points(Dataset):
    """2-D points inside (label 1) or outside (label 0) a circle, with a per-sample weight."""

    def __init__(self, n, seed=0):
        rng = np.random.default_rng(seed)
        self.xy = rng.uniform(-1, 1, size=(n, 2)).astype(np.float32)
        self.labels = (np.sum(self.xy ** 2, axis=1) < 0.5).astype(np.int64)

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, idx):
        x, y = self.xy[idx], int(self.labels[idx])
        return {"features": torch.from_numpy(x), "label": y, "weight": 1.0 + 0.5 * y,
                "meta": (idx, np.float32(x[0]))}


class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(2, 32), nn.Tanh(), nn.Linear(32, 2))

    def forward(self, x):
        return self.net(x)


def loaders(seed=0):
    data = Points(600)
    train_set, val_set = random_split(data, [500, 100])
    return (DataLoader(train_set, batch_size=50, shuffle=True),
            DataLoader(val_set, batch_size=100), data)


def train(epochs=40, seed=0):
    torch.manual_seed(seed)
    train_loader, val_loader, _ = loaders()
    model = Classifier()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.03)
    loss_fn = nn.CrossEntropyLoss(reduction="none")
    for _ in range(epochs):
        for batch in train_loader:
            logits = model(batch["features"])
            loss = (loss_fn(logits, batch["label"]) * batch["weight"]).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    model.eval()
    with torch.no_grad():
        batch = next(iter(val_loader))
        accuracy = (model(batch["features"]).argmax(dim=1) == batch["label"]).float().mean()
    return accuracy.item()


def first_batch(indices):
    loader = DataLoader(Subset(Points(600), indices), batch_size=len(indices))
    return next(iter(loader))
