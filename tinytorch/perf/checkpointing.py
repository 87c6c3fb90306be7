"""Activation checkpointing: trade compute for memory by recomputing a block in backward.

A normal forward keeps, for every op, the arrays its backward needs (inputs, masks, softmax
weights): for a deep network these activations, not the weights, fill the memory between
forward and backward. ``checkpoint(block, x)`` runs the block *without recording* and keeps only
its input. When backward reaches it, the block runs again with recording on, and the gradient
flows through that fresh graph, which is freed straight away. The gradients are the same (the
same ops on the same numbers, with the random state replayed for dropout); the price is one
more forward of the block. ``checkpoint_sequential`` applies this to segments of a stack, so
that only the segment boundaries stay in memory: with k segments of an n-layer stack about
n / k + k activations are alive instead of n.

Two measurements back the claim (``tests/integration/test_acceleration_integration.py``):
``saved_activation_bytes`` adds up the arrays the graph behind an output keeps for backward,
and ``held_bytes`` traces (``tracemalloc``) how much memory a forward leaves allocated.

Example:
    >>> from tinytorch.core.layers import Linear
    >>> layer = Linear(4, 4)
    >>> x = Tensor(np.ones((2, 4)), requires_grad=True)
    >>> checkpoint(layer, x).sum().backward()
    >>> x.grad.shape, layer.weight.grad.shape
    ((2, 4), (4, 4))
"""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tinytorch.core import autograd
from tinytorch.core.autograd import Function, Node, enable_grad, no_grad
from tinytorch.core.errors import ConfigError, GraphError, explain
from tinytorch.core.rng import get_rng_state, set_rng_state
from tinytorch.core.tensor import Tensor

Array = np.ndarray


class Checkpoint(Function):
    """Run ``fn`` on the first ``n_inputs`` arrays without a graph; recompute it in backward.

    The trailing positional inputs are the parameters ``fn`` uses. They are inputs only so
    that the node is recorded when they (and not the data) require grad; their gradients are
    accumulated by the inner backward directly, so this backward returns None for them.
    """

    @staticmethod
    def forward(ctx: Node, *arrays: Array, fn: Callable[..., Tensor], n_inputs: int,
                preserve_rng_state: bool = True) -> Array:
        ctx.fn, ctx.inputs = fn, arrays[:n_inputs]
        ctx.rng_state = get_rng_state() if preserve_rng_state else None
        with no_grad():
            out = fn(*(Tensor._from_op(a, None) for a in ctx.inputs))
        if not isinstance(out, Tensor):
            raise GraphError(explain(
                what=f"checkpoint's function returned {type(out).__name__}",
                why="the checkpointed block must return one Tensor, whose gradient backward "
                    "pushes back through the recomputed block",
                fix="return a single Tensor (concatenate several outputs if you need them)",
            ))
        return out.data

    @staticmethod
    def backward(ctx: Node, grad: Array) -> tuple[Array | None, ...]:
        needs = ctx.needs_input_grad
        inputs = [Tensor._from_op(a, None) for a in ctx.inputs]
        for x, need in zip(inputs, needs, strict=False):
            x.requires_grad = need
        now = get_rng_state()
        if ctx.rng_state is not None:
            set_rng_state(ctx.rng_state)          # dropout draws the same masks again
        try:
            with enable_grad():
                out = ctx.fn(*inputs)
        finally:
            set_rng_state(now)
        if out.requires_grad:
            autograd.backward(out, grad)          # fills the parameters' .grad directly
        grads = tuple(x.grad.data if x.requires_grad and x.grad is not None else None
                      for x in inputs)
        return grads + (None,) * (len(needs) - len(inputs))


def checkpoint(fn: Callable[..., Tensor], *inputs: Any, parameters: Sequence[Tensor] | None = None,
               preserve_rng_state: bool = True) -> Tensor:
    """``fn(*inputs)``, keeping only the inputs for backward and recomputing the rest there.

    Args:
        fn: the block, e.g. a Module or a function of tensors returning one Tensor.
        inputs: its tensor inputs.
        parameters: the tensors ``fn`` learns (default: ``fn.parameters()`` when ``fn`` is a
            Module). They let the block train even when no input requires grad; a function or
            method that uses parameters must pass them here.
        preserve_rng_state: replay the random state in backward, so dropout masks match.

    Returns:
        The block's output; gradients equal those of a plain ``fn(*inputs)``.

    Raises:
        GraphError: ``fn`` did not return a Tensor.
    """
    params = list(parameters) if parameters is not None else \
        list(getattr(fn, "parameters", list)())
    tensors = [x if isinstance(x, Tensor) else Tensor(x) for x in inputs]
    return Checkpoint.apply(*tensors, *params, fn=fn, n_inputs=len(tensors),
                            preserve_rng_state=preserve_rng_state)


def checkpoint_sequential(layers: Sequence[Any], segments: int, x: Any,
                          preserve_rng_state: bool = True) -> Tensor:
    """Run a stack of layers in ``segments`` pieces, checkpointing all but the last.

    Only each segment's input stays in memory until backward (the last segment runs normally:
    its activations are needed right away). ``layers`` may be a ``Sequential`` or a list.

    Raises:
        ConfigError: ``segments`` is not between 1 and the number of layers.

    Example:
        >>> from tinytorch.core.layers import Linear, Sequential
        >>> stack = Sequential(Linear(3, 3), Linear(3, 3), Linear(3, 2))
        >>> checkpoint_sequential(stack, 2, np.ones((1, 3))).shape
        (1, 2)
    """
    layers = list(layers)
    if isinstance(segments, bool) or not isinstance(segments, int) \
            or not 1 <= segments <= len(layers):
        raise ConfigError(explain(
            what=f"checkpoint_sequential got segments={segments!r} for {len(layers)} layers",
            why="each segment holds at least one layer",
            fix=f"pass an integer from 1 to {len(layers)}",
        ))
    bounds = np.linspace(0, len(layers), segments + 1).round().astype(int)
    out = x if isinstance(x, Tensor) else Tensor(x)
    for index, (start, stop) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):
        piece = layers[start:stop]
        if index == segments - 1:
            out = _run(piece, out)
        else:
            params = [p for layer in piece for p in getattr(layer, "parameters", list)()]
            out = checkpoint(lambda t, piece=piece: _run(piece, t), out, parameters=params,
                             preserve_rng_state=preserve_rng_state)
    return out


def _run(layers: Sequence[Any], x: Tensor) -> Tensor:
    for layer in layers:
        x = layer(x)
    return x


# --- Measuring what backward keeps ---------------------------------------------------------------


def _arrays_in(value: Any) -> list[Array]:
    if isinstance(value, np.ndarray):
        return [value]
    if isinstance(value, (list, tuple)):
        return [a for item in value for a in _arrays_in(item)]
    return []


def saved_activation_bytes(output: Tensor) -> int:
    """Bytes of the arrays that the graph behind ``output`` keeps for its backward pass.

    Every node's saved arrays (``save_for_backward`` and arrays stored on its ctx) are counted
    once, except the data of leaf tensors (weights, inputs), which exist anyway.

    Example:
        >>> x = Tensor(np.ones(1000), requires_grad=True)
        >>> saved_activation_bytes((x.exp() * 2.0).exp())   # exp keeps its output, twice
        8000
    """
    leaves: set[int] = set()
    seen: dict[int, int] = {}
    stack = [output.grad_fn] if output.grad_fn is not None else []
    visited: set[int] = set()
    while stack:
        node = stack.pop()
        if id(node) in visited:
            continue
        visited.add(id(node))
        for array in _arrays_in(node.saved_tensors) + _arrays_in(list(vars(node).values())):
            seen[id(array)] = array.nbytes
        for parent in node.parents:
            child = getattr(parent, "grad_fn", None)
            if child is not None:
                stack.append(child)
            elif isinstance(parent, Tensor):
                leaves.add(id(parent.data))
    return int(sum(n for key, n in seen.items() if key not in leaves))


def held_bytes(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, int]:
    """Run ``fn`` and return (its result, the traced bytes still allocated while it is held).

    ``tracemalloc`` sees NumPy's allocations, so this is the memory a forward leaves behind for
    backward (the output plus the graph's saved arrays), measured rather than estimated.
    """
    gc.collect()
    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        result = fn(*args, **kwargs)
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        if started:
            tracemalloc.stop()
    return result, max(0, after - before)


__all__ = ["Checkpoint", "checkpoint", "checkpoint_sequential", "held_bytes",
           "saved_activation_bytes"]
