"""Mixed precision: the loss scaler's rules, float16 working copies and float32 masters."""

from __future__ import annotations

import numpy as np
import pytest

from tinytorch.core.activations import ReLU
from tinytorch.core.errors import ConfigError
from tinytorch.core.layers import Linear, Sequential
from tinytorch.core.losses import MSELoss
from tinytorch.core.optimizers import SGD
from tinytorch.core.spatial import BatchNorm2d
from tinytorch.core.tensor import Tensor
from tinytorch.perf.mixed_precision import (
    GradScaler,
    MixedPrecisionModel,
    MixedPrecisionTrainer,
    cast,
)


def test_cast_converts_forward_and_converts_the_gradient_back() -> None:
    x = Tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)
    y = cast(x, np.float16)
    assert y.dtype == np.float16
    (y * 3.0).sum().backward()
    assert x.grad.dtype == np.float32
    assert x.grad.data.tolist() == [3.0, 3.0]
    assert cast(x, np.float32) is x


def test_scaler_grows_after_growth_interval_clean_steps_and_backs_off_on_overflow() -> None:
    scaler = GradScaler(init_scale=16.0, growth_factor=2.0, backoff_factor=0.25,
                        growth_interval=3)
    history = []
    for found_inf in (False, False, False, False, True, False, False, False):
        scaler.update(found_inf=found_inf)
        history.append(scaler.get_scale())
    # growth on the 3rd clean step; an overflow quarters the scale and restarts the count
    assert history == [16, 16, 32, 32, 8, 8, 8, 16]


def _param_with_grad(grad: list[float]) -> tuple[Tensor, SGD]:
    p = Tensor(np.zeros(len(grad), dtype=np.float32), requires_grad=True)
    optimizer = SGD([p], lr=1.0)
    p.grad = np.array(grad, dtype=np.float32)
    return p, optimizer


def test_scaler_unscales_in_place_and_steps_when_finite() -> None:
    scaler = GradScaler(init_scale=4.0)
    p, optimizer = _param_with_grad([8.0, -4.0])
    assert scaler.step(optimizer) is True
    assert p.grad.data.tolist() == [2.0, -1.0]
    assert p.data.tolist() == [-2.0, 1.0]
    scaler.update()
    assert scaler.get_scale() == 4.0 and scaler.steps_skipped == 0


@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
def test_scaler_skips_a_step_whose_gradient_is_not_finite(bad: float) -> None:
    scaler = GradScaler(init_scale=4.0)
    p, optimizer = _param_with_grad([1.0, bad])
    assert scaler.step(optimizer) is False
    assert p.data.tolist() == [0.0, 0.0]                 # the weights were not touched
    scaler.update()
    assert scaler.get_scale() == 2.0 and scaler.steps_skipped == 1


def test_disabled_scaler_is_a_pass_through() -> None:
    scaler = GradScaler(init_scale=1024.0, enabled=False)
    loss = Tensor(np.float32(3.0))
    assert scaler.scale(loss) is loss and scaler.get_scale() == 1.0
    p, optimizer = _param_with_grad([2.0])
    assert scaler.step(optimizer) is True and p.data.tolist() == [-2.0]
    p.grad = np.array([np.inf], dtype=np.float32)       # float32 training: nothing is skipped
    assert scaler.step(optimizer) is True and scaler.steps_skipped == 0


def test_scaler_state_round_trips() -> None:
    scaler = GradScaler(init_scale=8.0, growth_interval=5)
    scaler.update(found_inf=False)
    scaler.update(found_inf=True)
    restored = GradScaler()
    restored.load_state_dict(scaler.state_dict())
    assert restored.state_dict() == {"scale": 4.0, "growth_tracker": 0, "steps_skipped": 0}


@pytest.mark.parametrize("kwargs", [{"init_scale": 0}, {"growth_factor": 1.0},
                                    {"backoff_factor": 1.5}, {"growth_interval": 0}])
def test_scaler_rejects_settings_that_cannot_work(kwargs: dict[str, float]) -> None:
    with pytest.raises(ConfigError, match="GradScaler"):
        GradScaler(**kwargs)


def test_mixed_precision_model_keeps_float32_masters_and_a_float16_copy() -> None:
    model = Sequential(Linear(4, 8), ReLU(), Linear(8, 2))
    before = [p.data.copy() for p in model.parameters()]
    mp = MixedPrecisionModel(model)
    assert all(p.dtype == np.float16 for p in mp.half.parameters())
    assert all(p.dtype == np.float32 for p in mp.parameters())
    assert mp.parameters() == model.parameters()
    for p, original in zip(model.parameters(), before, strict=True):
        np.testing.assert_array_equal(p.data, original)
    sizes = mp.memory_bytes()
    assert sizes["half_bytes"] * 2 == sizes["master_bytes"]
    out = mp(np.ones((3, 4), dtype=np.float32))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.data, model(np.ones((3, 4))).data, rtol=1e-2, atol=1e-2)


def test_gradients_reach_the_masters_as_float32_and_updates_reach_the_copy() -> None:
    model = Linear(3, 2)
    mp = MixedPrecisionModel(model)
    mp(np.ones((2, 3), dtype=np.float32)).sum().backward()
    assert model.weight.grad is None                      # backward ran on the copy
    mp.gradients_to_masters()
    assert model.weight.grad.dtype == np.float32
    np.testing.assert_array_equal(model.weight.grad.data, np.full((3, 2), 2.0))
    model.weight.data += 1.0
    mp.masters_to_half()
    np.testing.assert_array_equal(mp.half.weight.data, model.weight.data.astype(np.float16))


def test_buffers_run_in_float16_and_return_to_the_float32_model() -> None:
    norm = BatchNorm2d(2)
    mp = MixedPrecisionModel(norm)
    assert mp.half.running_mean.dtype == np.float16
    mp(np.full((4, 2, 3, 3), 5.0, dtype=np.float32))
    mp.masters_to_half()
    assert norm.running_mean.dtype == np.float32
    np.testing.assert_allclose(norm.running_mean.data, [0.5, 0.5], rtol=1e-3)


def test_trainer_skips_overflowing_steps_then_trains() -> None:
    model = Linear(2, 1)
    optimizer = SGD(model.parameters(), lr=0.1)
    trainer = MixedPrecisionTrainer(model, optimizer, MSELoss(),
                                    GradScaler(init_scale=2.0**30, growth_interval=1000))
    x = np.array([[1.0, 2.0], [3.0, 1.0]], dtype=np.float32)
    y = np.array([[1.0], [2.0]], dtype=np.float32)
    first = model.weight.data.copy()
    loss, stepped = trainer.train_step(x, y)
    assert not stepped and trainer.scaler.get_scale() == 2.0**29
    np.testing.assert_array_equal(model.weight.data, first)
    losses = [trainer.train_step(x, y)[0] for _ in range(40)]
    assert trainer.scaler.steps_skipped >= 1
    assert losses[-1] < 0.5 * loss
