"""The ``tinytorch`` command: the historical milestones, the benchmarks, an environment check.

    tinytorch milestones list
    tinytorch milestones run ID|all [--quick] [--seed N] [--plot DIR] [--json PATH] [--table PATH]
    tinytorch bench [--quick] [--json PATH] [...]
    tinytorch doctor
    tinytorch check PATH [--modules 01-08] [--json OUT] [--oracle torch|numeric] [--timeout S]
    tinytorch --version

Exit status: 0 when everything asked for worked (for ``milestones run``: every target met),
1 when a milestone missed its target (or a benchmark step failed), 2 for a usage error or
missing data, each with a message that says how to fix it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any, TextIO

from tinytorch.core.errors import TinyTorchError
from tinytorch.core.serialization import atomic_write_text
from tinytorch.milestones import MILESTONES, MilestoneResult, get_milestone, run_milestone
from tinytorch.milestones.report import (
    blas_threads,
    dataset_present,
    format_markdown,
    format_table,
)
from tinytorch.perf.allocator import tune_allocator

EXIT_OK, EXIT_MISSED, EXIT_USAGE = 0, 1, 2
OPTIONAL_EXTRAS = ("torch", "matplotlib", "tqdm", "threadpoolctl")
THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def _version() -> str:
    """The installed tinytorch version (the package's own constant when not installed)."""
    from tinytorch import __version__

    return __version__


# --------------------------------------------------------------------------- argument parsing


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the whole command, with one sub-parser per command."""
    parser = argparse.ArgumentParser(
        prog="tinytorch",
        description="tinytorch: a deep-learning framework built from scratch on NumPy. "
                    "Run the historical milestones, time the framework, check your setup.",
        epilog="Exit status: 0 success, 1 a milestone missed its target, 2 usage or data error.",
    )
    parser.add_argument("--version", action="version", version=f"tinytorch {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    milestones = commands.add_parser(
        "milestones", help="list or run the historical milestones (1957-2017)",
        description="The historical milestones: each one trains a model and checks its "
                    "result against a stated target.")
    milestones.set_defaults(show_help=milestones.print_help)
    actions = milestones.add_subparsers(dest="action", metavar="ACTION")
    actions.add_parser("list", help="show the milestones and whether they can be run",
                       description="Show every milestone with its year and what it trains.")
    run = actions.add_parser(
        "run", help="run one milestone (01-05, or a name such as xor) or all of them",
        description="Train and check milestones. A results table follows the run.",
        epilog="Exit status: 0 when every target is met, 1 when any is missed, 2 on a usage "
               "or data error.")
    run.add_argument("milestone", metavar="ID|all",
                     help="a milestone number (01-05), a name (perceptron, xor, mlp, cnn, "
                          "transformer) or 'all'")
    run.add_argument("--quick", action="store_true",
                     help="smaller runs with their own (stated) quick targets; all in under a "
                          "minute")
    run.add_argument("--seed", type=int, default=0, metavar="N", help="random seed (default 0)")
    run.add_argument("--plot", metavar="DIR",
                     help="save loss/accuracy curves as PNG files in DIR (needs matplotlib)")
    run.add_argument("--json", metavar="PATH",
                     help="write the results as JSON to PATH, and the table as markdown next "
                          "to it (PATH with suffix .md) unless --table is given")
    run.add_argument("--table", metavar="PATH", help="write the results table as markdown")
    run.add_argument("--blas-threads", type=int, default=1, metavar="N",
                     help="BLAS threads while training (default 1: the milestones' matrices "
                          "are small, so a second thread gains little on an idle machine and "
                          "loses much on a busy one; 0 keeps the library default; needs "
                          "threadpoolctl)")
    run.add_argument("--mnist", action="store_true",
                     help="milestone 03 judges on MNIST (its files must be in $TINYTORCH_DATA)")
    run.add_argument("--cifar10", action="store_true",
                     help="milestone 04 judges on CIFAR-10 (its files must be in "
                          "$TINYTORCH_DATA)")

    commands.add_parser(
        "bench", add_help=False,
        help="time tinytorch against PyTorch and NumPy (see `tinytorch bench --help`)",
        description="Delegates to the benchmark harness (python -m benchmarks).")
    run.add_argument("--allocator", choices=("tuned", "default"), default="tuned",
                     help="'tuned' (default) makes sure freed large arrays stay mapped between "
                          "training steps (tinytorch.perf.tune_allocator); 'default' keeps the "
                          "policy the import chose, which is tuned unless TINYTORCH_ALLOCATOR="
                          "system was set")
    doctor_parser = commands.add_parser(
        "doctor", help="report Python, NumPy, BLAS, threads, optional extras and data sets",
        description="Print the Python and NumPy versions, the BLAS library and its threads, "
                    "the optional extras installed (torch, matplotlib, tqdm, threadpoolctl), "
                    "the data folder and which data sets are available. Paste it into bug "
                    "reports.")
    doctor_parser.add_argument("--json", action="store_true",
                               help="print the report as one JSON object, for scripts")
    _add_check_parser(commands)
    return parser


def _add_check_parser(commands: Any) -> None:
    """``tinytorch check PATH``: the conformance suite run against another implementation."""
    check = commands.add_parser(
        "check", help="check your own TinyTorch implementation, module by module",
        description="Run the conformance suite against the tinytorch/ package inside PATH "
                    "(a separate process imports it; this package is never mixed in).",
        epilog="Exit status: 0 when every selected module passes, 1 otherwise, 2 on a usage "
               "error.")
    check.add_argument("path", metavar="PATH", help="a folder that contains a tinytorch/ package")
    check.add_argument("--modules", default="all", metavar="SPEC",
                       help="modules to check: all (default), 06, 01-08, 01-04,09")
    check.add_argument("--json", metavar="OUT", help="also write the report as JSON to OUT")
    check.add_argument("--oracle", choices=("torch", "numeric"), default=None,
                       help="reference for gradients: PyTorch, or finite differences in NumPy "
                            "(default: torch when it is installed)")
    check.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS",
                       help="time limit of one check; a check that runs longer is stopped and "
                            "reported (default 30)")
    check.add_argument("--verbose", action="store_true", help="list the passing checks too")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    first = next((a for a in args_list if not a.startswith("-")), None)
    if first == "bench":
        # The harness owns its options; everything after "bench" goes to it unchanged.
        return _bench(args_list[args_list.index("bench") + 1:])
    parser = build_parser()
    args = parser.parse_args(args_list)
    if args.command == "doctor":
        return doctor(sys.stdout, as_json=args.json)
    if args.command == "check":
        from tinytorch.conformance import run_check

        return run_check(args, sys.stdout)
    if args.command == "milestones":
        if args.action == "list":
            list_milestones(sys.stdout)
            return EXIT_OK
        if args.action == "run":
            return _run_milestones(args, sys.stdout)
        args.show_help()
        return EXIT_USAGE
    parser.print_help()
    return EXIT_USAGE


def _error(message: str) -> int:
    """Print a user-facing error (no traceback) and return the usage exit status."""
    print(f"tinytorch: error: {message}", file=sys.stderr)
    return EXIT_USAGE


# --------------------------------------------------------------------------- milestones


def list_milestones(out: TextIO) -> None:
    """Print the registry: number, year, title and what each milestone shows."""
    out.write(f"{'id':<4}{'year':<6}{'name':<13}title\n")
    for info in MILESTONES:
        out.write(f"{info.id:<4}{info.year:<6}{info.name:<13}{info.title}\n")
        out.write(f"{'':<23}{info.summary}\n")
    out.write("\nRun one with `tinytorch milestones run 01`, or all with "
              "`tinytorch milestones run all --quick`.\n")


def _run_milestones(args: argparse.Namespace, out: TextIO) -> int:
    """Run the chosen milestones, print the table, write JSON/markdown; return the exit status."""
    try:
        chosen = (list(MILESTONES) if args.milestone.lower() == "all"
                  else [get_milestone(args.milestone)])
        _check_requested_data(args)
    except TinyTorchError as exc:
        return _error(str(exc))
    if args.allocator == "tuned":
        tune_allocator()  # also under TINYTORCH_ALLOCATOR=system: the flag is the user's choice
    results: list[MilestoneResult] = []
    started = time.perf_counter()
    with blas_threads(args.blas_threads) as threads_note:
        out.write(threads_note + "\n")
        for info in chosen:
            options: dict[str, Any] = {"quick": args.quick, "seed": args.seed,
                                       "plot_dir": args.plot, "out": out}
            if info.id == "03" and args.mnist:
                options["dataset"] = "mnist"
            if info.id == "04" and args.cifar10:
                options["dataset"] = "cifar10"
            try:
                results.append(run_milestone(info.id, **options))
            except TinyTorchError as exc:
                return _error(str(exc))
    total = time.perf_counter() - started
    out.write("Results" + (" (quick mode)" if args.quick else "") + "\n")
    out.write(format_table(results) + "\n")
    missed = [r.id for r in results if not r.passed]
    verdict = (f"{len(results) - len(missed)} of {len(results)} milestones met their targets "
               f"in {total:.1f} s")
    out.write(verdict + (f"; missed: {', '.join(missed)}" if missed else "") + "\n")
    _write_outputs(args, results, total, threads_note, out)
    out.flush()
    return EXIT_MISSED if missed else EXIT_OK


def _check_requested_data(args: argparse.Namespace) -> None:
    """Fail before training when an explicitly requested data set is absent (the loader's error)."""
    from tinytorch.data import load_cifar10, load_mnist

    if args.mnist and not dataset_present("mnist"):
        load_mnist()  # raises the data package's three-part error: what, why, how to fix
    if args.cifar10 and not dataset_present("cifar10"):
        load_cifar10()


def _write_outputs(args: argparse.Namespace, results: Sequence[MilestoneResult], total: float,
                   threads_note: str, out: TextIO) -> None:
    """Write --json and the markdown table (to --table, else next to the JSON file)."""
    table_path = Path(args.table) if args.table else None
    if args.json:
        report = {
            "tinytorch": _version(),
            "command": "tinytorch milestones run " + args.milestone
                       + (" --quick" if args.quick else "") + f" --seed {args.seed}",
            "quick": args.quick,
            "seed": args.seed,
            "passed": all(r.passed for r in results),
            "total_seconds": round(total, 3),
            "blas_threads": _thread_count(threads_note),   # a number; None: library default
            "blas_threads_note": threads_note,
            "results": [r.to_dict() for r in results],
        }
        json_path = Path(args.json)
        atomic_write_text(json_path, json.dumps(report, indent=2) + "\n")
        out.write(f"JSON results: {json_path}\n")
        table_path = table_path or json_path.with_suffix(".md")
    if table_path is not None:
        atomic_write_text(table_path, format_markdown(results))
        out.write(f"Markdown table: {table_path}\n")


def _thread_count(note: str) -> int | None:
    """The BLAS thread limit a ``blas_threads`` note reports ("BLAS threads: 2" -> 2)."""
    last = note.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else None


# --------------------------------------------------------------------------- bench


def _bench(argv: list[str]) -> int:
    """Hand the arguments to the benchmark harness and return its exit status."""
    if any(a in ("-h", "--help") for a in argv):
        print("tinytorch bench: runs the benchmark harness (same as `python -m benchmarks`).")
    try:
        from benchmarks.harness import main as harness_main
    except ImportError as exc:
        return _error(f"the benchmark suite could not be imported ({exc})\n  why: `tinytorch "
                      "bench` runs the `benchmarks` package that ships with tinytorch's "
                      "source\n  fix: run it from a tinytorch checkout, or reinstall with "
                      "`pip install -e .`")
    try:
        return int(harness_main(argv))
    except SystemExit as exc:  # argparse inside the harness exits on --help or bad options
        return int(exc.code) if isinstance(exc.code, int) else EXIT_USAGE


# --------------------------------------------------------------------------- doctor


def doctor(out: TextIO, as_json: bool = False) -> int:
    """Print the environment report (as text, or one JSON object); return 0: it never fails."""
    import numpy as np

    rows: list[tuple[str, str]] = [
        ("tinytorch", f"{_version()} ({Path(__file__).parent})"),
        ("python", f"{sys.version.split()[0]} ({platform.python_implementation()}) on "
                   f"{platform.platform()}"),
        ("numpy", np.__version__),
        ("blas", _blas_summary()),
        ("cpus", _cpu_summary()),
        ("thread env", ", ".join(f"{k}={os.environ[k]}" for k in THREAD_ENV if k in os.environ)
                       or "not set (libraries choose)"),
        ("extras", ", ".join(_extra(name) for name in OPTIONAL_EXTRAS)),
    ]
    rows += _data_rows()
    if as_json:
        out.write(json.dumps(dict(rows), indent=2) + "\n")
        out.flush()
        return EXIT_OK
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        out.write(f"{label:<{width}}  {value}\n")
    out.flush()
    return EXIT_OK


def _blas_summary() -> str:
    """BLAS library, version and threads via threadpoolctl; else the name from NumPy's config."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return _blas_from_numpy_config() + " (install threadpoolctl for versions and threads)"
    pools = [p for p in threadpool_info() if p.get("user_api") == "blas"]
    if not pools:
        return _blas_from_numpy_config()
    return "; ".join(
        f"{p.get('internal_api')} {p.get('version')} "
        f"({p.get('architecture', p.get('corename')) or 'unknown cpu'}), "
        f"{p.get('num_threads')} threads" for p in pools)


def _blas_from_numpy_config() -> str:
    """The BLAS name NumPy was built against (from ``numpy.show_config``)."""
    import numpy as np

    try:
        config = np.show_config(mode="dicts")
        blas = config["Build Dependencies"]["blas"]
        return f"{blas.get('name')} {blas.get('version', '')}".strip()
    except (TypeError, KeyError, ValueError):  # old NumPy without mode="dicts"
        return "unknown (see numpy.show_config())"


def _cpu_summary() -> str:
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return f"{usable if usable is not None else '?'} usable of {os.cpu_count()}"


def _extra(name: str) -> str:
    """'name version' when installed, else 'name missing' (found without importing it)."""
    try:
        return f"{name} {metadata.version(name)}"
    except metadata.PackageNotFoundError:
        return f"{name} missing"


def _data_rows() -> list[tuple[str, str]]:
    """The data folder and which data sets are available."""
    from tinytorch.data import DATA_ENV, data_root, load_digits, load_qa_pairs

    root = data_root()
    source = f"from ${DATA_ENV}" if os.environ.get(DATA_ENV, "").strip() else "default"
    exists = "exists" if root.is_dir() else "does not exist"
    try:
        x_train, _, x_test, _ = load_digits()
        digits = f"ok ({len(x_train)} train / {len(x_test)} test images)"
    except TinyTorchError as exc:
        digits = f"BROKEN: {str(exc).splitlines()[0]}"
    try:
        corpus = f"ok ({len(load_qa_pairs())} question/answer pairs)"
    except TinyTorchError as exc:
        corpus = f"BROKEN: {str(exc).splitlines()[0]}"
    found = {name: dataset_present(name) for name in ("mnist", "cifar10")}
    return [
        ("data folder", f"{root} ({source}, {exists})"),
        ("digits", f"{digits} [shipped]"),
        ("corpus", f"{corpus} [shipped]"),
        ("mnist", "present" if found["mnist"] else "not found (optional; see load_mnist)"),
        ("cifar10", "present" if found["cifar10"] else "not found (optional; see load_cifar10)"),
    ]


if __name__ == "__main__":
    sys.exit(main())
