"""Helpers of the ``tinytorch check`` tests: copies of this package, with or without a bug.

A mutant is a copy of ``tinytorch/`` in a temporary folder with one exact snippet replaced. The
snippet must occur exactly once: when the source it targets changes, the test fails loudly and
says which mutation to update, instead of silently testing an unmutated copy.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Mutation:
    """One deliberate bug: in ``file`` (under tinytorch/), ``old`` becomes ``new``."""

    name: str
    file: str
    old: str
    new: str


def copy_package(root: Path) -> Path:
    """Copy this repository's ``tinytorch/`` package into ``root``; return ``root``."""
    shutil.copytree(REPO / "tinytorch", root / "tinytorch",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return root


def mutate(root: Path, mutation: Mutation) -> None:
    """Apply ``mutation`` to the copy in ``root``; fail loudly if its snippet is not found once."""
    path = root / "tinytorch" / mutation.file
    source = path.read_text()
    count = source.count(mutation.old)
    if count != 1:
        pytest.fail(f"mutation {mutation.name!r}: the snippet occurs {count} times in "
                    f"tinytorch/{mutation.file} (expected exactly once); the source changed, "
                    f"so update the snippet in the test that defines it:\n{mutation.old}")
    path.write_text(source.replace(mutation.old, mutation.new))
