"""Optimizers: in-place updates, zero_grad, groups, state round trips and clear errors.

Agreement with PyTorch's update formulas is checked in tests/oracle/test_oracle_optimizers.py.
"""

from __future__ import annotations

import json
import tracemalloc
from typing import Any

import numpy as np
import pytest

from tinytorch.core.errors import SerializationError, ShapeError
from tinytorch.core.optimizers import SGD, Adam, AdamW, Optimizer, RMSprop
from tinytorch.core.tensor import Parameter, Tensor

ALL = [
    (SGD, {"lr": 0.1}),
    (SGD, {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
    (Adam, {"lr": 0.01, "weight_decay": 0.01}),
    (AdamW, {"lr": 0.01}),
    (RMSprop, {"lr": 0.01, "momentum": 0.9, "centered": True}),
]
IDS = [f"{cls.__name__}-{len(kw)}" for cls, kw in ALL]


def _params(seed: int = 0) -> list[Parameter]:
    rng = np.random.default_rng(seed)
    return [Parameter(rng.normal(size=(4, 3))), Parameter(rng.normal(size=3))]


def _set_grads(params: list[Parameter], seed: int) -> None:
    rng = np.random.default_rng(seed)
    for p in params:
        p.grad = rng.normal(size=p.shape).astype(np.float32)


@pytest.mark.parametrize(("cls", "kwargs"), ALL, ids=IDS)
def test_step_updates_the_same_array_in_place(cls: type[Optimizer], kwargs: dict[str, Any]
                                              ) -> None:
    params = _params()
    arrays = [p.data for p in params]
    before = [a.copy() for a in arrays]
    opt = cls(params, **kwargs)
    for step in range(3):
        _set_grads(params, step)
        opt.step()
    for p, array, old in zip(params, arrays, before, strict=True):
        assert p.data is array                       # same object: views and ties stay valid
        assert p.data.dtype == np.float32
        assert not np.allclose(array, old)


def test_sgd_step_is_exactly_p_minus_lr_grad() -> None:
    p = Parameter([1.0, -2.0])
    p.grad = np.array([0.5, 0.25], dtype=np.float32)
    SGD([p], lr=0.5).step()
    assert p.data.tolist() == [0.75, -2.125]


def test_step_skips_parameters_without_gradient() -> None:
    a, b = _params()
    untouched = b.data.copy()
    a.grad = np.ones_like(a.data)
    opt = Adam([a, b], lr=0.1)
    opt.step()
    np.testing.assert_array_equal(b.data, untouched)
    assert opt.step_counts == [1, 0]
    assert opt.state["exp_avg"][1] is None


def test_zero_grad_to_none_or_to_zeros() -> None:
    params = _params()
    opt = SGD(params)
    _set_grads(params, 0)
    grad_array = params[0].grad.data
    opt.zero_grad(set_to_none=False)
    assert params[0].grad.data is grad_array and not grad_array.any()
    opt.zero_grad()
    assert all(p.grad is None for p in params)


def test_params_list_lr_attribute_and_generators() -> None:
    params = _params()
    opt = SGD(p for p in params)                     # a generator is accepted
    assert opt.params == params and opt.parameters is opt.params
    assert opt.lr == 0.01
    assert repr(opt).startswith("SGD(2 parameters, lr=0.01, momentum=0.0")
    opt.lr = 0.0                                     # plain attribute, as schedules set it
    before = params[0].data.copy()
    _set_grads(params, 1)
    opt.step()
    np.testing.assert_array_equal(params[0].data, before)


def test_param_groups_override_hyperparameters() -> None:
    a, b = _params()
    opt = SGD([{"params": [a]}, {"params": [b], "weight_decay": 0.5}], lr=1.0)
    assert opt.hyperparameters(0)["weight_decay"] == 0.0
    assert opt.hyperparameters(1) == {"lr": 1.0, "momentum": 0.0, "weight_decay": 0.5,
                                      "nesterov": False, "dampening": 0.0}
    a.grad, b.grad = np.zeros_like(a.data), np.zeros_like(b.data)
    a_before, b_before = a.data.copy(), b.data.copy()
    opt.step()
    np.testing.assert_array_equal(a.data, a_before)              # no decay, zero gradient
    np.testing.assert_allclose(b.data, b_before * 0.5, rtol=1e-6)  # p - lr * 0.5 * p
    with pytest.raises(ValueError, match="group"):
        SGD([{"params": [a], "betas": (0.9, 0.99)}])


def test_float64_parameters_stay_float64() -> None:
    p = Parameter(np.ones(3), dtype=np.float64)
    p.grad = np.full(3, 0.5)
    Adam([p], lr=0.1).step()
    assert p.data.dtype == np.float64
    expected = 1.0 - 0.1 * 0.5 / (0.5 + 1e-8)   # first Adam step: lr * g / (|g| + eps)
    np.testing.assert_allclose(p.data, expected, rtol=1e-14)  # float64 precision kept


@pytest.mark.parametrize("cls", [SGD, Adam, RMSprop])
def test_a_step_allocates_no_parameter_sized_temporaries(cls: type[Optimizer]) -> None:
    p = Parameter(np.zeros((256, 256)))                 # 256 KiB
    p.grad = np.ones((256, 256), dtype=np.float32)
    opt = cls([p], lr=0.01, momentum=0.9) if cls is not Adam else cls([p], lr=0.01)
    opt.step()                                          # first step allocates buffers once
    tracemalloc.start()
    try:
        opt.step()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < p.data.nbytes // 4, f"a step allocated {peak} bytes"


# --- state round trip ----------------------------------------------------------------------------


@pytest.mark.parametrize(("cls", "kwargs"), ALL, ids=IDS)
def test_state_dict_round_trip_continues_identically(cls: type[Optimizer],
                                                     kwargs: dict[str, Any]) -> None:
    params = _params()
    opt = cls(params, **kwargs)
    for step in range(4):
        _set_grads(params, step)
        opt.step()
    state = opt.state_dict()
    json.dumps({k: v for k, v in state.items() if k != "buffers"})  # the rest is plain JSON
    assert all(isinstance(v, np.ndarray) for v in state["buffers"].values())
    copies = [Parameter(p.data.copy()) for p in params]
    resumed = cls(copies, lr=123.0)                      # hyper-parameters come from the state
    resumed.load_state_dict(state)
    assert resumed.lr == opt.lr
    for step in range(4, 8):
        _set_grads(params, step)
        _set_grads(copies, step)
        opt.step()
        resumed.step()
    for p, q in zip(params, copies, strict=True):
        np.testing.assert_array_equal(p.data, q.data)   # bit for bit


def test_state_dict_is_a_copy() -> None:
    params = _params()
    opt = Adam(params)
    _set_grads(params, 0)
    opt.step()
    state = opt.state_dict()
    state["buffers"]["exp_avg.0"][...] = 99.0
    assert not (opt.state["exp_avg"][0] == 99.0).any()


def test_mismatched_state_is_refused_and_nothing_changes() -> None:
    params = _params()
    adam = Adam(params, lr=0.5)
    _set_grads(params, 0)
    adam.step()
    before = adam.state_dict()
    sgd_state = SGD(_params()).state_dict()
    with pytest.raises(SerializationError, match="saved from 'SGD'"):
        adam.load_state_dict(sgd_state)
    bigger = Adam(_params() + [Parameter(np.zeros(2))])
    with pytest.raises(SerializationError, match="sizes"):
        adam.load_state_dict(bigger.state_dict())
    wrong_shape = adam.state_dict()
    wrong_shape["buffers"]["exp_avg.1"] = np.zeros(7, dtype=np.float32)
    wrong_shape["lr"] = 0.0
    with pytest.raises(SerializationError, match="shape"):
        adam.load_state_dict(wrong_shape)
    after = adam.state_dict()
    assert after["hyperparameters"] == before["hyperparameters"]
    assert after["step_counts"] == before["step_counts"]
    for key, value in before["buffers"].items():
        np.testing.assert_array_equal(after["buffers"][key], value)


# --- errors --------------------------------------------------------------------------------------


def test_frozen_parameters_are_accepted_and_never_updated() -> None:
    frozen, live = Tensor(np.ones(3)), Parameter(np.ones(2))
    opt = SGD([live, frozen], lr=0.5, momentum=0.9)
    frozen.grad, live.grad = np.ones(3, dtype=np.float32), np.ones(2, dtype=np.float32)
    opt.step()
    assert frozen.data.tolist() == [1.0, 1.0, 1.0] and live.data.tolist() == [0.5, 0.5]
    assert opt.state["momentum_buffer"][1] is None   # no state is ever made for it
    frozen.requires_grad_(True)                     # unfreezing: it trains from then on
    opt.step()
    assert frozen.data.tolist() == [0.5, 0.5, 0.5]


def test_lr_attribute_and_param_groups_steer_the_same_numbers() -> None:
    a, b = _params()
    opt = Adam([{"params": [a]}, {"params": [b], "lr": 0.5, "betas": (0.8, 0.9)}], lr=0.01)
    assert opt.param_groups[0]["lr"] == 0.01 and opt.param_groups[1]["lr"] == 0.5
    assert opt.param_groups[0]["betas"] == (0.9, 0.999)      # defaults fill every group
    opt.param_groups[1]["lr"] = 0.2                           # one group, as schedulers do
    assert opt.lr == 0.01 and opt.hyperparameters(1)["lr"] == 0.2
    opt.param_groups[0]["lr"] = 0.03
    assert opt.lr == 0.03                                     # the attribute reads group 0
    opt.lr = 0.1                                              # upstream's habit: every group
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.1]
    assert opt.defaults["lr"] == 0.01 and "lr" not in vars(opt)


def test_param_groups_survive_a_state_dict_round_trip() -> None:
    a, b = _params()
    opt = SGD([{"params": [a]}, {"params": [b], "momentum": 0.5}], lr=0.1)
    opt.param_groups[1]["lr"] = 0.7
    state = opt.state_dict()
    assert state["param_groups"][1]["lr"] == 0.7 and state["param_groups"][1]["momentum"] == 0.5
    fresh = SGD([{"params": [a]}, {"params": [b]}], lr=0.3)
    fresh.load_state_dict(state)
    assert [g["lr"] for g in fresh.param_groups] == [0.1, 0.7]
    assert fresh.param_groups[1]["momentum"] == 0.5 and fresh.param_groups[0]["momentum"] == 0.0


def test_zero_grad_set_to_none_false_keeps_zeroed_arrays() -> None:
    (a, _) = params = _params()
    opt = SGD(params)
    _set_grads(params, 2)
    grad = a.grad
    opt.zero_grad(set_to_none=False)
    assert a.grad is grad and not a.grad.data.any()
    opt.zero_grad(set_to_none=True)
    assert a.grad is None


@pytest.mark.parametrize(("params", "error", "text"), [
    ([], ValueError, "empty list"),
    ([np.ones(3)], TypeError, "not a Tensor"),
])
def test_bad_parameter_lists_are_refused(params: list[Any], error: type[Exception],
                                         text: str) -> None:
    with pytest.raises(error, match=text):
        Adam(params)


def test_duplicate_parameter_is_refused() -> None:
    p = Parameter(np.ones(2))
    with pytest.raises(ValueError, match="appears twice"):
        SGD([p, p])


@pytest.mark.parametrize("make", [
    lambda ps: SGD(ps, lr=-0.1),
    lambda ps: SGD(ps, momentum=1.5),
    lambda ps: SGD(ps, nesterov=True),
    lambda ps: Adam(ps, betas=(0.9, 1.0)),
    lambda ps: RMSprop(ps, alpha=-0.5),
])
def test_bad_hyperparameters_are_refused(make: Any) -> None:
    with pytest.raises(ValueError, match="fix:"):
        make(_params())


def test_gradient_of_the_wrong_shape_is_refused() -> None:
    p = Parameter(np.ones((2, 3)))
    p.grad = np.ones(3, dtype=np.float32)
    with pytest.raises(ShapeError, match=r"\(2, 3\)"):
        SGD([p]).step()


def test_adamw_decay_is_decoupled_from_the_gradient() -> None:
    p, q = Parameter([2.0]), Parameter([2.0])
    p.grad, q.grad = np.zeros(1, dtype=np.float32), np.zeros(1, dtype=np.float32)
    AdamW([p], lr=0.1, weight_decay=0.5).step()
    Adam([q], lr=0.1, weight_decay=0.5).step()
    assert p.data.tolist() == pytest.approx([2.0 * (1 - 0.1 * 0.5)])   # only the shrink
    assert q.data.tolist() == pytest.approx([2.0 - 0.1])               # L2 grad, normalised


def test_add_param_group_trains_new_parameters_with_their_own_settings() -> None:
    a, b = _params()
    opt = SGD([a], lr=0.1, momentum=0.9)
    opt.add_param_group({"params": [b], "lr": 0.5})
    assert opt.param_groups[1] == {"params": [b], "lr": 0.5, "momentum": 0.9,
                                   "weight_decay": 0.0, "nesterov": False, "dampening": 0.0}
    assert opt.parameters is opt.params and opt.params[-1] is b
    b.grad = np.ones(3, dtype=np.float32)
    before = b.data.copy()
    opt.step()
    np.testing.assert_allclose(b.data, before - 0.5, rtol=1e-6)
    with pytest.raises(ValueError, match="appears twice"):
        opt.add_param_group({"params": [a]})
    assert len(opt.param_groups) == 2
