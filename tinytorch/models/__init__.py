"""Upstream's ``tinytorch.models`` package: ready-made models under their old paths.

The code lives in ``tinytorch.core.transformer``.
"""

from __future__ import annotations
