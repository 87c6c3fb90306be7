"""Module 14, profiling: count parameters and FLOPs, measure memory and latency, trace ops.

Everything here is *measured* or *counted exactly*, never estimated from a rule of thumb:

* ``count_flops`` runs the model once on a zero input of the given shape under the op
  observer and adds up the FLOP table (``tinytorch.perf.flops``) over the ops that really ran.
  Counting what runs, instead of walking module types, works for any model (a custom
  ``forward``, a residual, attention inside a block) and can never miss a layer or count one
  that the forward skips; the batch is included because the input shape includes it.
* ``measure_memory`` reports the bytes of real arrays: the parameters, the gradients one
  backward produces, the optimizer's state, and the activations, i.e. the arrays the graph
  saved for backward beyond the weights themselves (the input included; overlapping views
  counted once), plus the forward's peak allocation as ``tracemalloc`` sees it.
* ``measure_latency`` times repeated calls after a warm-up and reports the median (and,
  through ``latency_stats``, the percentiles).
* ``profile()`` (from ``tinytorch.perf.trace``) is the op-level profiler; ``Profiler``
  uses it for the FLOPs of both passes.

A Profiler call leaves the model as it found it: it runs in eval mode (no dropout draw from
the RNG, no batch-norm statistics updated) and restores every module's mode and every
gradient it overwrote.

Example:
    >>> from tinytorch.core.layers import Linear
    >>> profiler = Profiler()
    >>> profiler.count_parameters(Linear(128, 64))
    8256
    >>> profiler.count_flops(Linear(128, 64), (32, 128))  # 2*32*128*64 + 32*64 (bias adds)
    526336
"""

from __future__ import annotations

import contextlib
import statistics
import time
import tracemalloc
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from tinytorch.core.autograd import no_grad
from tinytorch.core.errors import TinyTorchError, explain
from tinytorch.core.tensor import Tensor
from tinytorch.perf.trace import profile

MB = 1024 * 1024  # bytes per MB, as the course reports memory


class ProfilerError(TinyTorchError, TypeError):
    """A model the profiler cannot measure (its output is not a Tensor)."""


# --- Latency statistics ----------------------------------------------------------------------


@dataclass(frozen=True)
class LatencyStats:
    """The distribution of repeated timings, in milliseconds."""

    samples_ms: tuple[float, ...]
    median_ms: float
    mean_ms: float
    std_ms: float
    min_ms: float
    max_ms: float
    p5_ms: float
    p25_ms: float
    p75_ms: float
    p95_ms: float

    @classmethod
    def from_samples(cls, samples_ms: Sequence[float]) -> LatencyStats:
        """Summarize timings (at least one).

        Example:
            >>> LatencyStats.from_samples([1.0, 2.0, 3.0, 10.0]).median_ms
            2.5
        """
        values = np.asarray(samples_ms, dtype=np.float64)
        p5, p25, p75, p95 = (float(v) for v in np.percentile(values, [5, 25, 75, 95]))
        return cls(tuple(float(v) for v in values), float(np.median(values)),
                   float(values.mean()), float(values.std()), float(values.min()),
                   float(values.max()), p5, p25, p75, p95)

    @property
    def iqr_ms(self) -> float:
        """Interquartile range: the spread of the middle half of the runs."""
        return self.p75_ms - self.p25_ms


def time_call(fn: Callable[[], Any], warmup: int = 10, iterations: int = 100) -> LatencyStats:
    """Call ``fn`` ``warmup`` times untimed, then ``iterations`` times timed, one by one."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(max(iterations, 1)):
        start = time.perf_counter_ns()
        fn()
        samples.append((time.perf_counter_ns() - start) / 1e6)
    return LatencyStats.from_samples(samples)


# --- Leaving the model as it was ---------------------------------------------------------------


@contextlib.contextmanager
def _temporarily(objects: Iterable[Any], attr: str, value: Any) -> Iterator[None]:
    """``attr`` set to ``value`` on every object inside the block; each one's own restored after."""
    saved = [(o, getattr(o, attr)) for o in objects]
    for o, _ in saved:
        setattr(o, attr, value)
    try:
        yield
    finally:
        for o, old in saved:
            setattr(o, attr, old)


def _eval_mode(model: Any) -> contextlib.AbstractContextManager[None]:
    """Eval mode inside the block; every module's own training flag restored afterwards."""
    modules = list(model.modules()) if hasattr(model, "modules") else []
    return _temporarily([m for m in modules if hasattr(m, "training")], "training", False)


def _kept_gradients(tensors: Iterable[Any]) -> contextlib.AbstractContextManager[None]:
    """Start from no gradients inside the block; put the caller's gradients back afterwards."""
    return _temporarily([t for t in tensors if isinstance(t, Tensor)], "grad", None)


def _parameters(model: Any) -> list[Any]:
    return list(model.parameters()) if hasattr(model, "parameters") else []


def _first_tensor(output: Any) -> Tensor:
    """The model's output, or the first tensor of a tuple output (attention's (out, weights))."""
    first = output[0] if isinstance(output, (tuple, list)) else output
    if not isinstance(first, Tensor):
        raise ProfilerError(explain(
            what=f"the model returned a {type(output).__name__}, not a Tensor",
            why="memory and backward profiling follow the graph behind the model's output",
            fix="profile a module whose forward returns a Tensor (or a tuple starting with one)",
        ))
    return first


# --- Measured bytes ------------------------------------------------------------------------------


def _span(a: np.ndarray) -> tuple[int, int]:
    """The [low, high) addresses of the memory an array's elements occupy (views too)."""
    low = high = int(a.__array_interface__["data"][0])
    for n, stride in zip(a.shape, a.strides, strict=True):
        if stride < 0:
            low += (n - 1) * stride
        else:
            high += (n - 1) * stride
    return low, high + a.itemsize


def _array_bytes(arrays: Iterable[np.ndarray]) -> int:
    """Bytes of memory the arrays span, each byte once even when views overlap."""
    spans = sorted(_span(a) for a in arrays if a.nbytes)
    total, end = 0, None
    for low, high in spans:
        if end is None or low >= end:
            total += high - low
            end = high
        elif high > end:
            total += high - end
            end = high
    return total


def _saved_arrays(root: Any) -> Iterator[np.ndarray]:
    """Every array the graph behind ``root`` keeps for backward (saved tensors, ctx fields)."""
    start = getattr(root, "grad_fn", None)
    stack, seen = ([start] if start is not None else []), set()
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        kept = [*node.saved_tensors, *vars(node).values()]
        for value in kept:
            for item in value if isinstance(value, (tuple, list)) else (value,):
                if isinstance(item, np.ndarray):
                    yield item
        stack.extend(p.grad_fn for p in node.parents if getattr(p, "grad_fn", None) is not None)


def _optimizer_state_bytes(optimizer: Any) -> int:
    state = getattr(optimizer, "state", {}) or {}
    slots = state.values() if isinstance(state, dict) else []
    return _array_bytes(a for buffers in slots for a in buffers if isinstance(a, np.ndarray))


def flops_per_second(flops: int, milliseconds: float) -> float:
    """Achieved GFLOP/s of ``flops`` done in ``milliseconds`` (0 when no time was measured)."""
    return flops / (milliseconds * 1e6) if milliseconds > 0 else 0.0


# --- The Profiler ---------------------------------------------------------------------------


class Profiler:
    """Parameters, FLOPs, memory and latency of a model, all measured or counted exactly.

    The FLOP convention (one multiply-add = 2 FLOPs, bias adds counted, one FLOP per
    element of element-wise ops) is stated in full in ``tinytorch.perf.flops``.
    """

    def count_parameters(self, model: Any) -> int:
        """Number of trainable values (shared parameters counted once)."""
        return sum(int(p.data.size) for p in _parameters(model))

    def count_flops(self, model: Any, input_shape: Sequence[int],
                    dtype: Any = np.float32) -> int:
        """FLOPs of one forward pass on a batch of ``input_shape`` (the batch included).

        The model runs once, in eval mode and without a graph, on zeros of that shape (token
        models read them as token 0); the FLOP table is summed over the ops that ran.
        """
        x = Tensor(np.zeros(tuple(input_shape), dtype=dtype))
        with _eval_mode(model), no_grad(), profile() as prof:
            model(x)
        return prof.total("forward").flops

    def measure_memory(self, model: Any, input_shape: Sequence[int],
                       optimizer: Any = None) -> dict[str, Any]:
        """Bytes of parameters, gradients, optimizer state and activations, from real arrays.

        One forward (eval mode, graph recorded) on zeros of ``input_shape`` gives the
        activations the graph saves for backward and the peak of new allocations; one
        backward of ``output.sum()`` gives the gradients (the caller's gradients are restored).
        The optimizer's state is what it holds now (Adam allocates it at its first step).
        """
        params = _parameters(model)
        x = Tensor(np.zeros(tuple(input_shape), dtype=np.float32))
        with _eval_mode(model), _kept_gradients(params):
            peak, out = self._traced(lambda: _first_tensor(model(x)))
            weights = [p.data for p in params]
            # the graph also saves the weights; activations are what it keeps beyond them
            activations = _array_bytes([*_saved_arrays(out), *weights]) - _array_bytes(weights)
            if out.requires_grad:
                out.sum().backward()
            gradients = _array_bytes(p.grad.data for p in params if p.grad is not None)
        parameter_bytes = _array_bytes(weights)
        report: dict[str, Any] = {
            "parameter_bytes": parameter_bytes, "gradient_bytes": gradients,
            "optimizer_state_bytes": _optimizer_state_bytes(optimizer),
            "activation_bytes": activations, "output_bytes": int(out.data.nbytes),
            "forward_peak_alloc_bytes": peak,
        }
        useful = parameter_bytes + activations
        peak_total = parameter_bytes + max(peak, activations)
        report.update({
            "parameter_memory_mb": parameter_bytes / MB, "activation_memory_mb": activations / MB,
            "peak_memory_mb": peak_total / MB,
            "memory_efficiency": useful / peak_total if peak_total else 1.0,
        })
        return report

    @staticmethod
    def _traced(fn: Callable[[], Any]) -> tuple[int, Any]:
        """(peak bytes newly allocated while ``fn`` ran, its result), from tracemalloc."""
        owns = not tracemalloc.is_tracing()
        if owns:
            tracemalloc.start()
        try:
            tracemalloc.reset_peak()
            baseline = tracemalloc.get_traced_memory()[0]
            result = fn()
            return max(tracemalloc.get_traced_memory()[1] - baseline, 0), result
        finally:
            if owns:
                tracemalloc.stop()

    def latency_stats(self, model: Any, input_tensor: Any, warmup: int = 10,
                      iterations: int = 100) -> LatencyStats:
        """Timings of ``model(input_tensor)`` (eval mode, no graph) after a warm-up."""
        with _eval_mode(model), no_grad():
            return time_call(lambda: model(input_tensor), warmup, iterations)

    def measure_latency(self, model: Any, input_tensor: Any, warmup: int = 10,
                        iterations: int = 100) -> float:
        """Median milliseconds of one inference call (see ``latency_stats`` for the spread)."""
        return self.latency_stats(model, input_tensor, warmup, iterations).median_ms

    def profile_layer(self, layer: Any, input_shape: Sequence[int], warmup: int = 3,
                      iterations: int = 10) -> dict[str, Any]:
        """Parameters, FLOPs, median latency, throughput and memory of one layer."""
        x = Tensor(np.zeros(tuple(input_shape), dtype=np.float32))
        flops = self.count_flops(layer, input_shape)
        stats = self.latency_stats(layer, x, warmup, iterations)
        return {
            "layer_type": type(layer).__name__,
            "parameters": self.count_parameters(layer),
            "flops": flops,
            "latency_ms": stats.median_ms,
            "latency_iqr_ms": stats.iqr_ms,
            "gflops_per_second": flops_per_second(flops, stats.median_ms),
            **self.measure_memory(layer, input_shape),
        }

    def profile_forward_pass(self, model: Any, input_tensor: Any, warmup: int = 3,
                             iterations: int = 10) -> dict[str, Any]:
        """A measured report of one forward pass: counts, latency, memory and per-op totals."""
        shape = tuple(np.shape(getattr(input_tensor, "data", input_tensor)))
        stats = self.latency_stats(model, input_tensor, warmup, iterations)
        with _eval_mode(model), no_grad(), profile() as prof:
            model(input_tensor)
        flops = prof.total("forward").flops
        return {
            "parameters": self.count_parameters(model),
            "flops": flops,
            "latency_ms": stats.median_ms,
            "latency_p25_ms": stats.p25_ms,
            "latency_p75_ms": stats.p75_ms,
            "gflops_per_second": flops_per_second(flops, stats.median_ms),
            **self.measure_memory(model, shape),
            "ops": [asdict(s) for s in prof.key_averages()],
        }

    def profile_backward_pass(self, model: Any, input_tensor: Any,
                              loss_fn: Callable[[Any], Any] | None = None, warmup: int = 3,
                              iterations: int = 10) -> dict[str, Any]:
        """Forward and backward of ``loss_fn(model(x))`` (default ``sum``), each timed.

        Backward FLOPs and gradient bytes are those of a real backward pass. The caller's
        gradients (parameters and input) are restored afterwards.
        """
        params = _parameters(model)
        loss_of = loss_fn or (lambda out: _first_tensor(out).sum())
        forward_ms: list[float] = []
        backward_ms: list[float] = []
        with _eval_mode(model), _kept_gradients([*params, input_tensor]):
            for i in range(warmup + max(iterations, 1)):
                self._zero(params, input_tensor)
                start = time.perf_counter_ns()
                loss = loss_of(model(input_tensor))
                middle = time.perf_counter_ns()
                loss.backward()
                if i >= warmup:
                    forward_ms.append((middle - start) / 1e6)
                    backward_ms.append((time.perf_counter_ns() - middle) / 1e6)
            self._zero(params, input_tensor)
            with profile() as prof:
                loss_of(model(input_tensor)).backward()
            gradients = _array_bytes(p.grad.data for p in params if p.grad is not None)
        fwd, bwd = statistics.median(forward_ms), statistics.median(backward_ms)
        forward_flops, backward_flops = prof.total("forward").flops, prof.total("backward").flops
        return {
            "forward_flops": forward_flops, "backward_flops": backward_flops,
            "total_flops": forward_flops + backward_flops,
            "forward_latency_ms": fwd, "backward_latency_ms": bwd,
            "total_latency_ms": fwd + bwd,
            "gradient_bytes": gradients, "gradient_memory_mb": gradients / MB,
            "backward_ops": [asdict(s) for s in prof.key_averages() if s.phase == "backward"],
        }

    @staticmethod
    def _zero(params: list[Any], input_tensor: Any) -> None:
        for t in [*params, input_tensor]:
            if isinstance(t, Tensor):
                t.grad = None


__all__ = ["LatencyStats", "Profiler", "ProfilerError", "flops_per_second", "profile", "time_call"]
