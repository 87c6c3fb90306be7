"""Time fixed workloads in tinytorch, PyTorch and raw NumPy in one process, and report the ratios.

How a workload is measured:
    Each framework's step is built once (``make_*``), warmed up, then timed call by call with
    ``time.perf_counter``. The frameworks take turns round by round (tinytorch, torch, numpy,
    tinytorch, torch, numpy, ...) so that a slow drift of the machine (clock boost, another
    process, a thermal limit) lands on all of them alike instead of on whichever ran last. The
    order of the timed calls is kept in the report (``schedule``). The report gives the median
    and the interquartile range per framework, the median number of minor page faults per call
    (``minor_faults_median``: fresh pages the allocator made the kernel map), and the ratio of
    the medians tinytorch/torch and tinytorch/numpy. Python's garbage collector stays on (it is
    part of a real step's cost); a collection runs between blocks so one framework's garbage is
    not collected on another's clock.

Adding a workload:
    Create ``benchmarks/workloads_<topic>.py`` that defines ``WORKLOADS: list[Workload]``; it is
    found by name, nothing else needs editing. Optionally set ``ORDER = <int>`` in the module to
    place its rows (lower first; ``workloads_core`` uses 0, the default is 100). Import tinytorch
    and torch *inside* the ``make_*`` factories, not at module level: then a missing or broken
    framework turns into one "error" or "n/a" cell instead of hiding the whole module. A module
    that fails to import still shows up, as an error row.

Allocator modes (``--allocator``):
    ``default`` runs with the C library's allocator as the process found it, which is tuned
    because ``import tinytorch`` tunes it (set ``TINYTORCH_ALLOCATOR=system`` to time glibc's own
    settings); ``tuned`` first calls
    ``tinytorch.perf.tune_allocator()``; ``both`` runs every workload with the default allocator,
    then tunes and runs every workload again. That order is forced: glibc's ``mallopt`` cannot
    be undone cleanly, so the default rows must come first. Each row records the allocator state
    it really ran with.

Run it with ``python -m benchmarks [--quick] [--only NAME,NAME] [--allocator both]``.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import os
import pkgutil
import platform
import statistics
import subprocess
import sys
import time
import traceback

try:
    import resource
except ImportError:  # not on Windows
    resource = None  # type: ignore[assignment]
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.compare import compare_reports, format_comparison, load_report
from benchmarks.machine_text import format_machine
from benchmarks.markdown import format_markdown
from tinytorch.core.serialization import atomic_write_text
from tinytorch.perf.allocator import allocator_tuned, tune_allocator

Step = Callable[[], Any]

FRAMEWORKS = ("tinytorch", "torch", "numpy")
DEFAULT_JSON = Path("bench-results") / "latest.json"
SCHEMA_VERSION = 1

# Environment variables that change BLAS kernels, thread counts or the allocator. They are
# reported as found and never changed here.
REPORTED_ENV = (
    "OPENBLAS_CORETYPE",
    "OPENBLAS_L2_SIZE",
    "OPENBLAS_NUM_THREADS",
    "OPENBLAS_VERBOSE",
    "GOTO_NUM_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "MKL_DEBUG_CPU_TYPE",
    "VECLIB_MAXIMUM_THREADS",
    "MALLOC_TRIM_THRESHOLD_",
    "MALLOC_MMAP_THRESHOLD_",
    "MALLOC_ARENA_MAX",
    "PYTHONMALLOC",
)


@dataclass(frozen=True)
class Workload:
    """One fixed piece of work, built once per framework, whose step is timed repeatedly.

    Attributes:
        name: short identifier used by ``--only`` and in the report.
        description: one line saying what a step does.
        make_tinytorch: builds the data once and returns the tinytorch step.
        make_torch: the same in PyTorch; returns None (or raises ImportError) without torch.
        make_numpy: optional raw NumPy baseline (the speed ceiling for a pure-NumPy framework).
        target: the goal in words, e.g. "tinytorch/torch <= 2x".
        target_baseline: "torch" or "numpy", the framework the target ratio is measured against.
        target_max_ratio: the largest tinytorch/baseline ratio of median times that meets it.
        rounds: for a slow workload, at most this many timed rounds after a single warm-up
            call (None: the settings decide).
    """

    name: str
    description: str
    make_tinytorch: Callable[[], Step]
    make_torch: Callable[[], Step | None] | None = None
    make_numpy: Callable[[], Step] | None = None
    target: str = ""
    target_baseline: str | None = None
    target_max_ratio: float | None = None
    rounds: int | None = None


@dataclass(frozen=True)
class Settings:
    """How hard to measure: warm-up calls, timed rounds and a time budget per workload.

    A workload whose warm-up shows that ``rounds`` would exceed ``budget_s`` gets fewer rounds,
    but never fewer than ``min_rounds``: slow workloads (a GPT step) stay affordable.
    """

    warmup: int = 3
    rounds: int = 21
    min_rounds: int = 5
    budget_s: float = 30.0

    @staticmethod
    def for_mode(quick: bool) -> Settings:
        """The full settings, or the short ones for ``--quick``."""
        if quick:
            return Settings(warmup=1, rounds=5, min_rounds=3, budget_s=5.0)
        return Settings()


@dataclass
class _Contender:
    """A framework taking part in one workload's measurement."""

    framework: str
    step: Step
    samples: list[float] = field(default_factory=list)
    faults: list[int] = field(default_factory=list)
    error: str | None = None


def optional_torch() -> Any | None:
    """The ``torch`` module, or None when it is not installed (for workloads' ``make_torch``)."""
    try:
        import torch
    except ImportError:
        return None
    return torch


def train_step(model: Any, loss_fn: Any, optimizer: Any, x: Any, y: Any) -> Step:
    """One training step on a fixed batch: zero the gradients, forward, loss, backward, update.

    tinytorch and PyTorch spell these calls alike, so one step serves both frameworks'
    ``make_*`` factories and the two rows time exactly the same sequence of work.
    """

    def step() -> Any:
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        return loss

    return step


def forward_backward_step(inputs: Sequence[Any], op: Callable[..., Any], grad: Any) -> Step:
    """``op(*inputs)`` forward, then backward with ``grad``; returns the inputs' gradients.

    The inputs' ``.grad`` is reset first, as a training loop's ``zero_grad`` does, so no
    accumulation pass is timed. Written once for both frameworks, like ``train_step``.
    """

    def step() -> Any:
        for x in inputs:
            x.grad = None
        op(*inputs).backward(grad)
        return [x.grad for x in inputs]

    return step


# --------------------------------------------------------------------------- workload registry


def all_workloads(package: str = "benchmarks") -> list[Workload]:
    """Gather ``WORKLOADS`` from every ``<package>.workloads_*`` module, in ``ORDER`` then name.

    A module that fails to import becomes one Workload whose factories re-raise its error, so
    the run goes on and the report shows an error row named ``<module>:import``.
    """
    pkg = importlib.import_module(package)
    names = sorted(
        info.name
        for info in pkgutil.iter_modules(pkg.__path__)
        if info.name.startswith("workloads_")
    )
    found: list[tuple[int, str, list[Workload]]] = []
    for short in names:
        module_name = f"{package}.{short}"
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:  # a broken module must not stop the others from running
            found.append((-1, short, [_import_failure(module_name, exc)]))
            continue
        found.append((int(getattr(module, "ORDER", 100)), short, list(module.WORKLOADS)))
    found.sort(key=lambda item: (item[0], item[1]))
    return [workload for _, _, workloads in found for workload in workloads]


def _import_failure(module_name: str, exc: BaseException) -> Workload:
    """A stand-in Workload whose tinytorch factory reports why `module_name` did not import."""
    message = f"{type(exc).__name__}: {exc}"

    def fail() -> Step:
        raise RuntimeError(f"importing {module_name} failed: {message}")

    short = module_name.rsplit(".", 1)[-1]
    return Workload(
        name=f"{short}:import", description="module failed to import", make_tinytorch=fail
    )


def select(workloads: Sequence[Workload], only: str | None) -> list[Workload]:
    """Keep the workloads named in the comma-separated ``only`` (all when None).

    Raises:
        ValueError: a name matches no workload (the message lists the available ones).
    """
    if not only:
        return list(workloads)
    wanted = [name.strip() for name in only.split(",") if name.strip()]
    known = {w.name for w in workloads}
    unknown = [name for name in wanted if name not in known]
    if unknown:
        raise ValueError(
            f"unknown workload(s) {', '.join(unknown)}; available: {', '.join(sorted(known))}"
        )
    return [w for w in workloads if w.name in wanted]


# --------------------------------------------------------------------------- measurement


def _summary(samples: Sequence[float]) -> dict[str, Any]:
    """Median, spread and extremes of per-call times in seconds."""
    ordered = sorted(samples)
    if len(ordered) > 1:
        q25, _, q75 = statistics.quantiles(ordered, n=4, method="inclusive")
    else:
        q25 = q75 = ordered[0]
    return {
        "status": "ok",
        "n": len(ordered),
        "median_s": statistics.median(ordered),
        "iqr_s": q75 - q25,
        "mean_s": statistics.fmean(ordered),
        "stdev_s": statistics.stdev(ordered) if len(ordered) > 1 else 0.0,
        "min_s": ordered[0],
        "max_s": ordered[-1],
        "samples_s": list(samples),
    }


def _build(workload: Workload, framework: str) -> tuple[Step | None, dict[str, Any] | None]:
    """Build one framework's step; on failure return the cell that explains why."""
    factory = {
        "tinytorch": workload.make_tinytorch,
        "torch": workload.make_torch,
        "numpy": workload.make_numpy,
    }[framework]
    if factory is None:
        return None, {"status": "n/a", "reason": "no such variant for this workload"}
    try:
        step = factory()
    except ImportError as exc:
        if framework == "torch":
            return None, {"status": "n/a", "reason": f"torch unavailable: {exc}"}
        return None, {"status": "error", "reason": _describe(exc)}
    except Exception as exc:
        return None, {"status": "error", "reason": _describe(exc)}
    if step is None:
        return None, {"status": "n/a", "reason": f"{framework} not installed"}
    return step, None


def _describe(exc: BaseException) -> str:
    lines = traceback.format_exception_only(type(exc), exc)
    return "".join(lines).strip()


def _minor_faults() -> int:
    """Minor page faults of this process so far (0 where getrusage is unavailable)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt if resource is not None else 0


def _call(contender: _Contender, clock: Callable[[], float]) -> float | None:
    """Run one step and return its duration (its page faults go to ``contender.faults``),
    or record the failure and return None."""
    try:
        faults = _minor_faults()
        start = clock()
        contender.step()
        elapsed = clock() - start
        contender.faults.append(_minor_faults() - faults)
        return elapsed
    except Exception as exc:
        contender.error = _describe(exc)
        return None


def measure(
    workload: Workload,
    settings: Settings,
    clock: Callable[[], float] | None = None,
) -> dict[str, Any]:
    """Warm up, then time the frameworks' steps in alternating rounds; return the result row.

    Returns:
        A JSON-ready dict with per-framework summaries (``frameworks``), the medians' ratios
        (``ratios``), the target verdict (``target``) and the call order (``schedule``).
    """
    clock = clock or time.perf_counter
    cells: dict[str, dict[str, Any]] = {}
    contenders: list[_Contender] = []
    for framework in FRAMEWORKS:
        step, failure = _build(workload, framework)
        if step is not None:
            contenders.append(_Contender(framework, step))
        else:
            cells[framework] = failure or {"status": "n/a", "reason": "not built"}

    # Warm-up alternates like the timed rounds; its times estimate one round's cost.
    warm_times: dict[str, list[float]] = {c.framework: [] for c in contenders}
    warmup = settings.warmup if workload.rounds is None else 1
    for _ in range(max(warmup, 1)):
        for contender in contenders:
            if contender.error is None:
                elapsed = _call(contender, clock)
                if elapsed is not None:
                    warm_times[contender.framework].append(elapsed)
    round_cost = sum(statistics.fmean(times) for times in warm_times.values() if times)

    rounds = settings.rounds
    if round_cost > 0 and round_cost * rounds > settings.budget_s:
        rounds = max(settings.min_rounds, int(settings.budget_s / round_cost))
    if workload.rounds is not None:
        rounds = min(rounds, workload.rounds)

    schedule: list[str] = []
    for _ in range(rounds):
        for contender in contenders:
            if contender.error is not None:
                continue
            gc.collect()
            elapsed = _call(contender, clock)
            schedule.append(contender.framework)
            if elapsed is not None:
                contender.samples.append(elapsed)

    for contender in contenders:
        if contender.error is not None:
            cells[contender.framework] = {"status": "error", "reason": contender.error}
        else:
            cells[contender.framework] = _summary(contender.samples)
            # fresh pages the kernel had to map in, per step: the allocator's cost (issue 14)
            cells[contender.framework]["minor_faults_median"] = statistics.median(
                contender.faults[-len(contender.samples):] or [0])

    ratios = {
        f"tinytorch/{base}": _ratio(cells["tinytorch"], cells[base]) for base in ("torch", "numpy")
    }
    return {
        "workload": workload.name,
        "description": workload.description,
        "rounds": rounds,
        "warmup": warmup,
        "order": [c.framework for c in contenders],
        "schedule": schedule,
        "frameworks": {name: cells[name] for name in FRAMEWORKS},
        "ratios": ratios,
        "target": _verdict(workload, ratios),
    }


def _ratio(numerator: dict[str, Any], denominator: dict[str, Any]) -> float | None:
    if numerator.get("status") != "ok" or denominator.get("status") != "ok":
        return None
    if denominator["median_s"] <= 0:
        return None
    return float(numerator["median_s"] / denominator["median_s"])


def _verdict(workload: Workload, ratios: dict[str, float | None]) -> dict[str, Any]:
    met: bool | None = None
    if workload.target_baseline and workload.target_max_ratio is not None:
        ratio = ratios.get(f"tinytorch/{workload.target_baseline}")
        met = None if ratio is None else ratio <= workload.target_max_ratio
    return {
        "text": workload.target,
        "baseline": workload.target_baseline,
        "max_ratio": workload.target_max_ratio,
        "met": met,
    }


# --------------------------------------------------------------------------- machine description


def machine_info() -> dict[str, Any]:
    """Describe what the numbers depend on: Python, NumPy, BLAS, torch, allocator, environment.

    Call it after the workloads ran, so that every BLAS and OpenMP library they loaded (torch
    brings its own) is already in the process and shows up in ``blas``.
    """
    info: dict[str, Any] = {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor() or None,
        "cpu_count": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "numpy": np.__version__,
        "blas": _blas_info(),
        "torch": _torch_info(),
        "tinytorch": _tinytorch_version(),
        "git_commit": _git_commit(),
        "allocator_tuned": allocator_tuned(),
        "env": {name: os.environ[name] for name in REPORTED_ENV if name in os.environ},
    }
    return info


def _blas_info() -> list[dict[str, Any]] | str:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "threadpoolctl not installed (pip install threadpoolctl)"
    pools = []
    for pool in threadpool_info():
        pools.append(
            {
                "user_api": pool.get("user_api"),
                "internal_api": pool.get("internal_api"),
                "version": pool.get("version"),
                # threadpoolctl calls the CPU kernel "architecture"; old releases said "corename".
                "architecture": pool.get("architecture", pool.get("corename")),
                "threading_layer": pool.get("threading_layer"),
                "num_threads": pool.get("num_threads"),
                "filepath": pool.get("filepath"),
            }
        )
    return pools


def _torch_info() -> dict[str, Any] | None:
    torch = sys.modules.get("torch")
    if torch is None:
        # No workload imported it; name the installed version without paying for an import.
        from importlib import metadata

        try:
            return {"version": metadata.version("torch"), "imported": False}
        except metadata.PackageNotFoundError:
            return None
    return {
        "imported": True,
        "version": torch.__version__,
        "num_threads": torch.get_num_threads(),
        "num_interop_threads": torch.get_num_interop_threads(),
        "mkl": bool(torch.backends.mkl.is_available()),
        "mkldnn": bool(torch.backends.mkldnn.is_available()),
    }


def _tinytorch_version() -> str | None:
    from importlib import metadata

    try:
        return metadata.version("tinytorch")
    except metadata.PackageNotFoundError:
        return None


def _git_commit() -> str | None:
    try:
        result = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
            cwd=Path(__file__).resolve().parent,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = result.stdout.strip()
    return commit if result.returncode == 0 and commit else None


# --------------------------------------------------------------------------- running and output


def run(
    workloads: Sequence[Workload],
    *,
    quick: bool = False,
    allocator: str = "default",
    clock: Callable[[], float] | None = None,
    echo: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Measure every workload under the requested allocator mode(s); return the full report.

    Args:
        workloads: what to time, in order.
        quick: fewer warm-up calls and rounds, and a smaller time budget per workload.
        allocator: "default", "tuned" or "both" (default rows first; see the module docstring).
        clock: the timer (None: ``time.perf_counter``), replaceable in tests.
        echo: called with a progress line before each workload (None: silent).
    """
    if allocator not in ("default", "tuned", "both"):
        raise ValueError(f"allocator must be 'default', 'tuned' or 'both', not {allocator!r}")
    settings = Settings.for_mode(quick)
    tuned_at_start = allocator_tuned()
    passes = {"default": ["default"], "tuned": ["tuned"], "both": ["default", "tuned"]}[allocator]
    notes: list[str] = []
    rows: list[dict[str, Any]] = []
    for requested in passes:
        if requested == "tuned" and not allocator_tuned() and not tune_allocator():
            notes.append(
                "tune_allocator() is unavailable here (not glibc): 'tuned' rows ran "
                "with the default allocator"
            )
        if requested == "default" and allocator_tuned():
            notes.append(
                "the allocator was already tuned in this process (import tinytorch tunes it "
                "unless TINYTORCH_ALLOCATOR=system), so 'default' rows ran tuned"
            )
        for workload in workloads:
            if echo is not None:
                echo(f"  {workload.name} [{requested} allocator] ...")
            row = measure(workload, settings, clock)
            row["allocator_requested"] = requested
            row["allocator"] = "tuned" if allocator_tuned() else "default"
            rows.append(row)
    return {
        "schema": SCHEMA_VERSION,
        "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "settings": {
            "quick": quick,
            "allocator": allocator,
            "allocator_tuned_at_start": tuned_at_start,
            "warmup": settings.warmup,
            "rounds": settings.rounds,
            "min_rounds": settings.min_rounds,
            "budget_s": settings.budget_s,
            "timer": "time.perf_counter, one sample per call",
        },
        "machine": machine_info(),
        "notes": notes,
        "results": rows,
    }


def _fmt_time(cell: dict[str, Any]) -> str:
    if cell.get("status") != "ok":
        return str(cell.get("status", "n/a"))
    return f"{_fmt_seconds(cell['median_s'])} +-{_fmt_seconds(cell['iqr_s'])}"


def _fmt_seconds(seconds: float) -> str:
    if seconds >= 1.0:
        return f"{seconds:.3g} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds * 1e6:.3g} us"


def _fmt_faults(cell: dict[str, Any]) -> str:
    faults = cell.get("minor_faults_median")
    return "-" if faults is None else f"{faults:.0f}"


def _fmt_ratio(ratio: float | None) -> str:
    return "n/a" if ratio is None else f"{ratio:.2f}x"


def format_table(report: dict[str, Any]) -> str:
    """The report as a plain-ASCII table: medians +- IQR, ratios and the target verdicts."""
    header = ["workload", "alloc", "tinytorch", "torch", "numpy", "tt/torch", "tt/numpy",
              "faults tt/torch", "target"]
    lines = [header]
    problems: list[str] = []
    for row in report["results"]:
        cells = row["frameworks"]
        target = row["target"]
        verdict = {True: "ok", False: "MISSED", None: "-"}[target["met"]]
        target_text = f"{target['text']} [{verdict}]" if target["text"] else "-"
        lines.append(
            [
                row["workload"],
                row["allocator"],
                _fmt_time(cells["tinytorch"]),
                _fmt_time(cells["torch"]),
                _fmt_time(cells["numpy"]),
                _fmt_ratio(row["ratios"]["tinytorch/torch"]),
                _fmt_ratio(row["ratios"]["tinytorch/numpy"]),
                "/".join(_fmt_faults(cells[name]) for name in ("tinytorch", "torch")),
                target_text,
            ]
        )
        for framework, cell in cells.items():
            if cell.get("status") == "error":
                problems.append(f"{row['workload']} [{framework}]: {cell['reason']}")
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(header))]
    rendered = [
        "  ".join(str(cell).ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in lines
    ]
    rendered.insert(1, "  ".join("-" * width for width in widths))
    rendered.append("times: median +- interquartile range per call; ratios of medians; "
                    "faults: median minor page faults per call")
    rendered.extend(f"note: {note}" for note in report.get("notes", []))
    rendered.extend(f"error: {problem}" for problem in problems)
    text = "\n".join(rendered)
    # The table goes to any terminal or log: keep it ASCII even if a reason was not.
    return text.encode("ascii", "replace").decode("ascii")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tinytorch bench",
        description="Time tinytorch against PyTorch and raw NumPy on fixed workloads "
                    "(`python -m benchmarks` runs the same).",
    )
    parser.add_argument("--quick", action="store_true", help="fewer repeats (a smoke run)")
    parser.add_argument("--only", metavar="NAME[,NAME]", help="run only these workloads")
    parser.add_argument("--list", action="store_true", help="list the workloads and exit")
    parser.add_argument(
        "--allocator",
        choices=("default", "tuned", "both"),
        default="default",
        help="glibc allocator setting; 'both' runs default rows first, then tunes and reruns",
    )
    parser.add_argument(
        "--json",
        metavar="PATH",
        type=Path,
        default=DEFAULT_JSON,
        help=f"where to write the JSON report (default {DEFAULT_JSON})",
    )
    parser.add_argument(
        "--markdown",
        metavar="PATH",
        type=Path,
        help="also write the results as the README's Markdown table (medians, IQRs, spreads)",
    )
    parser.add_argument(
        "--compare",
        metavar="OLD.json",
        type=Path,
        help="compare with an earlier report; exit with status 4 on a regression beyond noise",
    )
    parser.add_argument(
        "--check-targets",
        action="store_true",
        help="exit with status 3 when a measured workload misses its target",
    )
    return parser


def main(argv: Sequence[str] | None = None, workloads: Sequence[Workload] | None = None) -> int:
    """Run the benchmark command line; return the exit status.

    Args:
        argv: command-line arguments (None: ``sys.argv[1:]``).
        workloads: the workloads to choose from (None: every ``benchmarks.workloads_*`` module).

    Returns:
        0 on success, 1 when a step failed or a module did not import, 2 for a usage error
        (or an unreadable ``--compare`` file), 3 with ``--check-targets`` when a target was
        missed, 4 with ``--compare`` when a workload regressed beyond the runs' noise.
        Missing torch is not a failure.
    """
    args = _parser().parse_args(argv)
    available = list(workloads) if workloads is not None else all_workloads()
    if args.list:
        for workload in available:
            target = f"  (target: {workload.target})" if workload.target else ""
            print(f"{workload.name:<24} {workload.description}{target}")
        return 0
    try:
        chosen = select(available, args.only)
        earlier = None if args.compare is None else load_report(args.compare)
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    mode = "quick" if args.quick else "full"
    print(
        f"tinytorch benchmarks: {len(chosen)} workload(s), {mode} mode, allocator {args.allocator}",
        flush=True,
    )
    report = run(
        chosen,
        quick=args.quick,
        allocator=args.allocator,
        echo=lambda line: print(line, flush=True),
    )
    report["argv"] = list(sys.argv[1:] if argv is None else argv)
    print()
    print(format_table(report))
    print()
    print(format_machine(report["machine"]))
    if optional_torch() is None:
        print("\nPyTorch is not installed, so the torch columns and tinytorch/torch ratios are "
              "empty.\nTo get them: pip install torch (CPU wheels: pip install torch "
              "--index-url https://download.pytorch.org/whl/cpu), then run this again.")
    atomic_write_text(args.json, json.dumps(report, indent=2, sort_keys=False) + "\n")
    print(f"\nJSON report: {args.json}")
    if args.markdown is not None:
        atomic_write_text(args.markdown,
                          format_markdown(report, format_machine(report["machine"])))
        print(f"Markdown table: {args.markdown}")

    failed = any(
        cell.get("status") == "error"
        for row in report["results"]
        for cell in row["frameworks"].values()
    )
    if failed:
        return 1
    if earlier is not None:
        rows = compare_reports(earlier, report)
        print(f"\nCompared with {args.compare}:\n{format_comparison(rows)}")
        if any(row["verdict"] == "regression" for row in rows):
            return 4
    if args.check_targets and any(row["target"]["met"] is False for row in report["results"]):
        return 3
    return 0
