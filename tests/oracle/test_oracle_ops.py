"""Every Tensor operation against PyTorch: forward values, dtype, and the gradient of every input.

The op table lives in ``cases.py``; each case runs through the one oracle helper,
``assert_matches_torch``, which backpropagates a random upstream gradient through both
libraries. Non-differentiable operations (comparisons, argmax, factories) follow the table.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from oracle_helpers import assert_matches_torch, import_torch, tolerances

from tests.oracle.cases import CASES, OpCase
from tinytorch.core import tensor as tt
from tinytorch.core.rng import manual_seed
from tinytorch.core.tensor import Tensor

torch = import_torch()


def test_case_names_are_unique() -> None:
    names = [case.name for case in CASES]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_op_matches_torch(case: OpCase, dtype: type) -> None:
    # A case's own tolerances can only loosen the dtype's defaults, never tighten them.
    atol, rtol = tolerances(dtype)
    atol, rtol = max(atol, case.atol or 0.0), max(rtol, case.rtol or 0.0)
    assert_matches_torch(case.fn, inputs=case.inputs(dtype), torch_fn=case.torch_fn,
                         dtype=dtype, atol=atol, rtol=rtol)


# --- comparisons: boolean tensors equal to NumPy's (and torch's) -------------------------------

COMPARISONS = {
    "eq": (lambda a, b: a == b, np.equal),
    "ne": (lambda a, b: a != b, np.not_equal),
    "lt": (lambda a, b: a < b, np.less),
    "le": (lambda a, b: a <= b, np.less_equal),
    "gt": (lambda a, b: a > b, np.greater),
    "ge": (lambda a, b: a >= b, np.greater_equal),
}


@pytest.mark.parametrize("name", COMPARISONS)
@pytest.mark.parametrize("shapes", [((3, 4), (3, 4)), ((3, 1), (4,)), ((2, 3, 4), ())],
                         ids=["same", "broadcast", "0d"])
def test_comparison_of_tensors(name: str, shapes: tuple, rng: np.random.Generator) -> None:
    op, reference = COMPARISONS[name]
    # Small integers make equal elements common, so == and <= are really exercised.
    a, b = (rng.integers(-1, 2, s).astype(np.float32) for s in shapes)
    result = op(Tensor(a, requires_grad=True), Tensor(b))
    assert result.dtype == np.bool_
    assert not result.requires_grad and result.grad_fn is None
    np.testing.assert_array_equal(result.data, reference(a, b))
    np.testing.assert_array_equal(result.data, op(torch.from_numpy(a), torch.from_numpy(b)))


@pytest.mark.parametrize("name", COMPARISONS)
def test_comparison_with_numbers_and_arrays(name: str) -> None:
    op, reference = COMPARISONS[name]
    a = np.array([[-1.0, 0.0, 0.5], [2.0, 0.5, -3.0]], dtype=np.float32)
    row = np.array([0.5, 0.0, 0.5], dtype=np.float32)
    np.testing.assert_array_equal(op(Tensor(a), 0.5).data, reference(a, 0.5))
    np.testing.assert_array_equal(op(Tensor(a), row).data, reference(a, row))
    np.testing.assert_array_equal(op(Tensor(a), Tensor(row)).data, reference(a, row))


# --- argmax / argmin ---------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["argmax", "argmin"])
@pytest.mark.parametrize("axis", [None, 0, 1, 2, -1])
@pytest.mark.parametrize("keepdims", [False, True])
def test_argmax_argmin_match_torch(method: str, axis: int | None, keepdims: bool,
                                   rng: np.random.Generator) -> None:
    x = rng.permutation(24).reshape(2, 3, 4).astype(np.float32)  # distinct: no tie to break
    ours = getattr(Tensor(x), method)(axis=axis, keepdims=keepdims)
    theirs = getattr(torch.from_numpy(x), method)(dim=axis, keepdim=keepdims)
    assert ours.dtype == np.int64
    assert ours.shape == tuple(theirs.shape)
    np.testing.assert_array_equal(ours.data, theirs.numpy())


def test_argmax_dim_keyword_and_first_tie() -> None:
    x = Tensor([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]])
    assert x.argmax(dim=1).tolist() == [1, 0]  # the first of tied maxima, as NumPy and torch
    assert x.argmax().item() == 1


# --- factories ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (lambda: tt.zeros(2, 3), lambda: torch.zeros(2, 3)),
        (lambda: tt.zeros((2, 3)), lambda: torch.zeros((2, 3))),
        (lambda: tt.ones(4), lambda: torch.ones(4)),
        (lambda: tt.ones(2, 2, dtype=np.float64), lambda: torch.ones(2, 2, dtype=torch.float64)),
        (lambda: tt.full((2, 3), 1.5), lambda: torch.full((2, 3), 1.5)),
        (lambda: tt.eye(3), lambda: torch.eye(3)),
        (lambda: tt.eye(2, 4), lambda: torch.eye(2, 4)),
        (lambda: tt.arange(5), lambda: torch.arange(5)),
        (lambda: tt.arange(2, 11, 3), lambda: torch.arange(2, 11, 3)),
        (lambda: tt.arange(0.0, 1.0, 0.25), lambda: torch.arange(0.0, 1.0, 0.25)),
        (lambda: tt.arange(4, dtype=np.float32), lambda: torch.arange(4, dtype=torch.float32)),
        (lambda: tt.zeros_like(Tensor([[1.0, 2.0]])), lambda: torch.zeros_like(
            torch.tensor([[1.0, 2.0]]))),
        (lambda: tt.ones_like(Tensor([1.0, 2.0], dtype=np.float64)), lambda: torch.ones_like(
            torch.tensor([1.0, 2.0], dtype=torch.float64))),
    ],
    ids=["zeros", "zeros_tuple", "ones", "ones_float64", "full", "eye", "eye_rect", "arange_int",
         "arange_step", "arange_float", "arange_dtype", "zeros_like", "ones_like_float64"],
)
def test_factory_matches_torch(ours: Callable[[], Tensor], theirs: Callable[[], Any]) -> None:
    a, b = ours(), theirs()
    assert a.shape == tuple(b.shape)
    assert a.dtype == b.numpy().dtype
    np.testing.assert_array_equal(a.data, b.numpy())
    assert not a.requires_grad


@pytest.mark.parametrize("factory", [tt.randn, tt.rand])
def test_random_factories_reproducible_under_manual_seed(factory: Callable[..., Tensor]) -> None:
    manual_seed(42)
    first = factory(3, 4)
    after = factory(3, 4)
    manual_seed(42)
    again = factory(3, 4)
    assert first.dtype == np.float32 and first.shape == (3, 4)
    np.testing.assert_array_equal(first.data, again.data)
    assert not np.array_equal(first.data, after.data)  # the stream advances between draws


def test_rand_is_uniform_in_unit_interval_and_randn_is_standard() -> None:
    manual_seed(0)
    u, z = tt.rand(20_000).data, tt.randn(20_000).data
    assert u.min() >= 0.0 and u.max() < 1.0
    assert abs(u.mean() - 0.5) < 0.02
    assert abs(z.mean()) < 0.05 and abs(z.std() - 1.0) < 0.05


def test_factories_can_require_grad() -> None:
    w = tt.randn(2, 3, requires_grad=True)
    (w * 2).sum().backward()
    np.testing.assert_array_equal(w.grad.data, np.full((2, 3), 2.0, dtype=np.float32))
