"""Trainer, schedules, gradient clipping and checkpoints."""

from __future__ import annotations

import io
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tinytorch.core.autograd import AnomalyError
from tinytorch.core.dataloader import DataLoader, TensorDataset
from tinytorch.core.errors import SerializationError
from tinytorch.core.layers import Dropout, Linear, Module, Sequential
from tinytorch.core.losses import CrossEntropyLoss, MSELoss
from tinytorch.core.optimizers import SGD, Adam
from tinytorch.core.rng import get_rng_state, manual_seed
from tinytorch.core.tensor import Parameter, Tensor
from tinytorch.core.training import (
    CosineSchedule,
    LinearWarmup,
    StepLR,
    Trainer,
    clip_grad_norm,
)


class _Net(Module):
    """4 -> 16 -> 3 with ReLU and (optional) dropout."""

    def __init__(self, p: float = 0.0) -> None:
        super().__init__()
        self.hidden = Linear(4, 16)
        self.drop = Dropout(p)
        self.out = Linear(16, 3)

    def forward(self, x: Tensor) -> Tensor:
        return self.out(self.drop(self.hidden(x).relu()))


def _blobs(n: int = 96, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three well separated Gaussian clusters in 4-D: a problem a small MLP learns quickly."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, size=n)
    centers = np.array([[2, 0, 0, 0], [0, 2, 0, 0], [0, 0, 2, 0]], dtype=np.float32)
    return (centers[y] + rng.normal(0, 0.4, size=(n, 4))).astype(np.float32), y


def _weights(model: Module) -> list[np.ndarray]:
    return [p.data.copy() for p in model.parameters()]


# --- training and evaluation ---------------------------------------------------------------------


def test_loss_falls_and_accuracy_rises_on_a_learnable_problem() -> None:
    x, y = _blobs()
    loader = DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True)
    model = _Net()
    trainer = Trainer(model, SGD(model.parameters(), lr=0.1, momentum=0.9))
    assert isinstance(trainer.loss_fn, CrossEntropyLoss)         # the default loss
    first = trainer.train_epoch(loader)
    for _ in range(9):
        last = trainer.train_epoch(loader)
    loss, accuracy = trainer.evaluate(DataLoader(TensorDataset(x, y), batch_size=32))
    assert last < first / 3
    assert accuracy > 0.95
    assert trainer.epoch == 10 and trainer.step == 10 * len(loader)
    assert len(trainer.history["train_loss"]) == 10
    assert trainer.history["val_loss"] == [loss] and trainer.history["val_accuracy"] == [accuracy]
    assert trainer.history["eval_loss"] is trainer.history["val_loss"]   # upstream's key


def _one_step_weights(batches: list[tuple[np.ndarray, np.ndarray]], k: int) -> list[np.ndarray]:
    manual_seed(0)
    model = _Net()
    trainer = Trainer(model, SGD(model.parameters(), lr=0.5))
    trainer.train_epoch(batches, accumulation_steps=k)
    return _weights(model)


def test_accumulating_k_batches_equals_one_batch_k_times_larger() -> None:
    x, y = _blobs(n=8)
    whole = _one_step_weights([(x, y)], k=1)
    split = _one_step_weights([(x[i:i + 2], y[i:i + 2]) for i in range(0, 8, 2)], k=4)
    for a, b in zip(whole, split, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)
    summed = _one_step_weights([(x[i:i + 2], y[i:i + 2]) for i in range(0, 8, 2)], k=1)
    assert not np.allclose(whole[0], summed[0], atol=1e-4)   # four steps are not one step


def test_a_final_partial_group_is_averaged_over_its_own_size() -> None:
    x, y = _blobs(n=10)
    manual_seed(0)
    reference = _Net()
    ref_trainer = Trainer(reference, SGD(reference.parameters(), lr=0.5))
    ref_trainer.train_epoch([(x[:8], y[:8]), (x[8:], y[8:])])        # two plain steps
    manual_seed(0)
    model = _Net()
    trainer = Trainer(model, SGD(model.parameters(), lr=0.5))
    batches = [(x[i:i + 2], y[i:i + 2]) for i in range(0, 10, 2)]   # 4 + a remainder of 1
    mean_loss = trainer.train_epoch(batches, accumulation_steps=4)
    assert trainer.step == 2
    for a, b in zip(_weights(reference), _weights(model), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)
    assert mean_loss == pytest.approx(trainer.history["train_loss"][0])


def test_evaluate_builds_no_graph_and_restores_modes() -> None:
    seen: list[Tensor] = []

    class Spy(_Net):
        def forward(self, x: Tensor) -> Tensor:
            out = super().forward(x)
            seen.append(out)
            return out

    model = Spy(p=0.5)
    model.drop.eval()                    # a sub-module deliberately in eval mode stays so
    trainer = Trainer(model, SGD(model.parameters()))
    x, y = _blobs(n=12)
    batches = ((x[i:i + 4], y[i:i + 4]) for i in range(0, 12, 4))   # a generator works
    loss, accuracy = trainer.evaluate(batches)
    assert len(seen) == 3
    assert all(out.grad_fn is None and not out.requires_grad for out in seen)
    assert model.training and model.hidden.training and not model.drop.training
    assert all(p.grad is None for p in model.parameters())
    logits = np.concatenate([o.data for o in seen])
    expected_accuracy = float(np.mean(logits.argmax(axis=1) == y))
    assert accuracy == pytest.approx(expected_accuracy)
    expected_loss = CrossEntropyLoss()(Tensor(logits), y).item()
    assert loss == pytest.approx(expected_loss, rel=1e-5)   # batches weighted by size


def test_evaluate_accuracy_is_nan_for_regression() -> None:
    model = Linear(3, 2)
    trainer = Trainer(model, SGD(model.parameters()), loss_fn=MSELoss())
    x = np.ones((4, 3), dtype=np.float32)
    loss, accuracy = trainer.evaluate([(x, np.full((4, 2), 0.3, dtype=np.float32))])
    assert math.isnan(accuracy)
    assert loss == pytest.approx(float(np.mean((x @ model.weight.data - 0.3) ** 2)), rel=1e-5)


def test_one_hot_targets_give_an_accuracy() -> None:
    model = Linear(2, 2)
    model.weight.data[...] = np.eye(2)
    trainer = Trainer(model, SGD(model.parameters()))
    x = np.array([[1, 0], [0, 1], [1, 0]], dtype=np.float32)
    one_hot = np.array([[1, 0], [0, 1], [0, 1]], dtype=np.float32)
    assert trainer.evaluate([(x, one_hot)])[1] == pytest.approx(2 / 3)


def test_empty_data_is_an_error() -> None:
    model = _Net()
    trainer = Trainer(model, SGD(model.parameters()))
    with pytest.raises(ValueError, match="no batches"):
        trainer.train_epoch([])
    with pytest.raises(ValueError, match="no batches"):
        trainer.evaluate([])
    with pytest.raises(ValueError, match="accumulation_steps"):
        trainer.train_epoch([(np.zeros((1, 4)), np.zeros(1, dtype=np.int64))],
                            accumulation_steps=0)


def test_gradients_are_clipped_before_the_step() -> None:
    model = Linear(4, 3)
    before = _weights(model)
    trainer = Trainer(model, SGD(model.parameters(), lr=1.0), grad_clip_norm=1e-3)
    x, y = _blobs(n=8)
    trainer.train_epoch([(x * 100, y)])
    moved = math.sqrt(sum(float(np.sum((a - b) ** 2)) for a, b in
                          zip(_weights(model), before, strict=True)))
    assert moved == pytest.approx(1e-3, rel=1e-3)   # lr 1: the step is the clipped gradient


def test_anomaly_mode_names_the_op_that_produced_nan() -> None:
    model = _Net()
    x, y = _blobs(n=4)
    x[0, 0] = np.nan
    with pytest.raises(AnomalyError, match="Linear"):
        Trainer(model, SGD(model.parameters()), detect_anomaly=True).train_epoch([(x, y)])


# --- schedules -----------------------------------------------------------------------------------


def test_trainer_applies_the_schedule_every_epoch() -> None:
    x, y = _blobs(n=16)
    model = _Net()
    optimizer = SGD(model.parameters(), lr=1.0)
    schedule = CosineSchedule(max_lr=0.1, min_lr=0.01, total_epochs=4)
    trainer = Trainer(model, optimizer, scheduler=schedule)
    for _ in range(5):
        trainer.train_epoch([(x, y)])
    assert trainer.history["lr"] == pytest.approx([schedule.get_lr(e) for e in range(5)])
    assert trainer.history["lr"][0] == pytest.approx(0.1)
    assert optimizer.lr == pytest.approx(0.01)
    assert trainer.history["learning_rates"] is trainer.history["lr"]


def test_step_lr_warmup_and_bound_step() -> None:
    optimizer = SGD([Parameter([1.0])], lr=0.4)
    step = StepLR(optimizer, step_size=2, gamma=0.5)
    assert [step.get_lr(e) for e in range(5)] == [0.4, 0.4, 0.2, 0.2, 0.1]
    assert step.step() == 0.4 and step.step() == 0.2 and optimizer.lr == 0.2
    assert step.get_last_lr() == [0.2]
    warm = LinearWarmup(CosineSchedule(max_lr=1.0, min_lr=0.0, total_epochs=2), warmup_epochs=4,
                        start_factor=0.2)
    assert [round(warm.get_lr(e), 6) for e in range(7)] == [0.2, 0.4, 0.6, 0.8, 1.0, 0.5, 0.0]
    assert LinearWarmup(0.5, warmup_epochs=2, start_factor=0.5).get_lr(1) == pytest.approx(0.375)


def test_schedule_state_round_trip_and_type_check() -> None:
    warm = LinearWarmup(CosineSchedule(total_epochs=10), warmup_epochs=3)
    for _ in range(4):
        warm.step()
    other = LinearWarmup(CosineSchedule(total_epochs=99), warmup_epochs=1)
    other.load_state_dict(warm.state_dict())
    assert other.epoch == 4 and other.after.total_epochs == 10
    assert [other.get_lr(e) for e in range(15)] == [warm.get_lr(e) for e in range(15)]
    with pytest.raises(SerializationError, match="StepLR"):
        CosineSchedule().load_state_dict(StepLR(SGD([Parameter([1.0])]), 3).state_dict())


def test_clip_grad_norm_returns_the_norm_before_clipping() -> None:
    a, b = Parameter(np.zeros(2)), Parameter(np.zeros(1))
    a.grad, b.grad = np.array([3.0, 0.0], dtype=np.float32), np.array([4.0], dtype=np.float32)
    assert clip_grad_norm([a, b], max_norm=10.0) == pytest.approx(5.0)
    assert a.grad.tolist() == [3.0, 0.0]                       # under the limit: unchanged
    assert clip_grad_norm((p for p in [a, b]), max_norm=0.5) == pytest.approx(5.0)
    total = math.sqrt(sum(float(np.sum(p.grad.data ** 2)) for p in (a, b)))
    assert total == pytest.approx(0.5, rel=1e-5)
    assert clip_grad_norm([Parameter(np.zeros(2))]) == 0.0     # no gradients at all
    with pytest.raises(ValueError, match="max_norm"):
        clip_grad_norm([a], max_norm=0.0)


# --- checkpoints ---------------------------------------------------------------------------------


def _run(epochs: int, *, resume_from: Path | None = None, save_at: int | None = None,
         path: Path | None = None, seed: int | None = None) -> tuple[list[np.ndarray], Trainer]:
    """Train _Net(dropout) with Adam, a cosine schedule and a shuffling loader."""
    x, y = _blobs(n=40)
    loader = DataLoader(TensorDataset(x, y), batch_size=8, shuffle=True, seed=seed)
    model = _Net(p=0.3)
    optimizer = Adam(model.parameters(), lr=0.01)
    trainer = Trainer(model, optimizer, scheduler=CosineSchedule(0.05, 0.001, total_epochs=6))
    if resume_from is not None:
        trainer.load_checkpoint(resume_from)
    while trainer.epoch < epochs:
        trainer.train_epoch(loader, accumulation_steps=2)
        trainer.evaluate(loader)
        if trainer.epoch == save_at and path is not None:
            trainer.save_checkpoint(path)
    return _weights(model), trainer


@pytest.mark.parametrize("seed", [None, 11])
def test_resuming_from_a_checkpoint_reproduces_the_uninterrupted_run(tmp_path: Path,
                                                                     seed: int | None) -> None:
    manual_seed(1)
    uninterrupted, full = _run(5, seed=seed)
    manual_seed(1)
    _run(2, save_at=2, path=tmp_path / "ckpt.npz", seed=seed)
    manual_seed(999)   # a different process state: other initial weights, other RNG position
    resumed, trainer = _run(5, resume_from=tmp_path / "ckpt.npz", seed=seed)
    for a, b in zip(uninterrupted, resumed, strict=True):
        np.testing.assert_array_equal(a, b)               # exactly, not approximately
    assert trainer.history == full.history
    assert trainer.step == full.step and trainer.epoch == 5


def test_checkpoint_holds_no_pickle_and_restores_rng(tmp_path: Path) -> None:
    model = _Net()
    trainer = Trainer(model, SGD(model.parameters(), momentum=0.9))
    manual_seed(42)
    state = get_rng_state()
    trainer.save_checkpoint(tmp_path / "c.npz")
    manual_seed(43)
    trainer.load_checkpoint(tmp_path / "c.npz")
    assert get_rng_state() == state
    with np.load(tmp_path / "c.npz", allow_pickle=False) as archive:  # would raise on pickle
        assert "model/hidden.weight" in archive.files


def _trained(tmp_path: Path) -> tuple[Trainer, Path]:
    x, y = _blobs(n=16)
    model = _Net()
    trainer = Trainer(model, Adam(model.parameters()))
    trainer.train_epoch([(x, y)])
    path = tmp_path / "good.npz"
    trainer.save_checkpoint(path)
    return trainer, path


def _snapshot(trainer: Trainer) -> tuple[list[np.ndarray], dict[str, Any], int]:
    state = trainer.optimizer.state_dict()
    return _weights(trainer.model), state, trainer.epoch


def _assert_unchanged(trainer: Trainer, snapshot: tuple[Any, ...]) -> None:
    weights, state, epoch = snapshot
    for a, b in zip(_weights(trainer.model), weights, strict=True):
        np.testing.assert_array_equal(a, b)
    now = trainer.optimizer.state_dict()
    assert now["step_counts"] == state["step_counts"] and trainer.epoch == epoch
    for key, value in state["buffers"].items():
        np.testing.assert_array_equal(now["buffers"][key], value)


def test_corrupt_checkpoint_is_rejected_and_nothing_changes(tmp_path: Path) -> None:
    trainer, good = _trained(tmp_path)
    trainer.train_epoch([_blobs(n=16)])           # move away from the saved state
    snapshot = _snapshot(trainer)
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(good.read_bytes()[:300])
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a checkpoint at all")
    for path in (truncated, garbage, tmp_path / "missing.npz"):
        with pytest.raises(SerializationError):
            trainer.load_checkpoint(path)
        _assert_unchanged(trainer, snapshot)


def test_mismatched_checkpoint_is_rejected_and_nothing_changes(tmp_path: Path) -> None:
    trainer, good = _trained(tmp_path)
    other = Sequential(Linear(4, 8), Linear(8, 3))
    other_trainer = Trainer(other, Adam(other.parameters()))
    snapshot = _snapshot(other_trainer)
    with pytest.raises(SerializationError, match="missing keys"):
        other_trainer.load_checkpoint(good)
    _assert_unchanged(other_trainer, snapshot)
    # Same model, other optimizer: the model would load, so it must be rolled back.
    model = _Net()
    sgd_trainer = Trainer(model, SGD(model.parameters(), momentum=0.9))
    snapshot = _snapshot(sgd_trainer)
    with pytest.raises(SerializationError, match="saved from 'Adam'"):
        sgd_trainer.load_checkpoint(good)
    _assert_unchanged(sgd_trainer, snapshot)
    model.save(tmp_path / "model_only.npz")
    with pytest.raises(SerializationError, match="not a tinytorch checkpoint"):
        sgd_trainer.load_checkpoint(tmp_path / "model_only.npz")


def test_schedule_presence_must_match(tmp_path: Path) -> None:
    trainer, good = _trained(tmp_path)
    model = _Net()
    scheduled = Trainer(model, Adam(model.parameters()), scheduler=CosineSchedule())
    snapshot = _snapshot(scheduled)
    with pytest.raises(SerializationError, match="schedule"):
        scheduled.load_checkpoint(good)
    _assert_unchanged(scheduled, snapshot)


# --- progress output -----------------------------------------------------------------------------


def _fit_output(monkeypatch: pytest.MonkeyPatch, stream: io.StringIO, verbose: bool = True,
                ) -> str:
    monkeypatch.setattr(sys, "stdout", stream)
    x, y = _blobs(n=32)
    model = _Net()
    trainer = Trainer(model, SGD(model.parameters(), lr=0.1))
    loader = DataLoader(TensorDataset(x, y), batch_size=8)
    history = trainer.fit(loader, val_loader=loader, epochs=2, verbose=verbose)
    assert len(history["train_loss"]) == len(history["val_loss"]) == 2
    return stream.getvalue()


def test_fit_output_is_clean_when_not_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    out = _fit_output(monkeypatch, io.StringIO())
    assert "\r" not in out and "\x1b" not in out               # no bar redraws in a log
    lines = out.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("epoch 1/2  train loss ") and "val acc" in lines[0]
    assert lines[1].startswith("epoch 2/2")
    assert _fit_output(monkeypatch, io.StringIO(), verbose=False) == ""


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_fit_draws_an_ascii_bar_in_a_terminal_without_tqdm(monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)         # import fails: the fallback
    out = _fit_output(monkeypatch, _Terminal())
    assert "\r" in out and "[" + "#" * 30 + "] 4/4" in out
    assert out.isascii()
    summary = [line for line in out.split("\r") if "train loss" in line]
    assert len(summary) == 2


def test_fit_uses_tqdm_in_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("tqdm")
    out = _fit_output(monkeypatch, _Terminal())
    assert "epoch 1/2:" in out and "/4 [" in out             # tqdm's label and counter
    assert "[" + "#" * 30 not in out                             # not the ASCII fallback


def test_course_imports_losses_from_training() -> None:
    from tinytorch.core import losses, training

    assert training.MSELoss is losses.MSELoss
    assert training.CrossEntropyLoss is losses.CrossEntropyLoss


def test_trainer_accepts_a_model_that_only_defines_forward(tmp_path: Any) -> None:
    class Forward:  # course code: no Module, no __call__, no parameters()
        def __init__(self) -> None:
            self.w = Parameter(np.zeros((2, 1), dtype=np.float32))

        def forward(self, x: Tensor) -> Tensor:
            return x @ self.w

    model = Forward()
    opt = SGD([model.w], lr=0.1)
    trainer = Trainer(model, opt, loss_fn=MSELoss())
    x = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    batches = [(x, np.array([[1.0], [2.0]], dtype=np.float32))]
    first = trainer.train_epoch(batches)
    for _ in range(30):
        last = trainer.train_epoch(batches)
    assert first == pytest.approx(2.5) and last < 0.05 * first
    loss, _ = trainer.evaluate(batches)
    assert loss == pytest.approx(last, rel=0.2)
    trainer.save_checkpoint(tmp_path / "c.npz")
    saved = model.w.data.copy()
    model.w.data[...] = 0
    trainer.load_checkpoint(tmp_path / "c.npz")
    np.testing.assert_array_equal(model.w.data, saved)
