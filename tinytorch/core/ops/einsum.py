"""Einstein summation: any product-and-sum of tensors named by index letters.

The backward is itself an einsum: the gradient of operand i contracts the upstream gradient
with every other operand, producing operand i's letters. A letter that only operand i has
(summed away in the forward) is restored by broadcasting, since the sum's backward is a copy.
"""

from __future__ import annotations

import string

import numpy as np

from tinytorch.core.autograd import Function, Node
from tinytorch.core.errors import ShapeError, explain

Array = np.ndarray


def parse_equation(equation: str, ndims: list[int]) -> tuple[list[str], str]:
    """The letters of each operand and of the output, with ``...`` spelled out as letters.

    Example:
        >>> parse_equation("ij,jk", [2, 2])
        (['ij', 'jk'], 'ik')
        >>> parse_equation("...ij->...ji", [3])
        (['Aij'], 'Aji')
    """
    equation = equation.replace(" ", "")
    inputs, arrow, output = equation.partition("->")
    terms = inputs.split(",")
    if len(terms) != len(ndims):
        raise ShapeError(explain(
            what=f"einsum equation {equation!r} names {len(terms)} operand(s), got {len(ndims)}",
            why="each comma-separated term describes one operand",
            fix="pass one tensor per term",
        ))
    spare = [c for c in string.ascii_uppercase if c not in equation]
    width = max((n - len(t.replace("...", "")) for t, n in zip(terms, ndims, strict=True)
                 if "..." in t), default=0)
    ellipsis = "".join(spare[:width])
    terms = [t.replace("...", ellipsis[width - (n - len(t.replace("...", ""))):])
             for t, n in zip(terms, ndims, strict=True)]
    if not arrow:
        letters = "".join(terms)
        output = ellipsis + "".join(sorted(c for c in set(letters)
                                           if letters.count(c) == 1 and c not in ellipsis))
    return terms, output.replace("...", ellipsis)


class Einsum(Function):
    """out = np.einsum(equation, *operands)."""

    @staticmethod
    def forward(ctx: Node, *operands: Array, equation: str) -> Array:
        terms, output = parse_equation(equation, [o.ndim for o in operands])
        ctx.save_for_backward(*operands)
        ctx.terms, ctx.output = terms, output
        spelled = ",".join(terms) + "->" + output
        return np.asarray(np.einsum(spelled, *operands, optimize=len(operands) > 2))

    @staticmethod
    def backward(ctx: Node, grad: Array) -> tuple[Array | None, ...]:
        operands, terms = ctx.saved_tensors, ctx.terms
        grads: list[Array | None] = []
        for i, term in enumerate(terms):
            if not ctx.needs_input_grad[i]:
                grads.append(None)
                continue
            _require_distinct(term)
            others = [t for j, t in enumerate(terms) if j != i]
            known = set(ctx.output).union(*others)
            reachable = "".join(c for c in term if c in known)
            spelled = ",".join([ctx.output, *others]) + "->" + reachable
            rest = [o for j, o in enumerate(operands) if j != i]
            g = np.einsum(spelled, grad, *rest, optimize=len(rest) > 1)
            missing = [k for k, c in enumerate(term) if c not in known]
            g = np.broadcast_to(np.expand_dims(g, missing), operands[i].shape)
            grads.append(g)
        return tuple(grads)


def _require_distinct(term: str) -> None:
    if len(set(term)) != len(term):
        raise ShapeError(explain(
            what=f"einsum term {term!r} repeats a letter (a diagonal) and needs a gradient",
            why="the backward of a diagonal is not supported by tinytorch's einsum",
            fix="take the diagonal without a gradient, or use an explicit mask and sum",
        ))
