"""What a conformance check is, and the helpers every check uses to state what it expected.

This file runs inside the *student's* process (loaded by path under a neutral package name), so
it imports NumPy only; the student's ``tinytorch`` is imported by the checks themselves, through
``need``, so that a missing module or name is reported as NOT IMPLEMENTED instead of crashing.

A check is a function registered with ``@check(module, boundary)``. It passes by returning; it
fails by raising ``CheckError`` (from ``expect``/``expect_close``) with the three-part hint:
what was seen, why it matters (the rule), and how to fix it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Check:
    """One registered check: the module it belongs to, the boundary it tests, the function."""

    module: str
    name: str
    boundary: str
    run: Callable[[Any], None]


CHECKS: list[Check] = []


def check(module: str, boundary: str) -> Callable[[Callable[[Any], None]], Callable[[Any], None]]:
    """Register ``fn(oracle)`` as a check of ``module`` that tests ``boundary``."""
    def register(fn: Callable[[Any], None]) -> Callable[[Any], None]:
        CHECKS.append(Check(module, fn.__name__.removeprefix("check_"), boundary, fn))
        return fn
    return register


class MissingAPIError(Exception):
    """The student's package lacks a module or a name the check needs."""


class CheckError(Exception):
    """A check saw something other than what the course API promises."""

    def __init__(self, what: str, why: str, fix: str, expected: str = "", actual: str = "") -> None:
        super().__init__(what)
        self.what, self.why, self.fix = what, why, fix
        self.expected, self.actual = expected, actual


def need(module: str, *names: str) -> Any:
    """Import ``tinytorch.<module>`` and return the named attributes (or the module itself).

    Raises:
        MissingAPIError: the module cannot be imported or lacks one of the names.
    """
    path = f"tinytorch.{module}"
    try:
        found = importlib.import_module(path)
    except ImportError as exc:
        raise MissingAPIError(f"cannot import {path} ({type(exc).__name__}: {exc})") from exc
    missing = [n for n in names if not hasattr(found, n)]
    if missing:
        raise MissingAPIError(f"{path} has no {', '.join(missing)}")
    if not names:
        return found
    values = tuple(getattr(found, n) for n in names)
    return values[0] if len(values) == 1 else values


def arr(value: Any) -> np.ndarray:
    """A Tensor, an array or a number as an ndarray (a Tensor's ``.data``)."""
    return np.asarray(getattr(value, "data", value))


def grad_of(tensor: Any, label: str) -> np.ndarray:
    """The gradient of ``tensor`` as an array; fails, naming ``label``, when there is none."""
    grad = getattr(tensor, "grad", None)
    expect(grad is not None,
           what=f"{label} has no gradient after backward() (.grad is None)",
           why="every tensor with requires_grad=True on the path to the loss must receive one",
           fix="check that each op on the path records its inputs (grad_fn) and that backward "
               "visits them all")
    return arr(grad).astype(np.float64)


def summary(value: Any, limit: int = 6) -> str:
    """A short, readable form of a value: shape and the first few numbers."""
    a = np.asarray(value)
    if a.dtype.kind not in "biufc" or a.ndim == 0:
        return repr(a.item() if a.ndim == 0 else value)
    flat = a.reshape(-1)
    numbers = np.array2string(flat[:limit], precision=5, separator=", ",
                              suppress_small=True, max_line_width=200)
    more = f" ... ({flat.size} values)" if flat.size > limit else ""
    return f"shape {a.shape}: {numbers[:-1]}{more}]" if a.ndim > 1 else f"{numbers[:-1]}{more}]"


def expect(condition: bool, *, what: str, why: str, fix: str, expected: Any = "",
           actual: Any = "") -> None:
    """Fail with the three-part hint unless ``condition`` holds."""
    if not condition:
        raise CheckError(what, why, fix, str(expected), str(actual))


def expect_close(actual: Any, expected: Any, *, what: str, why: str, fix: str,
                 rtol: float = 1e-4, atol: float = 1e-5) -> None:
    """Fail unless ``actual`` has ``expected``'s shape and values (within the tolerances)."""
    got = arr(actual).astype(np.float64)
    want = np.asarray(expected, dtype=np.float64)
    if got.shape != want.shape:
        raise CheckError(f"{what}: shape {got.shape}, expected {want.shape}", why, fix,
                          summary(want), summary(got))
    if not np.allclose(got, want, rtol=rtol, atol=atol, equal_nan=False):
        worst = np.abs(got - want)
        worst = np.where(np.isfinite(worst), worst, np.inf)
        index = np.unravel_index(int(np.argmax(worst)), got.shape) if got.ndim else ()
        at = tuple(int(i) for i in index)
        raise CheckError(
            f"{what}: values differ (largest difference {float(worst.max()):.3g} at index {at}: "
            f"expected {float(want[at]):.6g}, got {float(got[at]):.6g})", why, fix,
            summary(want), summary(got))


def seeded(seed: int = 0) -> np.random.Generator:
    """The random generator every check draws its inputs from (reproducible reports)."""
    return np.random.default_rng(seed)
