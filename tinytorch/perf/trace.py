"""``profile()``: the op-level profiler, built on the engine's own op observer.

Inside ``with profile() as prof:`` every forward and every backward of every differentiable op
becomes one ``Event``: the op's name, its phase, its input shapes, its duration in
nanoseconds, its FLOPs (from ``tinytorch.perf.flops``, the same table ``count_flops`` uses)
and the bytes of the arrays it read and wrote. Everything else is a view of that list:
``key_averages()`` groups it by (op, phase), ``table()`` prints the groups sorted by self
time (the shape of ``torch.profiler``'s ``key_averages().table()``), ``export_json`` and
``export_chrome_trace`` write it out (the latter opens in ``chrome://tracing`` or Perfetto).

How it stays out of the way:
    * It only *observes*: ``autograd.observe_ops(..., detailed=True)`` calls it after an op
      has run, and it never touches an array it is shown. Values and gradients are those of
      an unprofiled run, bit for bit.
    * The observer is installed on entry and removed in ``finally``, so a body that raises
      leaves the engine exactly as it found it. Profiles nest: each one installs its own
      observer, and an inner one's events are also the outer one's.
    * With no profile active the engine pays one ``if`` per op (measured in
      ``benchmarks/workloads_profiling.py``).

A backward whose forward ran *before* the block began is still timed; its FLOPs come from its
inputs' shapes alone (pooling, which needs its window parameters, then counts 0).

Self time: tinytorch ops do not call other ops, so an event's duration is all its own. The
time *between* ops (Python, module calls, the optimizer's NumPy code) belongs to no op;
``coverage()`` says how much of the profiled wall time the ops account for.

Example:
    >>> import numpy as np
    >>> from tinytorch.core.tensor import Tensor
    >>> w = Tensor(np.ones((3, 2)), requires_grad=True)
    >>> with profile() as prof:
    ...     (Tensor(np.ones((4, 3))) @ w).sum().backward()
    >>> [(s.op, s.phase, s.calls, s.flops) for s in prof.key_averages(sort_by="op")]
    [('MatMul', 'backward', 1, 48), ('MatMul', 'forward', 1, 48), ('Sum', 'backward', 1, 7), \
('Sum', 'forward', 1, 7)]
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

from tinytorch.core.autograd import Node, OpEvent, is_grad_enabled, observe_ops
from tinytorch.core.serialization import atomic_write_text
from tinytorch.perf.flops import Shape, backward_flops, forward_flops

PHASES = ("forward", "backward")


class Event(NamedTuple):
    """One run of one op's forward or backward (a tuple: cheap to make on every op)."""

    op: str
    phase: str
    shapes: tuple[Shape, ...]   # the forward's input shapes (the same for its backward)
    start_ns: int               # time.perf_counter_ns() when it started
    duration_ns: int
    flops: int
    bytes: int                  # bytes of the arrays it was given and returned


@dataclass(frozen=True)
class OpStats:
    """Totals of every event of one op in one phase."""

    op: str
    phase: str
    calls: int
    self_ns: int
    flops: int
    bytes: int

    @property
    def mean_ns(self) -> float:
        """Average duration of one call."""
        return self.self_ns / self.calls

    @property
    def gflops_per_s(self) -> float:
        """Achieved arithmetic throughput: FLOPs per nanosecond is GFLOP/s."""
        return self.flops / self.self_ns if self.self_ns else 0.0


def _shapes_and_bytes(values: tuple[Any, ...]) -> tuple[tuple[Shape, ...], int]:
    """Shapes of the values (() for a Python number or None) and the bytes of the arrays."""
    shapes, total = [], 0
    for value in values:
        shape = getattr(value, "shape", None)
        if shape is None:
            shapes.append(())
        else:
            shapes.append(shape)
            total += value.nbytes
    return tuple(shapes), total


class _Forward(NamedTuple):
    """What a backward event needs to know of its forward (kept only for graph nodes)."""

    node: Node
    shapes: tuple[Shape, ...]
    output: Shape
    params: dict[str, Any]


class _Raw(NamedTuple):
    """An event as recorded: its FLOPs are computed later, off the hot path."""

    op: str
    phase: str
    shapes: tuple[Shape, ...]
    output: Shape
    params: dict[str, Any]
    start_ns: int
    duration_ns: int
    bytes: int
    needs_input_grad: tuple[bool, ...] | None  # None for a forward

    def finish(self) -> Event:
        if self.needs_input_grad is None:
            flops = forward_flops(self.op, self.shapes, self.output, self.params)
        else:
            flops = backward_flops(self.op, self.shapes, self.output, self.params,
                                   self.needs_input_grad)
        return Event(self.op, self.phase, self.shapes, self.start_ns, self.duration_ns, flops,
                     self.bytes)


class Profile:
    """The events of one ``profile()`` block and the views over them.

    Recording keeps only what FLOPs are a function of (op, shapes, parameters); the FLOP
    table is applied when ``events`` is first read, or when the block ends, so the
    per-op cost while profiling stays small.
    """

    def __init__(self, start_ns: int = 0) -> None:
        self.start_ns = start_ns
        self.wall_ns = 0
        self._raw: list[_Raw] = []
        self._events: list[Event] = []
        self._forwards: dict[int, _Forward] = {}

    @property
    def events(self) -> list[Event]:
        """Every recorded event, in the order the ops ran."""
        if len(self._events) < len(self._raw):
            self._events.extend(raw.finish() for raw in self._raw[len(self._events):])
        return self._events

    def _close(self, end_ns: int) -> None:
        """End of the block: apply the FLOP table, then drop raw records and graph nodes."""
        self.wall_ns = end_ns - self.start_ns
        self._events = self.events
        self._raw = []
        self._forwards.clear()

    # --- recording (called by the engine) ------------------------------------------------

    def record(self, event: OpEvent) -> None:
        """Keep one engine ``OpEvent`` (the observer ``profile()`` installs)."""
        if event.phase == "forward":
            self._record_forward(event)
        else:
            self._record_backward(event)

    def _record_forward(self, event: OpEvent) -> None:
        shapes, in_bytes = _shapes_and_bytes(event.inputs)
        outputs = event.output if isinstance(event.output, tuple) else (event.output,)
        out_shapes, out_bytes = _shapes_and_bytes(outputs)
        if is_grad_enabled() and any(event.node.needs_input_grad):
            self._forwards[id(event.node)] = _Forward(event.node, shapes, out_shapes[0],
                                                      event.params)
        self._raw.append(_Raw(event.op, "forward", shapes, out_shapes[0], event.params,
                              event.start_ns, event.duration_ns, in_bytes + out_bytes, None))

    def _record_backward(self, event: OpEvent) -> None:
        node = event.node
        seen = self._forwards.get(id(node))
        if seen is None or seen.node is not node:  # its forward ran before the profile began
            shapes, _ = _shapes_and_bytes(tuple(getattr(p, "data", p) for p in node.parents))
            seen = _Forward(node, shapes, event.inputs[0].shape, {})
        grads = event.output if isinstance(event.output, tuple) else (event.output,)
        self._raw.append(_Raw(event.op, "backward", seen.shapes, seen.output, seen.params,
                              event.start_ns, event.duration_ns,
                              event.inputs[0].nbytes + _shapes_and_bytes(grads)[1],
                              tuple(node.needs_input_grad)))

    # --- views -------------------------------------------------------------------------------

    def key_averages(self, sort_by: str = "self_ns") -> list[OpStats]:
        """One ``OpStats`` per (op, phase); sorted by ``sort_by`` (an OpStats field).

        Numeric fields sort largest first, ``op`` and ``phase`` alphabetically.
        """
        groups: dict[tuple[str, str], list[int]] = {}
        for e in self.events:
            totals = groups.setdefault((e.op, e.phase), [0, 0, 0, 0])
            totals[0] += 1
            totals[1] += e.duration_ns
            totals[2] += e.flops
            totals[3] += e.bytes
        stats = [OpStats(op, phase, *totals) for (op, phase), totals in groups.items()]
        return sorted(stats, key=lambda s: (getattr(s, sort_by), s.op, s.phase),
                      reverse=sort_by not in ("op", "phase"))

    def total(self, phase: str | None = None) -> OpStats:
        """The sums over every event (of one phase, when given)."""
        chosen = [e for e in self.events if phase is None or e.phase == phase]
        return OpStats("total", phase or "all", len(chosen), sum(e.duration_ns for e in chosen),
                       sum(e.flops for e in chosen), sum(e.bytes for e in chosen))

    def coverage(self) -> float:
        """Fraction of the block's wall time spent inside ops (the rest is Python around them)."""
        return self.total().self_ns / self.wall_ns if self.wall_ns else 0.0

    def table(self, sort_by: str = "self_ns", row_limit: int | None = None) -> str:
        """A text table of ``key_averages()``, heaviest first, with totals and coverage."""
        rows = self.key_averages(sort_by)[:row_limit]
        all_ns = max(self.total().self_ns, 1)
        header = (f"{'op':<24}{'phase':<10}{'calls':>7}{'self ms':>10}{'self %':>8}"
                  f"{'mean us':>10}{'MFLOP':>11}{'GFLOP/s':>9}{'MB':>9}")
        lines = [header, "-" * len(header)]
        for s in [*rows, self.total()]:
            if s.op == "total":
                lines.append("-" * len(header))
            lines.append(
                f"{s.op:<24}{s.phase:<10}{s.calls:>7}{s.self_ns / 1e6:>10.3f}"
                f"{100 * s.self_ns / all_ns:>7.1f}%{s.mean_ns / 1e3 if s.calls else 0:>10.1f}"
                f"{s.flops / 1e6:>11.3f}{s.gflops_per_s:>9.2f}{s.bytes / 1e6:>9.2f}")
        lines.append(f"ops cover {100 * self.coverage():.1f}% of {self.wall_ns / 1e6:.3f} ms "
                     "wall time; the rest is Python between ops")
        return "\n".join(lines)

    # --- exports -----------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Events, per-op summary and totals as plain JSON-able data."""
        return {
            "wall_ns": self.wall_ns,
            "events": [e._asdict() for e in self.events],
            "summary": [asdict(s) for s in self.key_averages()],
            "total": {phase: asdict(self.total(phase)) for phase in PHASES},
        }

    def export_json(self, path: str | os.PathLike[str]) -> None:
        """Write ``to_dict()`` as JSON (atomically: a crash never leaves half a file)."""
        atomic_write_text(path, json.dumps(self.to_dict(), indent=1))

    def chrome_trace(self) -> dict[str, Any]:
        """The events in the Chrome trace format: complete ("X") events, times in microseconds.

        Forward and backward go on two rows (``tid`` 0 and 1) so the two passes read apart.
        """
        origin = self.start_ns
        return {
            "displayTimeUnit": "ms",
            "traceEvents": [{
                "name": e.op, "cat": e.phase, "ph": "X", "pid": 0,
                "tid": PHASES.index(e.phase),
                "ts": (e.start_ns - origin) / 1e3, "dur": e.duration_ns / 1e3,
                "args": {"shapes": [list(s) for s in e.shapes], "flops": e.flops,
                         "bytes": e.bytes},
            } for e in self.events],
        }

    def export_chrome_trace(self, path: str | os.PathLike[str]) -> None:
        """Write ``chrome_trace()`` to ``path``; open it in chrome://tracing or ui.perfetto.dev."""
        atomic_write_text(path, json.dumps(self.chrome_trace()))


@contextlib.contextmanager
def profile() -> Iterator[Profile]:
    """Record every op's forward and backward inside the block; yields the ``Profile``.

    The observer is removed however the block ends, so autograd is left as it was found.
    """
    prof = Profile(start_ns=time.perf_counter_ns())
    try:
        with observe_ops(prof.record, detailed=True):
            yield prof
    finally:
        prof._close(time.perf_counter_ns())


__all__ = ["Event", "OpStats", "Profile", "profile"]
