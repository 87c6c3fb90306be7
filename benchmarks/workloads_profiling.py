"""Profiler overhead: the MLP train step of ``workloads_nn`` with and without ``profile()``.

``mlp_train_step_profiled`` is the same step as ``mlp_train_step`` run inside a fresh
``profile()`` block (forward and backward of every op recorded, FLOPs and bytes counted), so
``tinytorch/torch`` of the two rows, against the same PyTorch step, differ by the profiler's
cost. For a direct, paired measurement run this module:

    python -m benchmarks.workloads_profiling            # on vs off, alternating, one process
    python -m benchmarks.workloads_profiling --ab DIR   # hooks off: this tree vs the tree DIR

The first alternates plain and profiled steps round by round and reports the median of the
per-round ratios with its interquartile range (target: at most 1.10). The second is the A/B
for "costs little when off": it times the ``op_overhead`` chain (1,000 tiny ops, where a
per-op cost shows most) in this tree and in ``DIR`` (e.g. the commit before the profiler,
unpacked with ``git archive``), alternating fresh processes (target: at most 1.01). The chain
is single-threaded Python, so it is timed in CPU time (``time.process_time``), which other
processes on a shared machine disturb far less than wall time.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from benchmarks import workloads_nn
from benchmarks.harness import Step, Workload

ORDER = 15  # right after the MLP rows


def mlp_profiled_tinytorch() -> Step:
    """tinytorch: the MLP train step inside ``profile()``."""
    from tinytorch.perf.trace import profile

    step = workloads_nn.mlp_tinytorch()

    def profiled() -> Any:
        with profile():
            return step()

    return profiled


WORKLOADS = [
    Workload(
        name="mlp_train_step_profiled",
        description="mlp_train_step inside tinytorch.perf.profile() (every op's forward and "
                    "backward recorded); compare its ratio with mlp_train_step's",
        make_tinytorch=mlp_profiled_tinytorch,
        make_torch=workloads_nn.mlp_torch,
    ),
]


# --- Paired measurements (run as a script) -----------------------------------------------------


def paired_ratios(plain: Step, other: Step, rounds: int, warmup: int = 5,
                  clock: Callable[[], float] = time.perf_counter) -> dict[str, float]:
    """Alternate two steps round by round; summarize ``other / plain`` per round."""
    for _ in range(warmup):
        plain()
        other()
    ratios, plain_s, other_s = [], [], []
    for _ in range(rounds):
        start = clock()
        plain()
        middle = clock()
        other()
        end = clock()
        plain_s.append(middle - start)
        other_s.append(end - middle)
        ratios.append((end - middle) / (middle - start))
    q25, _, q75 = statistics.quantiles(ratios, n=4, method="inclusive")
    return {"median_ratio": statistics.median(ratios), "ratio_q25": q25, "ratio_q75": q75,
            "plain_ms": 1e3 * statistics.median(plain_s),
            "other_ms": 1e3 * statistics.median(other_s), "rounds": rounds}


def profiler_on_overhead(rounds: int = 200,
                         clock: Callable[[], float] = time.perf_counter) -> dict[str, float]:
    """The MLP step inside ``profile()`` against the same step without it."""
    return paired_ratios(workloads_nn.mlp_tinytorch(), mlp_profiled_tinytorch(), rounds,
                         clock=clock)


_CHAIN_TIMER = """
import statistics, time
from benchmarks.workloads_core import chain_tinytorch
step = chain_tinytorch()
for _ in range(5):
    step()
samples = []
for _ in range({calls}):
    start = time.process_time(); step(); samples.append(time.process_time() - start)
print(statistics.median(samples))
"""


def _chain_median(tree: Path, calls: int) -> float:
    code = _CHAIN_TIMER.format(calls=calls)
    done = subprocess.run([sys.executable, "-c", code], cwd=tree, capture_output=True,
                          text=True, check=True)
    return float(done.stdout.strip())


def hooks_off_ab(base: Path, here: Path, pairs: int = 10, calls: int = 60) -> dict[str, float]:
    """``op_overhead`` median in ``here`` over ``base``, alternating fresh processes."""
    ratios = []
    for i in range(pairs):
        first, second = (base, here) if i % 2 == 0 else (here, base)  # no side always first
        times = {first: _chain_median(first, calls), second: _chain_median(second, calls)}
        ratios.append(times[here] / times[base])
    q25, _, q75 = statistics.quantiles(ratios, n=4, method="inclusive")
    return {"median_ratio": statistics.median(ratios), "ratio_q25": q25, "ratio_q75": q75,
            "pairs": pairs}


def _report(title: str, result: dict[str, float]) -> None:
    print(title)
    for key, value in result.items():
        print(f"  {key:>13}: {value:.4f}" if isinstance(value, float) else f"  {key:>13}: {value}")


def main(argv: Sequence[str] | None = None) -> int:
    """Print the on-overhead (and, with ``--ab DIR``, the off-overhead) ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ab", type=Path, help="tree without the profiler hooks, for the A/B")
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--cpu-time", action="store_true",
                        help="time the on-overhead in CPU time (with OPENBLAS_NUM_THREADS=1, "
                             "far steadier than wall time on a shared machine)")
    args = parser.parse_args(argv)
    clock = time.process_time if args.cpu_time else time.perf_counter
    _report("profile() on, MLP train step (profiled / plain):",
            profiler_on_overhead(args.rounds, clock))
    if args.ab is not None:
        here = Path(__file__).resolve().parents[1]
        _report(f"hooks off, op_overhead ({here.name} / {args.ab.name}):",
                hooks_off_ab(args.ab.resolve(), here))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
