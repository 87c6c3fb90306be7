"""Load a PyTorch program as written, or with its imports swapped to tinytorch; compare runs.

The swap is the one a user makes: ``import torch`` becomes ``import tinytorch as torch``,
``import torch.nn as nn`` becomes ``import tinytorch.nn as nn``, ``from torch.x import y``
becomes ``from tinytorch.x import y``. Nothing else in the program changes.
"""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path
from typing import Any

import numpy as np

from tinytorch.core.tying import IN_OUT, OUT_IN, layout_of

PROGRAMS = Path(__file__).parent / "programs"

_SWAPS = [
    (re.compile(r"^(\s*)import torch$", re.M), r"\1import tinytorch as torch"),
    (re.compile(r"^(\s*)import torch\.(\S+) as (\w+)$", re.M), r"\1import tinytorch.\2 as \3"),
    (re.compile(r"^(\s*)from torch(\.\S+)? import ", re.M), r"\1from tinytorch\2 import "),
]


def swapped_source(source: str) -> str:
    """The program's text with its torch imports pointing at tinytorch."""
    for pattern, replacement in _SWAPS:
        source = pattern.sub(replacement, source)
    return source


def load_program(name: str, framework: str) -> types.ModuleType:
    """Execute ``programs/<name>.py`` as written ("torch") or import-swapped ("tinytorch")."""
    path = PROGRAMS / f"{name}.py"
    source = path.read_text()
    if framework == "tinytorch":
        source = swapped_source(source)
        assert "import torch" not in source.replace("import tinytorch", ""), "swap incomplete"
    module = types.ModuleType(f"pytorch_compat_{name}_{framework}")
    module.__file__ = str(path)
    sys.modules[module.__name__] = module  # dataclasses look their module up while defining
    exec(compile(source, str(path), "exec"), module.__dict__)  # noqa: S102  (our own test file)
    return module


def to_numpy(x: Any) -> np.ndarray:
    """The array behind a torch or tinytorch tensor (or anything array-like)."""
    if hasattr(x, "detach") and hasattr(x.detach(), "cpu"):
        return x.detach().cpu().numpy()
    return np.asarray(getattr(x, "data", x))


def dtype_name(x: Any) -> str:
    """'float32', 'int64', ... for a torch or tinytorch tensor."""
    return str(x.dtype).removeprefix("torch.")


def copy_weights(theirs: Any, ours: Any) -> None:
    """Give the tinytorch model the torch model's parameters and buffers, by name.

    Matrices that tinytorch stores as (in, out) (``Linear``, a tied head) are transposed from
    PyTorch's (out, in); everything else (convolutions, embeddings, norms) copies as is.
    """
    our_params = dict(ours.named_parameters())
    their_params = dict(theirs.named_parameters())
    assert list(our_params) == list(their_params), (list(our_params), list(their_params))
    for name, p in our_params.items():
        value = to_numpy(their_params[name])
        if layout_of(p, OUT_IN) == IN_OUT and value.ndim == 2:
            value = value.T
        p.data[...] = value
    our_buffers = dict(ours.named_buffers())
    for name, buffer in theirs.named_buffers():
        if name in our_buffers and hasattr(our_buffers[name], "data"):
            our_buffers[name].data[...] = to_numpy(buffer)


def grads_by_name(model: Any) -> dict[str, np.ndarray]:
    """Each parameter's gradient in PyTorch's layout, by name."""
    out = {}
    for name, p in model.named_parameters():
        grad = to_numpy(p.grad)
        if layout_of(p, OUT_IN) == IN_OUT and grad.ndim == 2:
            grad = grad.T
        out[name] = grad
    return out
