"""Upstream's ``tinytorch.text`` package: tokenizers and embeddings under their old paths.

The code lives in ``tinytorch.core.tokenization`` and ``tinytorch.core.embeddings``.
"""

from __future__ import annotations
