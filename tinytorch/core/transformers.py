"""Upstream's plural module name: the transformer stack of ``tinytorch.core.transformer``.

Newer course material imports ``MultiHeadAttention`` and ``TinyGPT`` from here; the classes
live in ``tinytorch.core.attention`` and ``tinytorch.core.transformer``.
"""

from __future__ import annotations

from tinytorch.core.attention import KVCache, MultiHeadAttention, scaled_dot_product_attention
from tinytorch.core.transformer import (
    GPT,
    MLP,
    GPTConfig,
    LayerNorm,
    TinyGPT,
    TransformerBlock,
    create_causal_mask,
    sample_next_token,
)

__all__ = ["GPT", "MLP", "GPTConfig", "KVCache", "LayerNorm", "MultiHeadAttention", "TinyGPT",
           "TransformerBlock", "create_causal_mask", "sample_next_token",
           "scaled_dot_product_attention"]
