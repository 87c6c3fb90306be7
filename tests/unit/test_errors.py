"""Every user mistake gets a three-part message: what (with the values), why, and how to fix."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from tinytorch.core.errors import (
    GraphError,
    IndexOutOfRangeError,
    ShapeError,
    TinyTorchError,
    explain,
)
from tinytorch.core.tensor import Tensor


def assert_three_parts(message: str, *values: str) -> None:
    """The message names the values, then says why and how to fix it."""
    lines = message.splitlines()
    assert re.search(r"^\s+why: \S", message, re.M), message
    assert re.search(r"^\s+fix: \S", message, re.M), message
    assert lines[0].strip(), message
    for value in values:
        assert value in message, f"{value!r} missing from:\n{message}"


def freed_graph() -> None:
    x = Tensor([1.0], requires_grad=True)
    loss = (x * 2.0).sum()
    loss.backward()
    loss.backward()


CASES: list[tuple[str, Callable[[], Any], type[Exception], tuple[str, ...]]] = [
    ("reshape_size_mismatch", lambda: Tensor(np.ones((2, 3))).reshape(4, 2), ShapeError,
     ("(2, 3)", "(4, 2)", "6")),
    ("matmul_inner_mismatch", lambda: Tensor(np.ones((2, 3))) @ Tensor(np.ones((4, 5))),
     ShapeError, ("(2, 3)", "(4, 5)", "3", "4")),
    ("matmul_scalar_operand", lambda: Tensor(2.0) @ Tensor(np.ones(3)), ShapeError, ("()",)),
    ("incompatible_broadcast", lambda: Tensor(np.ones((2, 3))) + Tensor(np.ones((4, 3))),
     ShapeError, ("(2, 3)", "(4, 3)")),
    ("backward_non_scalar", lambda: (Tensor([1.0, 2.0], requires_grad=True) * 2.0).backward(),
     GraphError, ("(2,)",)),
    ("backward_freed_graph", freed_graph, GraphError, ("retain_graph=True",)),
    ("index_out_of_range", lambda: Tensor(np.ones((2, 3)))[5], IndexOutOfRangeError,
     ("5", "(2, 3)")),
    ("advanced_index_out_of_range", lambda: Tensor(np.ones(4))[np.array([0, 9])],
     IndexOutOfRangeError, ("(4,)",)),
    ("item_on_many_elements", lambda: Tensor([1.0, 2.0]).item(), ShapeError, ("(2,)",)),
    ("int_requires_grad", lambda: Tensor([1, 2], dtype=np.int64, requires_grad=True),
     TinyTorchError, ("int64",)),
]


@pytest.mark.parametrize("name, trigger, kind, values", CASES, ids=[c[0] for c in CASES])
def test_error_has_three_parts(name: str, trigger: Callable[[], Any], kind: type[Exception],
                               values: tuple[str, ...]) -> None:
    with pytest.raises(kind) as info:
        trigger()
    assert_three_parts(str(info.value), *values)


def test_errors_are_also_standard_python_exceptions() -> None:
    with pytest.raises(ValueError):
        Tensor(np.ones(6)).reshape(4, 2)
    with pytest.raises(IndexError):
        Tensor(np.ones(3))[3]
    with pytest.raises(RuntimeError):
        (Tensor([1.0, 2.0], requires_grad=True) * 1.0).backward()


def test_explain_layout() -> None:
    assert explain("a", "b", "c") == "a\n  why: b\n  fix: c"


def test_masked_fill_mask_larger_than_tensor_is_rejected() -> None:
    with pytest.raises(ShapeError) as info:
        Tensor(np.ones((3,))).masked_fill(np.ones((2, 3)), 0.0)
    assert_three_parts(str(info.value), "(2, 3)", "(3,)")
