"""PyTorch programs run twice: as written against torch, and with the import swapped to tinytorch.

The programs under ``programs/`` are plain PyTorch scripts: pytest must not import them on its
own (with ``--doctest-modules`` it would, and they need torch), so they are left out of
collection and loaded by ``swap.load_program``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))  # lets the tests import swap

collect_ignore = ["programs"]
