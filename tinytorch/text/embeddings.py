"""Upstream's path for the embeddings of ``tinytorch.core.embeddings`` (re-exported)."""

from __future__ import annotations

from tinytorch.core.embeddings import (
    Embedding,
    EmbeddingLayer,
    PositionalEncoding,
    create_sinusoidal_embeddings,
)

__all__ = ["Embedding", "EmbeddingLayer", "PositionalEncoding", "create_sinusoidal_embeddings"]
