"""Weight tying: one Parameter shared by two layers that store their matrices differently.

``Linear`` keeps its weight as (in_features, out_features), upstream's layout; ``Embedding``
keeps PyTorch's (num_embeddings, dim). A PyTorch program ties them by assignment
(``wte.weight = lm_head.weight``), so each matrix Parameter remembers the layout its layer made
it in, and a layer given another layer's weight uses it the right way round (transposed when
the layouts differ). The check runs at the assignment: a weight that cannot fit is refused
there, and a square one is never silently used transposed.

Example:
    >>> from tinytorch.core.tensor import Parameter
    >>> import numpy as np
    >>> w = mark_layout(Parameter(np.zeros((3, 5))), OUT_IN)
    >>> checked_matrix(w, IN_OUT, (5, 3), "Linear").shape
    (3, 5)
"""

from __future__ import annotations

from typing import Any

from tinytorch.core.errors import ShapeError, explain
from tinytorch.core.tensor import Parameter, Tensor

# A tensor that no layer marked is taken to be in the receiving layer's own layout.
IN_OUT, OUT_IN = "in_out", "out_in"


def mark_layout(p: Parameter, layout: str) -> Parameter:
    """Record ``p``'s layout (``IN_OUT`` or ``OUT_IN``) for layers it is later tied into."""
    p.__dict__["_layout"] = layout
    return p


def layout_of(p: Tensor, native: str) -> str:
    """The layout ``p`` was made in, or ``native`` for a tensor no layer marked."""
    return str(p.__dict__.get("_layout", native))


def checked_matrix(value: Any, native: str, in_out: tuple[int, int], who: str) -> Tensor:
    """``value`` if it can serve as a weight from ``in_out[0]`` to ``in_out[1]`` features.

    Raises:
        TypeError: ``value`` is not a Tensor.
        ShapeError: its shape does not fit in its layout (the error comes at the assignment,
            never at a later forward, and a square matrix is never silently used transposed).
    """
    if not isinstance(value, Tensor):
        raise TypeError(explain(
            what=f"{who}.weight was assigned a {type(value).__name__}",
            why="a weight is a Parameter (or Tensor) that the layer trains",
            fix="assign a Parameter, or write into the existing one: layer.weight.data[...] = x",
        ))
    layout = layout_of(value, native)
    expected = in_out if layout == IN_OUT else in_out[::-1]
    if value.shape != expected:
        made_by = "a Linear's (in, out)" if layout == IN_OUT else "PyTorch's (out, in)"
        raise ShapeError(explain(
            what=f"{who}.weight was assigned a tensor of shape {value.shape} stored in "
                 f"{made_by} layout, which would need shape {expected}",
            why=f"the layer maps {in_out[0]} features to {in_out[1]}; tying shares one "
                "Parameter, so both layers must agree on its size",
            fix="tie layers whose sizes match (Embedding(V, E) with Linear(E, V)), or assign "
                "a Parameter of the layer's own shape",
        ))
    return value


__all__ = ["IN_OUT", "OUT_IN", "checked_matrix", "layout_of", "mark_layout"]
