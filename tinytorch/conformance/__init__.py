"""``tinytorch check``: the integration suite as a conformance checker for any TinyTorch.

A student's (or anyone's) implementation of the course API lives in a folder PATH with a
``tinytorch/`` package inside. The checks in ``checks/`` exercise it module boundary by module
boundary, through the public API of SPEC section 4 only, in a child process where ``import
tinytorch`` is *their* package (``runner.py``); this process only supervises (``supervisor.py``)
and prints the report (``report.py``).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path
from typing import TextIO

from tinytorch.conformance.catalog import parse_modules
from tinytorch.conformance.report import format_report
from tinytorch.conformance.supervisor import CheckerError, run_conformance

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

__all__ = ["run_check", "run_conformance", "format_report", "parse_modules"]


def _usage(message: str) -> int:
    """Print a usage error (to stderr, as the other commands do); return the usage status."""
    print(f"tinytorch check: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def run_check(args: argparse.Namespace, out: TextIO) -> int:
    """Run ``tinytorch check`` with parsed arguments; print the report; return the exit status."""
    try:
        modules = parse_modules(args.modules)
    except ValueError as exc:
        return _usage(str(exc))
    root = Path(args.path)
    if not (root / "tinytorch").is_dir():
        return _usage(f"{root} has no tinytorch/ folder\n  why: PATH is the folder that "
                           "contains your package (the one you would put on sys.path)\n  fix: "
                           "pass the parent folder of your tinytorch/ package")
    oracle = args.oracle or "auto"
    if oracle == "torch" and importlib.util.find_spec("torch") is None:
        return _usage("--oracle torch, but PyTorch is not installed\n  why: the torch "
                           "oracle computes reference gradients with PyTorch\n  fix: pip install "
                           "torch, or use --oracle numeric (finite differences in NumPy)")
    try:
        report = run_conformance(str(root), modules, oracle=oracle, timeout=args.timeout)
    except CheckerError as exc:
        return _usage(str(exc))
    out.write(format_report(report, verbose=args.verbose))
    if args.json:
        from tinytorch.core.serialization import atomic_write_text

        atomic_write_text(Path(args.json), json.dumps(report, indent=2) + "\n")
        out.write(f"JSON report: {args.json}\n")
    out.flush()
    return EXIT_OK if report["passed"] else EXIT_FAILED
