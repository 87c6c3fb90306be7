"""PyTorch's dtype and device names on NumPy: ``tinytorch.float32``, ``long``, ``device("cpu")``.

A dtype here *is* the NumPy scalar type (``float32 is np.float32``), so every ``dtype=`` in
tinytorch, and NumPy itself, accepts it, and ``t.dtype == tinytorch.long`` compares as in
PyTorch. Strings (``"float32"``, ``"torch.long"``) are accepted wherever a dtype is.

tinytorch runs on the CPU only. ``device("cpu")`` and ``.to("cpu")`` are honest no-ops; asking
for a GPU is a clear error rather than a silent CPU run that the user believes is on a GPU.

Example:
    >>> resolve_dtype("long"), resolve_dtype(float32), resolve_dtype(None)
    (dtype('int64'), dtype('float32'), None)
    >>> device("cpu"), cuda.is_available()
    (device(type='cpu'), False)
"""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

from tinytorch.core.errors import ConfigError, DTypeError, explain

# --- dtypes ----------------------------------------------------------------------------------

float16 = half = np.float16
float32 = float = np.float32  # noqa: A001  (PyTorch's names: torch.float is float32)
float64 = double = np.float64
int8 = np.int8
uint8 = np.uint8
int16 = short = np.int16
int32 = int = np.int32  # noqa: A001
int64 = long = np.int64
bool = np.bool_  # noqa: A001

_BY_NAME: dict[str, Any] = {
    "float16": float16, "half": float16, "float32": float32, "float": float32,
    "float64": float64, "double": float64, "int8": int8, "uint8": uint8, "int16": int16,
    "short": int16, "int32": int32, "int": int32, "int64": int64, "long": int64, "bool": bool,
}


def resolve_dtype(dtype: Any) -> np.dtype[Any] | None:
    """The NumPy dtype meant by ``dtype``: a NumPy type, a dtype, a Python type or a name.

    ``None`` stays None (the caller's default applies). Python's ``float`` is float64 and
    ``int`` int64, as both NumPy and PyTorch read them.

    Raises:
        DTypeError: the name or object is not a dtype tinytorch knows.
    """
    if dtype is None:
        return None
    if isinstance(dtype, str):
        name = dtype.removeprefix("torch.")
        if name in _BY_NAME:
            dtype = _BY_NAME[name]
    try:
        resolved: np.dtype[Any] = np.dtype(dtype)
    except TypeError:
        raise DTypeError(explain(
            what=f"{dtype!r} is not a dtype",
            why="a dtype names how each element is stored (float32, int64, bool, ...)",
            fix="pass e.g. tinytorch.float32, tinytorch.long, np.float64 or 'float32'",
        )) from None
    return resolved


def is_dtype(value: Any) -> builtins.bool:
    """True when ``value`` names a dtype (used by ``Tensor.to``, which takes dtypes or devices)."""
    if isinstance(value, str):
        return value.removeprefix("torch.") in _BY_NAME
    if any(value is t for t in (builtins.float, builtins.int, builtins.bool)):
        return True
    return isinstance(value, np.dtype) or (
        isinstance(value, type) and issubclass(value, np.generic))


# --- devices ---------------------------------------------------------------------------------


class device:  # noqa: N801  (PyTorch's name)
    """Where tensors live: always the CPU in tinytorch.

    Args:
        spec: ``"cpu"`` (optionally ``"cpu:0"``), another ``device``, or None for the CPU.

    Raises:
        ConfigError: a GPU (``"cuda"``, ``"mps"``, ...) or an unknown device was asked for.
    """

    def __init__(self, spec: Any = "cpu", index: Any = None) -> None:
        text = getattr(spec, "type", spec)
        text = "cpu" if text is None else str(text)
        kind = text.split(":")[0]
        if kind != "cpu":
            raise ConfigError(explain(
                what=f"device {text!r} was asked for",
                why="tinytorch computes with NumPy on the CPU only; there is no GPU backend",
                fix="use device('cpu') (or drop the .to(device) call); guard GPU code with "
                    "`'cuda' if tinytorch.cuda.is_available() else 'cpu'`",
            ))
        self.type = "cpu"
        self.index = None

    def __eq__(self, other: object) -> builtins.bool:
        return getattr(other, "type", other) == "cpu"

    def __hash__(self) -> builtins.int:
        return hash("cpu")

    def __repr__(self) -> str:
        return "device(type='cpu')"

    def __str__(self) -> str:
        return "cpu"


CPU = device("cpu")


def check_device(spec: Any) -> device:
    """The device meant by ``spec`` (always the CPU), or the clear error of ``device``."""
    return spec if isinstance(spec, device) else device(spec)


class _Accelerator:
    """``tinytorch.cuda`` / ``tinytorch.backends.mps``: an accelerator that is never there."""

    @staticmethod
    def is_available() -> builtins.bool:
        """False: tinytorch has no GPU backend."""
        return False

    @staticmethod
    def device_count() -> builtins.int:
        """0 devices."""
        return 0


cuda = _Accelerator()


class _Backends:
    """``tinytorch.backends.mps.is_available()`` and ``backends.cuda``, as scripts probe them."""

    mps = _Accelerator()
    cuda = _Accelerator()


backends = _Backends()


def require_device_arg(value: Any) -> None:
    """Accept a ``device=`` argument of a factory (the CPU or None) or raise ``ConfigError``."""
    if value is not None:
        check_device(value)


__all__ = [
    "CPU", "backends", "bool", "check_device", "cuda", "device", "double", "float", "float16",
    "float32", "float64", "half", "int", "int8", "int16", "int32", "int64", "is_dtype", "long",
    "require_device_arg", "resolve_dtype", "short", "uint8",
]
