"""``tinytorch.olympics``: the course's name for the capstone package, ``tinytorch.capstone``."""

from __future__ import annotations

from tinytorch import capstone
from tinytorch.capstone import *  # noqa: F403 (an alias module: exactly capstone's names)

__all__ = list(capstone.__all__)
