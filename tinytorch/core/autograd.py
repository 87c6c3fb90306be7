"""Reverse-mode automatic differentiation: graph nodes, the Function contract, and the engine.

An op is a ``Function`` with ``forward(ctx, *arrays, **params)`` and ``backward(ctx, grad)``
side by side, working on NumPy arrays. ``Function.apply`` runs the forward and, when some input
requires a gradient and grad mode is on, records a ``Node``: at once the op's ``ctx`` (saved
values) and the output's ``grad_fn``. ``backward`` walks the recorded graph once, iteratively,
in topological order.

The engine works on the tensor *protocol* (``data``, ``requires_grad``, ``grad``, ``grad_fn``),
never on the concrete class, with one sanctioned exception: ``Function.apply`` must wrap its
output in a ``Tensor`` (see ``_tensor_type``).
"""

from __future__ import annotations

import contextlib
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from tinytorch.core.broadcasting import broadcasts_to, unbroadcast
from tinytorch.core.errors import GraphError, ShapeError, TinyTorchError, explain

if TYPE_CHECKING:  # type-only: at run time apply imports Tensor lazily (see _tensor_type)
    from tinytorch.core.tensor import Tensor

# --- Grad mode ------------------------------------------------------------------------------

_grad_enabled = True


def is_grad_enabled() -> bool:
    """True when new operations record the graph needed for ``backward``."""
    return _grad_enabled


class set_grad_enabled(contextlib.ContextDecorator):  # noqa: N801  (PyTorch's name)
    """Turn graph recording on or off inside a ``with`` block or a decorated function."""

    def __init__(self, mode: bool) -> None:
        self.mode = bool(mode)
        self._previous: list[bool] = []

    def __enter__(self) -> None:
        global _grad_enabled
        self._previous.append(_grad_enabled)
        _grad_enabled = self.mode

    def __exit__(self, *exc: object) -> None:
        global _grad_enabled
        _grad_enabled = self._previous.pop()


class no_grad(set_grad_enabled):  # noqa: N801
    """Record no graph: for evaluation, inference and optimizer updates.

    Works as ``with no_grad():``, as ``@no_grad()`` and, as in PyTorch, as a bare ``@no_grad``.

    Example:
        >>> @no_grad
        ... def predict(x):
        ...     return is_grad_enabled()
        >>> predict(1), is_grad_enabled()
        (False, True)
    """

    def __new__(cls, func: Callable[..., Any] | None = None) -> Any:
        if func is None:
            return super().__new__(cls)
        return cls()(func)  # a bare @no_grad: decorate with a fresh instance

    def __init__(self, func: Callable[..., Any] | None = None) -> None:
        super().__init__(False)


class inference_mode(set_grad_enabled):  # noqa: N801
    """PyTorch's stricter no_grad; here the same thing (``inference_mode(False)`` records)."""

    def __init__(self, mode: bool = True) -> None:
        super().__init__(not mode)


class enable_grad(set_grad_enabled):  # noqa: N801
    """Record the graph again, even inside a ``no_grad`` block."""

    def __init__(self) -> None:
        super().__init__(True)


# --- Instrumentation: op observers (the profiler's hook) and anomaly detection ---------------

_op_observers: list[Callable[[str, float], None]] = []
_event_observers: list[Callable[[OpEvent], None]] = []
_detect_anomaly = False
_instrumented = False  # the single flag Function.apply and the engine check on their fast path


def _refresh_instrumented() -> None:
    global _instrumented
    _instrumented = bool(_op_observers) or bool(_event_observers) or _detect_anomaly


class OpEvent(NamedTuple):
    """One timed run of an op's forward or backward, as a detailed observer sees it.

    ``node`` is the op's ctx, the same object in both phases, so an observer can pair a
    backward with its forward. ``inputs`` are the forward's arrays (backward: the upstream
    gradient alone); ``output`` the forward's result (backward: the gradients it returned);
    ``params`` the forward's keyword parameters (backward: empty). Times are
    ``time.perf_counter_ns`` readings.
    """

    op: str
    phase: str
    node: Node
    inputs: tuple[Any, ...]
    output: Any
    params: dict[str, Any]
    start_ns: int
    duration_ns: int


@contextlib.contextmanager
def observe_ops(callback: Callable[..., None], detailed: bool = False) -> Iterator[None]:
    """Call ``callback(op_name, seconds)`` after every forward of a Function inside the block.

    With ``detailed=True`` the callback instead receives one ``OpEvent`` per forward *and*
    per backward of every op (the profiler's view).
    """
    observers: list[Any] = _event_observers if detailed else _op_observers
    observers.append(callback)
    _refresh_instrumented()
    try:
        yield
    finally:
        observers.remove(callback)
        _refresh_instrumented()


class AnomalyError(TinyTorchError, FloatingPointError):
    """An op produced NaN or Inf while anomaly detection was on."""


@contextlib.contextmanager
def detect_anomaly(enabled: bool = True) -> Iterator[None]:
    """Stop at the first op whose forward or backward produces NaN or Inf, naming the op."""
    global _detect_anomaly
    previous = _detect_anomaly
    _detect_anomaly = enabled
    _refresh_instrumented()
    try:
        yield
    finally:
        _detect_anomaly = previous
        _refresh_instrumented()


def _check_finite(array: np.ndarray, op: str, stage: str) -> None:
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        bad = int(np.size(array) - np.isfinite(array).sum())
        raise AnomalyError(explain(
            what=f"{op} produced {bad} non-finite value(s) (NaN or Inf) in its {stage}",
            why="anomaly detection stops at the first op whose result is not finite",
            fix="inspect that op's inputs: a log of 0, a division by 0 or an overflowing exp "
                "are the usual causes; lower the learning rate or clip the inputs",
        ))


# --- Graph nodes and the Function contract ---------------------------------------------------


class Node:
    """One recorded op: the ``ctx`` its forward and backward share, and its output's ``grad_fn``.

    Attributes:
        function: the Function class that made it.
        parents: the op's positional inputs (tensors, or None for constants).
        needs_input_grad: per input, whether backward must compute its gradient.
        saved_tensors: arrays stashed by ``save_for_backward``.

    A forward may also set free attributes on its ``ctx`` (an axis, a mask); they live in
    ``__dict__`` and are dropped with the saved arrays once backward has run.
    """

    __slots__ = ("function", "parents", "needs_input_grad", "saved_tensors", "released",
                 "__dict__")

    def __init__(self, function: type[Function], parents: tuple[Any, ...],
                 needs_input_grad: tuple[bool, ...]) -> None:
        self.function = function
        self.parents = parents
        self.needs_input_grad = needs_input_grad
        self.saved_tensors: tuple[Any, ...] = ()
        self.released = False

    def save_for_backward(self, *values: Any) -> None:
        """Keep ``values`` (arrays) until backward runs."""
        self.saved_tensors = values
        if _versions:  # something was changed in place: note when these were saved
            self._saved_epoch = _epoch

    if TYPE_CHECKING:  # free attributes set by a forward (ctx.axis = ...), for type checkers only
        def __getattr__(self, name: str) -> Any: ...

        def __setattr__(self, name: str, value: Any) -> None: ...

    @property
    def name(self) -> str:
        """The node's readable name, e.g. ``MulBackward`` (also its class name)."""
        return type(self).__name__ if type(self) is not Node else _node_name(self.function)

    @property
    def next_functions(self) -> tuple[tuple[Node | None, int], ...]:
        """The parents' nodes, as PyTorch exposes them (None for leaves and constants)."""
        return tuple((getattr(p, "grad_fn", None), 0) for p in self.parents)

    def release(self) -> None:
        """Drop saved values, free attributes and parent links so their memory is reclaimed."""
        self.__dict__.clear()
        self.parents = ()
        self.saved_tensors = ()
        self.released = True

    def __repr__(self) -> str:
        return f"<{self.name}>"


def _node_name(function: type) -> str:
    """``<Op>Backward``, with Op the Function's ``op_name`` (its class name by default)."""
    return f"{function.__dict__.get('op_name', function.__name__)}Backward"


# --- In-place versions: a saved array changed in place must not give a silently wrong gradient ---
# Each array changed in place by a Tensor in-place method has an entry here, keyed by the id of
# the array owning the memory (views share their base's entry, as in PyTorch): its version (how
# many changes) and the epoch of its last change, where the epoch counts every in-place change
# in the process. A Node notes the epoch when it saves arrays; backward has nothing to check
# when no change happened since, and otherwise looks up each saved array. While nothing was
# ever changed in place the dict is empty, and each of the two checks costs one `if`.

_versions: dict[int, list[int]] = {}  # memory owner's id -> [version, epoch of the last change]
_epoch = 0


def _memory_owner(array: Any) -> Any:
    base = array
    while isinstance(getattr(base, "base", None), np.ndarray):
        base = base.base
    return base


def bump_version(array: np.ndarray) -> int:
    """Record that ``array`` (and every view of its memory) was changed in place."""
    global _epoch
    _epoch += 1
    owner = _memory_owner(array)
    key = id(owner)
    entry = _versions.get(key)
    if entry is None:
        weakref.finalize(owner, _versions.pop, key, None)  # forget it when the array dies
        entry = _versions[key] = [0, 0]
    entry[0] += 1
    entry[1] = _epoch
    return entry[0]


def _check_versions(node: Node) -> None:
    """Raise if an array ``node`` saved for backward was changed in place since."""
    saved_at = getattr(node, "_saved_epoch", 0)
    if saved_at == _epoch:
        return  # nothing at all was changed in place since the save
    for i, value in enumerate(node.saved_tensors):
        entry = _versions.get(id(_memory_owner(value))) if isinstance(value, np.ndarray) else None
        if entry is not None and entry[1] > saved_at:
            raise GraphError(explain(
                what=f"a tensor needed by {node.name} for gradient computation was modified by "
                     f"an in-place operation after it was saved (saved value {i}, now at "
                     f"version {entry[0]})",
                why="backward needs the values the forward used; changing them in place "
                    "afterwards would give a silently wrong gradient",
                fix="use the out-of-place form (y = y.add(1) instead of y.add_(1)), or .clone() "
                    "the tensor before changing it",
            ))


def _tensor_type() -> type:
    # The one upward import (see the module docstring): apply must return a Tensor.
    global _TENSOR
    from tinytorch.core.tensor import Tensor

    _TENSOR = Tensor
    return Tensor


class Function:
    """Base class of every differentiable op. Subclasses define two static methods.

    ``forward(ctx, *arrays, **params) -> array`` computes the result from NumPy arrays;
    ``backward(ctx, grad) -> array | tuple`` returns one gradient (or None) per positional
    input, in that input's shape or in the broadcast shape of the forward.

    Example:
        >>> class Double(Function):
        ...     @staticmethod
        ...     def forward(ctx, x):
        ...         return 2 * x
        ...     @staticmethod
        ...     def backward(ctx, grad):
        ...         return 2 * grad
        >>> Double.apply(np.ones(2, dtype=np.float32)).tolist()
        [2.0, 2.0]
    """

    node_type: type[Node] = Node  # replaced per subclass by <Op>Backward (see __init_subclass__)
    sets_dtype = False  # True for an op whose result dtype is asked for (a cast): kept as is

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # One cached Node subclass per op, so type(y.grad_fn).__name__ reads "MulBackward" as
        # in PyTorch. A subclass may set op_name to name itself as users know it ("Conv2d").
        super().__init_subclass__(**kwargs)
        attributes = {"__slots__": (), "__module__": cls.__module__}
        cls.node_type = type(_node_name(cls), (Node,), attributes)

    @staticmethod
    def forward(ctx: Node, *args: Any, **params: Any) -> np.ndarray:
        raise NotImplementedError

    @staticmethod
    def backward(ctx: Node, grad: np.ndarray) -> Any:
        raise NotImplementedError

    @classmethod
    def apply(cls, *inputs: Any, **params: Any) -> Tensor:
        """Run the forward on the inputs' arrays and record the graph when it is needed.

        This is the hot path of every op (a few microseconds matter at batch size 1): one
        pass over the inputs, no graph bookkeeping beyond the Node under ``no_grad``, and the
        dtype fix-up below checked only when the output is float64.
        """
        tensor: Any = _TENSOR or _tensor_type()
        arrays = []
        needs = []
        record = False
        for x in inputs:
            if isinstance(x, tensor):
                arrays.append(x.data)
                grad = x.requires_grad
                needs.append(grad)
                record = record or grad
            else:  # a constant: Python numbers stay Python numbers so they keep the tensor's dtype
                arrays.append(x if type(x) in _PYTHON_NUMBERS else _constant(x, inputs))
                needs.append(False)
        record = record and _grad_enabled
        ctx = cls.node_type(cls, inputs, tuple(needs))
        try:
            data = _forward_instrumented(cls, ctx, arrays, params) if _instrumented \
                else cls.forward(ctx, *arrays, **params)
        except ValueError as exc:
            raise _forward_error(cls, exc, arrays) from None
        if (getattr(data, "dtype", None) is _FLOAT64 and not cls.sets_dtype
                and not any(_is_float64(a) for a in arrays)):
            data = data.astype(np.float32)  # integers mixed with floats: float32, as in PyTorch
        result: Tensor = tensor._from_op(data, ctx if record else None)
        return result


_FLOAT64 = np.dtype(np.float64)  # dtype singletons: an identity test is the cheapest check
_TENSOR: Any = None              # the Tensor class, cached by _tensor_type on first use


def _is_float64(value: Any) -> bool:
    # not `getattr(value, "dtype", None) == float64`: NumPy reads None as the default, float64
    return isinstance(value, (np.ndarray, np.generic)) and value.dtype == np.float64


_PYTHON_NUMBERS = (int, float, bool)  # exact types: NumPy scalars are not "weak" like these


def _constant(value: Any, inputs: tuple[Any, ...]) -> np.ndarray:
    """An array constant; floating constants follow the first floating tensor input's dtype."""
    array = np.asarray(getattr(value, "data", value))
    if array.dtype.kind not in "fiub":
        return _tensor_type()(array).data  # lets Tensor raise its clear dtype error
    if array.dtype.kind in "fiu":
        for x in inputs:
            dtype = getattr(getattr(x, "data", None), "dtype", None)
            if dtype is not None and dtype.kind == "f":
                return array.astype(dtype, copy=False)
    return array


def _forward_error(cls: type[Function], exc: ValueError, arrays: list[Any]) -> Exception:
    """The exception to raise for a forward's ValueError: NumPy's broadcast error, explained."""
    if isinstance(exc, TinyTorchError) or "broadcast" not in str(exc):
        return exc
    shapes = " and ".join(str(np.shape(a)) for a in arrays)
    return ShapeError(explain(
        what=f"{cls.__name__} cannot combine operands of shapes {shapes}",
        why="aligned from the right, each pair of sizes must be equal or one of them must be 1",
        fix="reshape or unsqueeze an operand so that its axes line up with the other's",
    ))


def _forward_instrumented(cls: type[Function], ctx: Node, arrays: list[Any],
                          params: dict[str, Any]) -> Any:
    start = time.perf_counter_ns()
    data = cls.forward(ctx, *arrays, **params)
    elapsed = time.perf_counter_ns() - start
    for observer in list(_op_observers):
        observer(cls.__name__, elapsed * 1e-9)
    if _event_observers:
        event = OpEvent(cls.__name__, "forward", ctx, tuple(arrays), data, params, start, elapsed)
        for detailed in list(_event_observers):
            detailed(event)
    if _detect_anomaly:
        _check_finite(np.asarray(data), cls.__name__, "forward output")
    return data


# --- The backward engine -----------------------------------------------------------------------


class SliceGradient:
    """A gradient that is zero except in one basic slice: what a slicing op's backward returns.

    Materialized it would be a zero array of the input's full shape with ``values`` written in
    at ``index``. The engine instead adds ``values`` into one buffer per input, so an input
    sliced three ways (q, k and v out of one projection) costs one zero-filled array, not three
    plus two full-size sums. Anything else that reads it (``np.asarray``) gets the dense array.
    """

    __slots__ = ("index", "shape", "values")

    def __init__(self, shape: tuple[int, ...], index: Any, values: np.ndarray) -> None:
        self.shape, self.index, self.values = shape, index, values

    @property
    def nbytes(self) -> int:
        """The bytes it really holds: its values (the zeros around them are never stored)."""
        return int(self.values.nbytes)

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        dense = np.zeros(self.shape, dtype=self.values.dtype if dtype is None else dtype)
        dense[self.index] = self.values
        return dense


def _add_dense(pending: dict[int, np.ndarray], owned: set[int], key: int,
               grad: np.ndarray) -> None:
    """Add a gradient into the one already at ``pending[key]``: in place into a buffer the
    engine allocated itself (nobody else can hold it), otherwise into a new buffer that the
    engine then owns. (A first gradient is stored as it is: the op may still hold it.)"""
    current = pending[key]
    if id(current) in owned and current.dtype == grad.dtype:
        current += grad
    else:
        total = current + grad
        owned.discard(id(current))
        owned.add(id(total))
        pending[key] = total


def _add_slice(pending: dict[int, np.ndarray], owned: set[int], key: int,
               grad: SliceGradient) -> None:
    """Add a slice gradient into ``pending[key]``, in place when the engine owns that buffer."""
    current = pending.get(key)
    if current is None or id(current) not in owned:   # another op may still hold `current`
        buffer = np.zeros(grad.shape, grad.values.dtype) if current is None else current.copy()
        owned.add(id(buffer))
        pending[key] = current = buffer
    current[grad.index] += grad.values


def _topological_order(root: Node) -> list[Node]:
    """Nodes reachable from ``root``, each once, every node before the nodes it feeds from."""
    order: list[Node] = []
    visited = {id(root)}
    stack: list[tuple[Node, Iterator[Any]]] = [(root, iter(root.parents))]
    while stack:
        node, parents = stack[-1]
        for parent in parents:
            child = getattr(parent, "grad_fn", None)
            if child is not None and id(child) not in visited:
                visited.add(id(child))
                stack.append((child, iter(child.parents)))
                break
        else:
            stack.pop()
            order.append(node)
    order.reverse()  # post-order reversed: consumers first
    return order


def _fit_to_input(grad: Any, input_shape: tuple[int, ...], node: Node) -> np.ndarray:
    """Bring a gradient to its input's shape, or fail naming the op that got it wrong."""
    if type(grad) is not np.ndarray:
        grad = np.asarray(grad)
    if grad.shape == input_shape:
        return grad
    if not broadcasts_to(input_shape, grad.shape):
        raise ShapeError(explain(
            what=f"{node.name} returned a gradient of shape {grad.shape} "
                 f"for an input of shape {input_shape}",
            why="a gradient must have its input's shape, or a shape that input was broadcast to",
            fix=f"check {node.function.__name__}.backward; a reduction may need its axis restored",
        ))
    return unbroadcast(grad, input_shape)


def _freed_graph_error(node: Node) -> GraphError:
    return GraphError(explain(
        what=f"backward reached {node.name}, whose saved values were already freed",
        why="a graph is freed after its first backward pass to save memory",
        fix="pass retain_graph=True to the first backward() if you need to backpropagate twice, "
            "or recompute the forward pass",
    ))


def backward(root: Any, gradient: Any = None, retain_graph: bool = False) -> None:
    """Accumulate d(root)/d(leaf) into ``leaf.grad`` for every leaf that requires grad.

    Args:
        root: the tensor to differentiate (usually a scalar loss).
        gradient: d(something)/d(root); may be omitted only when ``root`` has one element.
        retain_graph: keep saved values so the graph can be backpropagated again.

    Raises:
        GraphError: root needs no gradient, is not a scalar and no gradient was given, or the
            graph was freed by an earlier backward.
    """
    seed = _seed_gradient(root, gradient)
    if root.grad_fn is None:
        _accumulate_leaf(root, seed, set())
        return
    pending: dict[int, np.ndarray] = {id(root.grad_fn): seed}
    owned: set[int] = set()  # ids of pending buffers the engine allocated (see _add_slice)
    stored: set[int] = set()
    for node in _topological_order(root.grad_fn):
        grad = pending.pop(id(node), None)
        if grad is None:
            continue
        owned.discard(id(grad))
        if node.released:
            raise _freed_graph_error(node)
        if _versions:
            _check_versions(node)
        if _instrumented:
            grads = _backward_instrumented(node, grad)
        else:
            grads = node.function.backward(node, grad)
        if not isinstance(grads, tuple):
            grads = (grads,)
        for parent, g in zip(node.parents, grads, strict=False):
            if g is None or not getattr(parent, "requires_grad", False):
                continue
            child = parent.grad_fn
            if type(g) is SliceGradient and child is not None and not parent._retains_grad:
                _add_slice(pending, owned, id(child), g)
                continue
            if type(g) is not np.ndarray or g.shape != parent.data.shape:
                g = _fit_to_input(g, parent.data.shape, node)
            if child is None:
                _accumulate_leaf(parent, g, stored)
                continue
            key = id(child)
            if key in pending:
                _add_dense(pending, owned, key, g)
            else:
                pending[key] = g                    # the first gradient, not owned
            if parent._retains_grad:
                _accumulate_leaf(parent, g, stored)
        if not retain_graph:
            node.release()


def _backward_instrumented(node: Node, grad: np.ndarray) -> Any:
    """One node's backward, timed for detailed observers and checked under detect_anomaly."""
    start = time.perf_counter_ns()
    grads = node.function.backward(node, grad)
    elapsed = time.perf_counter_ns() - start
    if _event_observers:
        event = OpEvent(node.function.__name__, "backward", node, (grad,), grads, {}, start,
                        elapsed)
        for detailed in list(_event_observers):
            detailed(event)
    if _detect_anomaly:
        for g in grads if isinstance(grads, tuple) else (grads,):
            if g is not None:
                _check_finite(np.asarray(g), node.name, "backward gradient")
    return grads


def _seed_gradient(root: Any, gradient: Any) -> np.ndarray:
    if not root.requires_grad:
        raise GraphError(explain(
            what=f"backward() was called on a tensor of shape {root.shape} that does not "
                 "require grad",
            why="no input of the computation had requires_grad=True (or it ran under no_grad), "
                "so there is no graph to differentiate",
            fix="create the parameters with requires_grad=True and compute outside no_grad()",
        ))
    if root.grad_fn is not None and root.grad_fn.released:
        raise _freed_graph_error(root.grad_fn)
    if gradient is None:
        if root.data.size != 1:
            raise GraphError(explain(
                what=f"backward() was called without a gradient on a tensor of shape {root.shape}",
                why="an implicit gradient of 1 is only defined for a single-element output",
                fix="reduce the output to a scalar first (e.g. loss.sum() or loss.mean()), or pass "
                    "backward(gradient=...) with the output's shape",
            ))
        return np.ones(root.shape, dtype=root.data.dtype)
    seed = np.asarray(getattr(gradient, "data", gradient), dtype=root.data.dtype)
    if seed.shape != root.shape:
        raise ShapeError(explain(
            what=f"backward() got a gradient of shape {seed.shape} for an output of shape "
                 f"{root.shape}",
            why="the gradient says how much each output element matters, so shapes must match",
            fix=f"pass a gradient of shape {root.shape}",
        ))
    return seed.copy()


def _accumulate_leaf(leaf: Any, grad: np.ndarray, stored: set[int]) -> None:
    """Add ``grad`` into ``leaf.grad``; copy it first unless it is a fresh array nobody shares."""
    if grad.dtype != leaf.data.dtype:
        grad = grad.astype(leaf.data.dtype)
    if leaf.grad is None:
        shared = grad.base is not None or not grad.flags.writeable or id(grad) in stored
        if shared:
            grad = grad.copy()
        stored.add(id(grad))
        leaf.grad = grad
    else:
        leaf.grad = leaf.grad.data + grad  # out of place: a caller may hold the old gradient


# --- Numerical gradient checking ---------------------------------------------------------------


class GradcheckError(TinyTorchError, AssertionError):
    """Analytic and numerical gradients disagree."""


def gradcheck(fn: Callable[..., Any], inputs: Sequence[Any], eps: float = 1e-6,
              atol: float = 1e-5, rtol: float = 1e-3, raise_exception: bool = True) -> bool:
    """Compare autograd's gradients of ``fn`` with central differences, in float64.

    Every input that requires grad is checked element by element. A non-scalar output is
    reduced with a fixed random weighting, so a transposed or permuted gradient cannot hide.

    Args:
        fn: maps tensors to a tensor.
        inputs: the tensors to pass to ``fn``; those with ``requires_grad`` are checked.
        eps, atol, rtol: finite-difference step and tolerances.
        raise_exception: raise ``GradcheckError`` with a per-element report on mismatch
            (otherwise return False).

    Example:
        >>> from tinytorch.core.tensor import Tensor
        >>> gradcheck(lambda x: (x * x).sum(), [Tensor([1.0, 2.0], requires_grad=True)])
        True
    """
    tensor = _tensor_type()
    checked = [tensor(np.asarray(x.data if isinstance(x, tensor) else x), dtype=np.float64,
                      requires_grad=getattr(x, "requires_grad", False)) for x in inputs]
    weights = _output_weights(fn, checked)

    def scalar(*xs: Any) -> Any:
        return (fn(*xs) * tensor(weights, dtype=np.float64)).sum()

    scalar(*checked).backward()
    report: list[str] = []
    with no_grad():
        for index, x in enumerate(checked):
            if not x.requires_grad:
                continue
            analytic = np.zeros_like(x.data) if x.grad is None else x.grad.data
            numeric = _numeric_gradient(scalar, checked, x, eps)
            bad = ~np.isclose(analytic, numeric, atol=atol, rtol=rtol)
            for position in map(tuple, np.argwhere(bad)):
                report.append(f"input {index} at {tuple(int(p) for p in position)}: analytic "
                              f"{analytic[position]:.6g}, numerical {numeric[position]:.6g}")
    if report and raise_exception:
        shown = "\n    ".join(report[:20]) + ("\n    ..." if len(report) > 20 else "")
        raise GradcheckError(explain(
            what=f"{len(report)} gradient element(s) disagree:\n    {shown}",
            why="the backward formula must match the slope of the forward (central differences)",
            fix="re-derive the backward of the op(s) involved; check axes, transposes and signs",
        ))
    return not report


def _output_weights(fn: Callable[..., Any], inputs: list[Any]) -> np.ndarray:
    with no_grad():
        shape = np.shape(fn(*inputs).data)
    return np.random.default_rng(0).uniform(0.5, 1.5, size=shape)


def _numeric_gradient(scalar: Callable[..., Any], inputs: list[Any], x: Any,
                      eps: float) -> np.ndarray:
    numeric = np.zeros_like(x.data)
    flat = x.data.reshape(-1)  # a view: nudging it nudges x
    out = numeric.reshape(-1)
    for i in range(flat.size):
        original = flat[i]
        flat[i] = original + eps
        plus = float(scalar(*inputs).data)
        flat[i] = original - eps
        minus = float(scalar(*inputs).data)
        flat[i] = original
        out[i] = (plus - minus) / (2 * eps)
    return numeric


# --- Upstream-compatible names -----------------------------------------------------------------


def enable_autograd(quiet: bool = False) -> None:
    """Kept for upstream code. Autograd is always on in tinytorch, so this does nothing."""
