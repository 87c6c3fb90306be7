"""tinytorch: a complete, correct and fast deep-learning framework on NumPy, built to be read.

The everyday names are re-exported here; each lives in the module of the course that
introduces it (``tinytorch.core.*`` for the framework, ``tinytorch.perf.*`` for the systems
modules). Importing tinytorch has no side effects.
"""

from __future__ import annotations

from tinytorch.core.activations import GELU, LeakyReLU, LogSoftmax, ReLU, Sigmoid, SiLU, Softmax, Tanh
from tinytorch.core.autograd import (
    Function,
    detect_anomaly,
    enable_autograd,
    enable_grad,
    gradcheck,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
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
from tinytorch.core.rng import manual_seed
from tinytorch.core.tensor import (
    Parameter,
    Tensor,
    arange,
    cat,
    concat,
    eye,
    full,
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

__version__ = "0.1.0"
