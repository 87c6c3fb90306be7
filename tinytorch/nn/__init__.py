"""The PyTorch-style face: ``from tinytorch import nn``, then ``nn.Linear``, ``nn.functional``, ...

Every course class is defined in the ``tinytorch.core`` module of the course that introduces
it and is only re-exported. The few PyTorch layers no course module introduces
(``MultiheadAttention`` with PyTorch's signature, ``AdaptiveAvgPool2d``) live in this package,
built from core pieces, and ``nn.utils`` holds PyTorch's gradient-clipping names.
Intentional differences from PyTorch (``Linear`` weight ``(in, out)``, cross-entropy class axis
last, activations that are not ``Module``s) are listed in docs/differences.md.

Example:
    >>> from tinytorch import nn
    >>> model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    >>> len(model.parameters())
    4
"""

from __future__ import annotations

from tinytorch.core.activations import (
    GELU,
    LeakyReLU,
    LogSoftmax,
    ReLU,
    Sigmoid,
    SiLU,
    Softmax,
    Tanh,
)
from tinytorch.core.attention import MultiHeadAttention
from tinytorch.core.embeddings import Embedding, PositionalEncoding
from tinytorch.core.layers import (
    Dropout,
    Flatten,
    Identity,
    Linear,
    Module,
    ModuleDict,
    ModuleList,
    Sequential,
)
from tinytorch.core.losses import (
    BCELoss,
    BCEWithLogitsLoss,
    BinaryCrossEntropyLoss,
    CrossEntropyLoss,
    MSELoss,
    NLLLoss,
)
from tinytorch.core.spatial import AvgPool2d, BatchNorm1d, BatchNorm2d, Conv2d, MaxPool2d
from tinytorch.core.tensor import Parameter
from tinytorch.core.transformer import LayerNorm, TransformerBlock
from tinytorch.nn import functional, init, utils
from tinytorch.nn.attention import MultiheadAttention
from tinytorch.nn.pooling import AdaptiveAvgPool2d

__all__ = [
    "GELU", "BCELoss", "BCEWithLogitsLoss", "BinaryCrossEntropyLoss", "CrossEntropyLoss",
    "Dropout", "Flatten", "Identity", "LeakyReLU", "Linear", "LogSoftmax", "MSELoss", "Module",
    "ModuleList", "NLLLoss", "Parameter", "ReLU", "Sequential", "SiLU", "Sigmoid", "Softmax",
    "Tanh", "functional", "init",
    "AvgPool2d", "BatchNorm1d", "BatchNorm2d", "Conv2d", "Embedding", "LayerNorm", "MaxPool2d",
    "MultiHeadAttention", "PositionalEncoding", "TransformerBlock",
    "AdaptiveAvgPool2d", "ModuleDict", "MultiheadAttention", "utils",
]
