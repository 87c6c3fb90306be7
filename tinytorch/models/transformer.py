"""Upstream's path for the GPT stack of ``tinytorch.core.transformer`` (re-exported)."""

from __future__ import annotations

from tinytorch.core.attention import MultiHeadAttention, scaled_dot_product_attention
from tinytorch.core.transformer import (
    GPT,
    MLP,
    LayerNorm,
    TinyGPT,
    TransformerBlock,
    create_causal_mask,
)

__all__ = ["GPT", "MLP", "LayerNorm", "MultiHeadAttention", "TinyGPT", "TransformerBlock",
           "create_causal_mask", "scaled_dot_product_attention"]
