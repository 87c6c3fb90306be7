"""tinytorch: a complete, correct and fast deep-learning framework on NumPy, built to be read.

The everyday names are re-exported here; each lives in the module of the course that
introduces it (``tinytorch.core.*`` for the framework, ``tinytorch.perf.*`` for the systems
modules). Importing tinytorch has one side effect: it keeps freed arrays in the process's heap
(``perf.allocator.apply_default_policy``; opt out with ``TINYTORCH_ALLOCATOR=system``).
"""

from __future__ import annotations

# The PyTorch-style faces, so that `import tinytorch as torch` alone reaches torch.nn, torch.optim,
# torch.utils.data (plain imports of modules that import only core: no side effects, no cycle).
from tinytorch import nn, optim, utils
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
from tinytorch.core.attention import KVCache, MultiHeadAttention, scaled_dot_product_attention

# --- The PyTorch surface: top-level functions, dtypes, devices, save/load (issue 16) ---------
from tinytorch.core.autograd import (
    Function,
    detect_anomaly,
    enable_autograd,
    enable_grad,
    gradcheck,
    inference_mode,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
)
from tinytorch.core.dataloader import DataLoader, Dataset, TensorDataset
from tinytorch.core.dtypes import (
    backends,
    cuda,
    device,
    double,
    float16,
    float32,
    float64,
    half,
    int8,
    int16,
    int32,
    int64,
    long,
    short,
    uint8,
)
from tinytorch.core.dtypes import (
    bool as bool,
)
from tinytorch.core.dtypes import (
    float as float,
)
from tinytorch.core.dtypes import (
    int as int,
)
from tinytorch.core.embeddings import Embedding, EmbeddingLayer, PositionalEncoding
from tinytorch.core.functions import (
    abs as abs,
)
from tinytorch.core.functions import (
    all as all,
)
from tinytorch.core.functions import (
    allclose,
    argmax,
    argmin,
    argsort,
    as_tensor,
    bmm,
    chunk,
    clamp,
    clip,
    einsum,
    empty,
    empty_like,
    eq,
    exp,
    flatten,
    from_numpy,
    full,
    full_like,
    gather,
    ge,
    gt,
    index_select,
    is_tensor,
    le,
    linspace,
    log,
    log_softmax,
    lt,
    masked_fill,
    matmul,
    mean,
    mm,
    multinomial,
    ne,
    norm,
    numel,
    permute,
    rand_like,
    randint,
    randn_like,
    relu,
    reshape,
    sigmoid,
    softmax,
    sort,
    split,
    sqrt,
    square,
    squeeze,
    std,
    t,
    tanh,
    tensor,
    topk,
    transpose,
    tril,
    triu,
    unsqueeze,
    var,
)
from tinytorch.core.functions import (
    any as any,
)
from tinytorch.core.functions import (
    max as max,
)
from tinytorch.core.functions import (
    min as min,
)
from tinytorch.core.functions import (
    pow as pow,
)
from tinytorch.core.functions import (
    sum as sum,
)
from tinytorch.core.layers import (
    Dense,
    Dropout,
    Flatten,
    Identity,
    Layer,
    Linear,
    Module,
    ModuleList,
    Sequential,
)
from tinytorch.core.losses import (
    BCELoss,
    BCEWithLogitsLoss,
    BinaryCrossEntropyLoss,
    CrossEntropyLoss,
    MSELoss,
)
from tinytorch.core.optimizers import SGD, Adam, AdamW, Optimizer, RMSprop
from tinytorch.core.rng import manual_seed
from tinytorch.core.spatial import (
    AvgPool2d,
    BatchNorm1d,
    BatchNorm2d,
    Conv2d,
    MaxPool2d,
)
from tinytorch.core.state_io import load, save
from tinytorch.core.tensor import (
    Parameter,
    Tensor,
    arange,
    cat,
    concat,
    eye,
    maximum,
    minimum,
    ones,
    ones_like,
    rand,
    randn,
    stack,
    where,
    zeros,
    zeros_like,
)
from tinytorch.core.tokenization import BPETokenizer, CharTokenizer, Tokenizer
from tinytorch.core.training import CosineSchedule, Trainer, clip_grad_norm
from tinytorch.core.transformer import GPT, LayerNorm, TinyGPT, TransformerBlock, create_causal_mask

# The allocator policy (issue 14): freed activations stay in the heap instead of page-faulting
# back in every step. One call, once; TINYTORCH_ALLOCATOR=system opts out.
from tinytorch.perf.allocator import apply_default_policy as _apply_allocator_policy  # noqa: E402

_apply_allocator_policy()

# ------------------------------------------------------------------------------------------------

__version__ = "0.1.0"

__all__ = [
    "Adam", "AdamW", "arange", "AvgPool2d", "BatchNorm1d", "BatchNorm2d", "BCELoss",
    "BCEWithLogitsLoss", "BinaryCrossEntropyLoss", "BPETokenizer", "cat", "CharTokenizer",
    "clip_grad_norm", "concat", "Conv2d", "CosineSchedule", "create_causal_mask",
    "CrossEntropyLoss", "DataLoader", "Dataset", "Dense", "detect_anomaly", "Dropout",
    "Embedding", "EmbeddingLayer", "enable_autograd", "enable_grad", "eye", "Flatten", "full",
    "Function", "GELU", "GPT", "gradcheck", "Identity", "is_grad_enabled", "KVCache", "Layer",
    "LayerNorm", "LeakyReLU", "Linear", "LogSoftmax", "manual_seed", "maximum", "MaxPool2d",
    "minimum", "Module", "ModuleList", "MSELoss", "MultiHeadAttention", "no_grad", "ones",
    "ones_like", "Optimizer", "Parameter", "PositionalEncoding", "rand", "randn", "ReLU",
    "RMSprop", "scaled_dot_product_attention", "Sequential", "set_grad_enabled", "SGD", "Sigmoid",
    "SiLU", "Softmax", "stack", "Tanh", "Tensor", "TensorDataset", "TinyGPT", "Tokenizer",
    "Trainer", "TransformerBlock", "where", "zeros", "zeros_like",
    "__version__",
    "nn", "optim", "utils",
]

# The PyTorch surface (issue 16). Names that would shadow builtins (max, sum, float, ...) are
# reachable as tinytorch.max etc. but left out of __all__, so `import *` never replaces them.
__all__ += [
    "allclose", "argmax", "argmin", "argsort", "as_tensor", "backends",
    "bmm", "chunk", "clamp", "clip", "cuda", "device", "double", "einsum", "empty",
    "empty_like", "eq", "exp", "flatten", "float16", "float32", "float64", "from_numpy",
    "full_like", "gather", "ge", "gt", "half", "index_select", "inference_mode", "int8",
    "int16", "int32", "int64", "is_tensor", "le", "linspace", "load", "log", "log_softmax",
    "long", "lt", "masked_fill", "matmul", "mean", "mm", "multinomial", "ne",
    "norm", "numel", "permute", "rand_like", "randint", "randn_like", "relu", "reshape",
    "save", "short", "sigmoid", "softmax", "sort", "split", "sqrt", "square", "squeeze", "std",
    "t", "tanh", "tensor", "topk", "transpose", "tril", "triu", "uint8", "unsqueeze",
    "var",
]
