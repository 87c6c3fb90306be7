"""Upstream's path for the tokenizers of ``tinytorch.core.tokenization`` (re-exported)."""

from __future__ import annotations

from tinytorch.core.tokenization import (
    BPETokenizer,
    CharTokenizer,
    Tokenizer,
    analyze_tokenization,
    create_tokenizer,
    tokenize_dataset,
)

__all__ = ["BPETokenizer", "CharTokenizer", "Tokenizer", "analyze_tokenization",
           "create_tokenizer", "tokenize_dataset"]
