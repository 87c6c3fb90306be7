"""Exceptions for user mistakes, and the one helper that words their messages.

Every error a user can trigger says three things: what went wrong (with the actual
values), why (the rule that was broken) and how to fix it. ``explain`` builds that text.
"""

from __future__ import annotations


class TinyTorchError(Exception):
    """Base class of every error tinytorch raises on purpose."""


class ShapeError(TinyTorchError, ValueError):
    """A tensor has a shape the operation cannot work with."""


class DTypeError(TinyTorchError, TypeError):
    """A tensor has a dtype the operation cannot work with."""


class GraphError(TinyTorchError, RuntimeError):
    """The autograd graph cannot be used as asked (freed, non-scalar output, ...)."""


class SerializationError(TinyTorchError, ValueError):
    """A saved file is missing, corrupt, or does not match what it is loaded into."""


def explain(what: str, why: str, fix: str) -> str:
    """Join the three parts of an error message.

    Example:
        >>> print(explain("x has shape (3,)", "a matrix is needed", "reshape it"))
        x has shape (3,)
          why: a matrix is needed
          fix: reshape it
    """
    return f"{what}\n  why: {why}\n  fix: {fix}"


class IndexOutOfRangeError(TinyTorchError, IndexError):
    """An index points outside a tensor or a vocabulary."""


class ConfigError(TinyTorchError, ValueError):
    """An argument has a value the component cannot work with (a size, a name, a mode)."""
