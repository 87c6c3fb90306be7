"""Critical: the training loop of modules 05-08 holds together end to end.

DataLoader -> model -> loss -> optimizer -> scheduler -> checkpoint -> resume: the loss falls,
the schedule sets the rate of every epoch, train and eval modes switch where they should, and a
run stopped and resumed from a checkpoint ends exactly where the uninterrupted run ends.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from oracle_helpers import import_torch

from tinytorch.core import optimizers
from tinytorch.core.activations import ReLU, Tanh
from tinytorch.core.dataloader import DataLoader, TensorDataset
from tinytorch.core.errors import SerializationError
from tinytorch.core.layers import Dropout, Linear, Sequential
from tinytorch.core.losses import CrossEntropyLoss, MSELoss
from tinytorch.core.optimizers import SGD, Adam
from tinytorch.core.rng import manual_seed
from tinytorch.core.spatial import BatchNorm1d
from tinytorch.core.tensor import Tensor
from tinytorch.core.training import CosineSchedule, Trainer


def blobs(rng: np.random.Generator, n: int = 120) -> tuple[np.ndarray, np.ndarray]:
    """Three Gaussian clusters in 2-D, well apart: (n, 2) float32 points and (n,) labels."""
    centers = np.array([[-2.0, 0.0], [2.0, 0.0], [0.0, 2.5]])
    labels = rng.integers(0, 3, size=n)
    points = centers[labels] + rng.normal(0, 0.5, size=(n, 2))
    return points.astype(np.float32), labels


def classifier() -> Sequential:
    return Sequential(Linear(2, 16), ReLU(), Dropout(0.1), Linear(16, 3))


def test_quick_manual_loop_with_schedule_lowers_the_loss(rng: np.random.Generator) -> None:
    x, y = blobs(rng)
    loader = DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True)
    model = classifier()
    optimizer = Adam(model.parameters(), lr=0.05)
    schedule = CosineSchedule(max_lr=0.05, min_lr=0.005, total_epochs=5, optimizer=optimizer)
    loss_fn = CrossEntropyLoss()
    epoch_losses, rates = [], []
    for _ in range(5):
        rates.append(optimizer.lr)
        total = 0.0
        for batch_x, batch_y in loader:
            optimizer.zero_grad()
            loss = loss_fn(model(batch_x), batch_y)
            loss.backward()
            optimizer.step()
            total += loss.item()
        epoch_losses.append(total / len(loader))
        schedule.step()
    assert epoch_losses[-1] < 0.3 * epoch_losses[0], f"epoch losses {epoch_losses}"
    np.testing.assert_allclose(rates, [schedule.get_lr(e) for e in range(5)])
    assert rates == sorted(rates, reverse=True) and rates[0] == 0.05


def test_quick_trainer_fit_learns_and_records_history(rng: np.random.Generator) -> None:
    x, y = blobs(rng)
    train = DataLoader(TensorDataset(x[:90], y[:90]), batch_size=16, shuffle=True, seed=3)
    val = DataLoader(TensorDataset(x[90:], y[90:]), batch_size=64)
    model = classifier()
    trainer = Trainer(model, Adam(model.parameters(), lr=0.05), CrossEntropyLoss())
    history = trainer.fit(train, val, epochs=6, verbose=False)
    assert len(history["train_loss"]) == len(history["val_loss"]) == 6
    assert history["train_loss"][-1] < 0.4 * history["train_loss"][0]
    assert history["val_accuracy"][-1] >= 0.95
    assert trainer.epoch == 6 and trainer.step == 6 * len(train)


def test_scheduler_sets_the_rate_of_every_epoch(rng: np.random.Generator) -> None:
    x, y = blobs(rng, 32)
    loader = DataLoader(TensorDataset(x, y), batch_size=8)
    model = classifier()
    optimizer = SGD(model.parameters(), lr=123.0)  # overwritten by the schedule
    schedule = CosineSchedule(max_lr=0.1, min_lr=0.01, total_epochs=4)
    trainer = Trainer(model, optimizer, scheduler=schedule)
    for _ in range(6):
        trainer.train_epoch(loader)
    expected = [0.01 + 0.09 * (1 + np.cos(np.pi * e / 4)) / 2 for e in range(4)] + [0.01, 0.01]
    np.testing.assert_allclose(trainer.history["lr"], expected, rtol=1e-12)
    assert optimizer.lr == pytest.approx(0.01)


def run(epochs: int, start: Path | None, save: Path | None, x: np.ndarray,
        y: np.ndarray) -> tuple[list[np.ndarray], Trainer]:
    """Train a fresh model (optionally resumed from ``start``) and optionally checkpoint it."""
    model = classifier()  # dropout draws from the global RNG, which the checkpoint restores
    optimizer = Adam(model.parameters(), lr=0.02)
    trainer = Trainer(model, optimizer, scheduler=CosineSchedule(0.02, 0.002, total_epochs=6),
                      grad_clip_norm=5.0)
    if start is not None:
        trainer.load_checkpoint(start)
    loader = DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True)  # global-RNG order
    for _ in range(epochs):
        trainer.train_epoch(loader)
    if save is not None:
        trainer.save_checkpoint(save)
    return [p.data.copy() for p in model.parameters()], trainer


def test_checkpoint_resume_matches_uninterrupted_run(tmp_path: Path,
                                                    rng: np.random.Generator) -> None:
    x, y = blobs(rng)
    manual_seed(7)
    straight, straight_trainer = run(6, None, None, x, y)

    manual_seed(7)
    run(3, None, tmp_path / "half.npz", x, y)
    manual_seed(999)  # whatever happens in between must not matter
    resumed, resumed_trainer = run(3, tmp_path / "half.npz", None, x, y)

    assert resumed_trainer.epoch == 6
    assert resumed_trainer.history["lr"] == straight_trainer.history["lr"]
    np.testing.assert_allclose(resumed_trainer.history["train_loss"],
                               straight_trainer.history["train_loss"], rtol=1e-6)
    for a, b in zip(resumed, straight, strict=True):
        np.testing.assert_array_equal(a, b)


def test_quick_bad_checkpoint_leaves_the_model_unchanged(tmp_path: Path,
                                                         rng: np.random.Generator) -> None:
    x, y = blobs(rng, 32)
    _, trainer = run(1, None, tmp_path / "small.npz", x, y)
    bigger = Sequential(Linear(2, 32), ReLU(), Linear(32, 3))  # another architecture
    other = Trainer(bigger, Adam(bigger.parameters(), lr=0.01))
    before = [p.data.copy() for p in bigger.parameters()]
    with pytest.raises(SerializationError):
        other.load_checkpoint(tmp_path / "small.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a checkpoint at all")
    with pytest.raises(SerializationError):
        other.load_checkpoint(tmp_path / "junk.npz")
    for a, b in zip(bigger.parameters(), before, strict=True):
        np.testing.assert_array_equal(a.data, b)
    assert other.epoch == 0


def test_quick_train_and_eval_modes_switch_at_the_right_places(rng: np.random.Generator) -> None:
    x, y = blobs(rng, 64)
    model = Sequential(Linear(2, 32), BatchNorm1d(32), ReLU(), Dropout(0.5), Linear(32, 3))
    trainer = Trainer(model, Adam(model.parameters(), lr=0.01))
    loader = DataLoader(TensorDataset(x, y), batch_size=16)
    trainer.train_epoch(loader)
    assert all(m.training for m in model.modules())

    batch = Tensor(x[:8])
    first, second = model(batch).data, model(batch).data
    assert not np.allclose(first, second)  # training mode: dropout differs per call

    model.zero_grad()
    running_mean = model.layers[1].running_mean.data.copy()
    loss_a, acc_a = trainer.evaluate(loader)
    loss_b, acc_b = trainer.evaluate([(x[:32], y[:32]), (x[32:], y[32:])])  # a plain list
    assert loss_a == pytest.approx(loss_b, rel=1e-6) and acc_a == acc_b  # deterministic
    assert all(p.grad is None for p in model.parameters())  # evaluation built no graph
    np.testing.assert_array_equal(model.layers[1].running_mean.data, running_mean)
    assert all(m.training for m in model.modules())  # the previous mode is restored

    model.eval()
    np.testing.assert_array_equal(model(batch).data, model(batch).data)


def test_accumulated_small_batches_step_like_one_big_batch(rng: np.random.Generator) -> None:
    x = rng.standard_normal((32, 3)).astype(np.float32)
    y = rng.standard_normal((32, 1)).astype(np.float32)
    models = [Sequential(Linear(3, 8), Tanh(), Linear(8, 1)) for _ in range(2)]
    models[1].load_state_dict(models[0].state_dict())

    big = Trainer(models[0], SGD(models[0].parameters(), lr=0.1, momentum=0.9), MSELoss())
    small = Trainer(models[1], SGD(models[1].parameters(), lr=0.1, momentum=0.9), MSELoss())
    for _ in range(3):
        big.train_epoch(DataLoader(TensorDataset(x, y), batch_size=8))
        small.train_epoch(DataLoader(TensorDataset(x, y), batch_size=4), accumulation_steps=2)
    assert big.step == small.step == 12
    for a, b in zip(models[0].parameters(), models[1].parameters(), strict=True):
        np.testing.assert_allclose(a.data, b.data, rtol=1e-5, atol=1e-6)


def test_gradient_clipping_in_trainer_bounds_each_update(rng: np.random.Generator) -> None:
    x = rng.standard_normal((16, 4)).astype(np.float32) * 50  # huge inputs, huge gradients
    y = rng.standard_normal((16, 2)).astype(np.float32)
    model = Sequential(Linear(4, 2))
    trainer = Trainer(model, SGD(model.parameters(), lr=1.0), MSELoss(), grad_clip_norm=0.5)
    before = np.concatenate([p.data.ravel() for p in model.parameters()])
    trainer.train_epoch([(x, y)])
    after = np.concatenate([p.data.ravel() for p in model.parameters()])
    # lr = 1, so the update is the clipped gradient: its norm is at most 0.5
    assert np.linalg.norm(after - before) == pytest.approx(0.5, rel=1e-4)


@pytest.mark.oracle
@pytest.mark.parametrize("optimizer_name", ["sgd_momentum", "adam"])
def test_minibatch_training_trajectory_matches_torch(optimizer_name: str,
                                                     rng: np.random.Generator) -> None:
    torch = import_torch()
    x, y = blobs(rng, 48)
    model = Sequential(Linear(2, 8), Tanh(), Linear(8, 3))
    first, second = model.layers[0], model.layers[2]
    weights = [torch.tensor(a.copy(), requires_grad=True) for a in
               (first.weight.data, first.bias.data, second.weight.data, second.bias.data)]

    def make(params: Any, lib: Any) -> Any:
        if optimizer_name == "adam":
            return lib.Adam(params, lr=0.01)
        return lib.SGD(params, lr=0.1, momentum=0.9)

    optimizer, torch_optimizer = make(model.parameters(), optimizers), make(weights, torch.optim)
    loader = DataLoader(TensorDataset(x, y), batch_size=12, shuffle=True, seed=1)
    for epoch in range(3):
        loader.set_epoch(epoch)
        for batch_x, batch_y in loader:
            optimizer.zero_grad()
            CrossEntropyLoss()(model(batch_x), batch_y).backward()
            optimizer.step()

            torch_optimizer.zero_grad()
            w1, b1, w2, b2 = weights
            logits = torch.tanh(torch.tensor(batch_x.data) @ w1 + b1) @ w2 + b2
            torch.nn.functional.cross_entropy(logits, torch.tensor(batch_y.data)).backward()
            torch_optimizer.step()
    for ours, theirs in zip(model.parameters(), weights, strict=True):
        np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=1e-4, atol=1e-5)
