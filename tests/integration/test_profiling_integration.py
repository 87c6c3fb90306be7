"""Gap 14, profiling: the profiler measures a real training loop without changing it.

The boundary is the engine: ``profile()`` observes every op of forward and backward through
the op observer, while the layers, the loss, the optimizer and the Trainer run as usual. What
could break there: a hook that alters a value or a gradient, a hook left installed after an
exception, nested profiles that steal each other's events, FLOP totals that disagree with
``count_flops``, tables that do not add up to their events.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from tinytorch.core import autograd
from tinytorch.core.activations import ReLU
from tinytorch.core.autograd import Function, detect_anomaly
from tinytorch.core.dataloader import DataLoader, TensorDataset
from tinytorch.core.layers import Dropout, Flatten, Linear, Sequential
from tinytorch.core.losses import CrossEntropyLoss
from tinytorch.core.optimizers import Adam
from tinytorch.core.rng import manual_seed
from tinytorch.core.spatial import Conv2d, MaxPool2d
from tinytorch.core.tensor import Tensor
from tinytorch.core.training import Trainer
from tinytorch.perf.profiling import Profiler, profile

SIZES = (6, 16, 12, 3)


def blobs(n: int = 96) -> tuple[np.ndarray, np.ndarray]:
    """Three separable clusters in 6-D: (n, 6) float32 points and (n,) labels."""
    rng = np.random.default_rng(5)
    labels = rng.integers(0, 3, size=n)
    centers = rng.normal(0, 3, size=(3, SIZES[0]))
    return (centers[labels] + rng.normal(0, 0.5, (n, SIZES[0]))).astype(np.float32), labels


def mlp() -> Sequential:
    layers: list[Any] = []
    for i, (a, b) in enumerate(zip(SIZES[:-1], SIZES[1:], strict=True)):
        layers.append(Linear(a, b))
        if i < len(SIZES) - 2:
            layers += [ReLU(), Dropout(0.1)]
    return Sequential(*layers)


def manual_loop(steps: int, wrap: Callable[[], Any]) -> tuple[list[float], Sequential]:
    """Adam on fixed batches of the blobs, every step run inside ``wrap()``."""
    manual_seed(11)
    x, y = blobs()
    model, loss_fn = mlp(), CrossEntropyLoss()
    optimizer = Adam(model.parameters(), lr=0.02)
    losses = []
    for step in range(steps):
        batch = slice(16 * (step % 6), 16 * (step % 6 + 1))
        with wrap():
            optimizer.zero_grad()
            loss = loss_fn(model(Tensor(x[batch])), Tensor(y[batch]))
            loss.backward()
            optimizer.step()
        losses.append(loss.item())
    return losses, model


def assert_same_state(a: Sequential, b: Sequential) -> None:
    for (name, p), (_, q) in zip(a.named_parameters(), b.named_parameters(), strict=True):
        assert np.array_equal(p.data, q.data), f"{name} differs"
        if p.grad is None or q.grad is None:   # a Trainer clears gradients after its step
            assert p.grad is None and q.grad is None, f"{name}.grad kept on one side only"
        else:
            assert np.array_equal(p.grad.data, q.grad.data), f"{name}.grad differs"


def test_quick_training_inside_profile_is_bit_identical() -> None:
    plain_losses, plain = manual_loop(12, contextlib.nullcontext)
    profiled_losses, profiled = manual_loop(12, profile)
    assert profiled_losses == plain_losses
    assert plain_losses[-1] < 0.5 * plain_losses[0]         # the loop really trains
    assert_same_state(plain, profiled)


def trainer_run(profiled: bool) -> tuple[Sequential, Any]:
    manual_seed(3)
    x, y = blobs()
    model = mlp()  # dropout and the shuffled loader both draw from the global RNG
    trainer = Trainer(model, Adam(model.parameters(), lr=0.02), CrossEntropyLoss(),
                      grad_clip_norm=1.0)
    loader = DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True)
    prof = None
    if profiled:
        with profile() as prof:
            for _ in range(3):
                trainer.train_epoch(loader)
    else:
        for _ in range(3):
            trainer.train_epoch(loader)
    return model, prof


def test_trainer_epochs_inside_profile_match_and_every_step_is_recorded() -> None:
    plain, _ = trainer_run(False)
    profiled, prof = trainer_run(True)
    assert_same_state(plain, profiled)
    steps = 3 * 96 // 16
    linears = [s for s in prof.key_averages() if s.op == "Linear"]
    assert {s.phase: s.calls for s in linears} == {"forward": 3 * steps, "backward": 3 * steps}


def test_quick_flop_and_time_tables_add_up() -> None:
    x, y = blobs(32)
    model = Sequential(Linear(6, 16), ReLU(), Linear(16, 3))
    optimizer, loss_fn = Adam(model.parameters()), CrossEntropyLoss()
    steps, batch = 4, 32
    with profile() as prof:
        for _ in range(steps):
            optimizer.zero_grad()
            loss_fn(model(Tensor(x)), Tensor(y)).backward()
            optimizer.step()
    rows = prof.key_averages()
    for phase in ("forward", "backward"):
        events = [e for e in prof.events if e.phase == phase]
        mine = [s for s in rows if s.phase == phase]
        assert sum(s.calls for s in mine) == len(events) == prof.total(phase).calls
        assert sum(s.flops for s in mine) == sum(e.flops for e in events)
        assert sum(s.self_ns for s in mine) == sum(e.duration_ns for e in events)
    assert 0 < prof.coverage() <= 1
    # the model's share of the forward FLOPs is exactly what count_flops says, every step
    model_ops = {"Linear", "Relu"}
    forward_model = sum(e.flops for e in prof.events
                        if e.phase == "forward" and e.op in model_ops)
    assert forward_model == steps * Profiler().count_flops(model, (batch, 6))
    # backward of the layers: the weight gradient of both, the input gradient of the second
    # only (the data needs none), and one add per output element for each bias gradient
    backward_layers = sum(e.flops for e in prof.events
                          if e.phase == "backward" and e.op == "Linear")
    assert backward_layers == steps * (2 * batch * 6 * 16 + 2 * 2 * batch * 16 * 3
                                       + batch * 16 + batch * 3)


def test_quick_profile_whose_body_raises_leaves_autograd_working() -> None:
    model = Sequential(Linear(4, 3), ReLU(), Linear(3, 2))
    x = Tensor(np.ones((5, 4), dtype=np.float32))
    with pytest.raises(RuntimeError, match="boom"), profile() as prof:
        model(x).sum().backward()
        raise RuntimeError("boom")
    assert prof.events and prof.wall_ns > 0                  # what ran before is kept
    assert not autograd._instrumented and not autograd._event_observers
    reference = [p.grad.data.copy() for p in model.parameters()]
    model.zero_grad()
    model(x).sum().backward()                                 # autograd as before, unobserved
    for p, expected in zip(model.parameters(), reference, strict=True):
        assert np.array_equal(p.grad.data, expected)


class BrokenBackward(Function):
    """Identity forward; a backward that fails, as a user's buggy op would."""

    @staticmethod
    def forward(ctx: Any, x: np.ndarray) -> np.ndarray:
        return x.copy()

    @staticmethod
    def backward(ctx: Any, grad: np.ndarray) -> np.ndarray:
        raise ValueError("backward broke")


def test_profile_survives_an_op_that_fails_in_backward() -> None:
    x = Tensor(np.array([1.0, 4.0], dtype=np.float32), requires_grad=True)
    with pytest.raises(ValueError, match="backward broke"), profile() as prof:
        BrokenBackward.apply(x * 2.0).sum().backward()
    assert [(e.op, e.phase) for e in prof.events][-1] == ("Sum", "backward")
    assert not autograd._instrumented
    (x * 2.0).sum().backward()
    assert x.grad.tolist() == [2.0, 2.0]


def test_profile_inside_anomaly_detection_leaves_it_on() -> None:
    with detect_anomaly():
        with profile():
            Tensor([1.0], requires_grad=True).exp()
        assert autograd._instrumented                         # anomaly detection still on
        with pytest.raises(FloatingPointError, match="Log"), np.errstate(divide="ignore"):
            Tensor([0.0], requires_grad=True).log()
    assert not autograd._instrumented


def test_quick_nested_profiles_each_see_their_own_span() -> None:
    a = Tensor(np.ones((2, 2), dtype=np.float32), requires_grad=True)
    with profile() as outer:
        b = a * 2.0
        with profile() as inner:
            c = (b @ a).sum()
            c.backward()
        d = b + 1.0
    assert [e.op for e in inner.events] == ["MatMul", "Sum", "Sum", "MatMul", "Mul"]
    assert [e.op for e in outer.events] == ["Mul", *[e.op for e in inner.events], "Add"]
    assert outer.events[1:-1] == inner.events
    assert d.shape == (2, 2) and not autograd._instrumented


def test_a_profiled_cnn_step_matches_and_its_flops_agree_with_count_flops() -> None:
    rng = np.random.default_rng(2)
    x = rng.standard_normal((8, 1, 8, 8)).astype(np.float32)
    y = rng.integers(0, 4, size=8)

    def run(profiled: bool) -> tuple[Sequential, Any]:
        manual_seed(1)
        model = Sequential(Conv2d(1, 4, 3, padding=1), ReLU(), MaxPool2d(2), Flatten(),
                           Linear(4 * 4 * 4, 4))
        optimizer, loss_fn = Adam(model.parameters(), lr=0.01), CrossEntropyLoss()
        with profile() if profiled else contextlib.nullcontext() as prof:
            for _ in range(3):
                optimizer.zero_grad()
                loss_fn(model(Tensor(x)), Tensor(y)).backward()
                optimizer.step()
        return model, prof

    plain, _ = run(False)
    profiled, prof = run(True)
    assert_same_state(plain, profiled)
    losses = {"CrossEntropy"}
    forward_model = sum(e.flops for e in prof.events
                        if e.phase == "forward" and e.op not in losses)
    assert forward_model == 3 * Profiler().count_flops(plain, x.shape)
