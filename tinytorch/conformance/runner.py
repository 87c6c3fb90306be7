"""The child process of ``tinytorch check``: runs the checks against a student's ``tinytorch``.

Started by file path (``python runner.py PATH ...``), never imported as part of our package:
the folder PATH goes first on ``sys.path``, so ``import tinytorch`` finds the student's package,
and the check files are loaded by path under the neutral package name ``_ttcheck``.

It talks to the parent over its original stdout, one JSON object per line:
``plan`` (the checks, in order), ``start`` and ``result`` for each check, ``loaded`` (where
every imported ``tinytorch`` module came from) and ``done``. Anything the student's code
prints goes to stderr, so it cannot corrupt the stream.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time
import traceback
import types
from pathlib import Path
from typing import Any, TextIO

HERE = Path(__file__).resolve().parent
PACKAGE = "_ttcheck"
CHECK_FILES = ("foundation", "learning", "vision_language", "transformer", "systems")


def isolate(student_root: str) -> None:
    """Make ``import tinytorch`` resolve to the student's package and to nothing else."""
    root = str(Path(student_root).resolve())
    kept = [p for p in sys.path[1:]                     # [0] is this file's folder: dropped
            if not (Path(p or ".").resolve() / "tinytorch").exists()]
    sys.path[:] = [root, *kept]
    for name in [n for n in sys.modules if n == "tinytorch" or n.startswith("tinytorch.")]:
        del sys.modules[name]


def load_checks() -> tuple[Any, Any]:
    """Import the harness, the oracle and every check file under ``_ttcheck``; return both."""
    package = types.ModuleType(PACKAGE)
    package.__path__ = [str(HERE)]
    sys.modules[PACKAGE] = package
    importlib.import_module(f"{PACKAGE}.catalog")
    harness = importlib.import_module(f"{PACKAGE}.harness")
    oracle = importlib.import_module(f"{PACKAGE}.oracle")
    for name in CHECK_FILES:
        importlib.import_module(f"{PACKAGE}.checks.{name}")
    return harness, oracle


def outcome(harness: Any, check: Any, oracle: Any) -> dict[str, Any]:
    """Run one check and describe what happened (never raises)."""
    import numpy as np

    np.random.seed(0)  # student code that draws from the global generator is reproducible too
    started = time.perf_counter()
    try:
        harness.need(sys.modules[f"{PACKAGE}.catalog"].MODULE_PATHS[check.module])
        check.run(oracle)
        result: dict[str, Any] = {"status": "PASS"}
    except harness.MissingAPIError as exc:
        result = {"status": "NOT IMPLEMENTED", "what": str(exc)}
    except harness.CheckError as exc:
        result = {"status": "FAIL", "what": exc.what, "why": exc.why, "fix": exc.fix,
                  "expected": exc.expected, "actual": exc.actual}
    except RecursionError as exc:
        result = {"status": "FAIL", "what": f"RecursionError: {exc}", **_crash_hint(exc)}
    except Exception as exc:  # a student's bug: report it, keep going
        result = {"status": "FAIL", "what": f"{type(exc).__name__}: {exc}", **_crash_hint(exc)}
    result["seconds"] = round(time.perf_counter() - started, 3)
    return result


def _crash_hint(exc: BaseException) -> dict[str, str]:
    frames = traceback.extract_tb(exc.__traceback__)
    student = [f for f in frames if f"{os.sep}tinytorch{os.sep}" in f.filename
               and PACKAGE not in f.filename and "conformance" not in f.filename]
    where = student[-1] if student else (frames[-1] if frames else None)
    place = f"{where.filename}:{where.lineno} in {where.name}" if where else "unknown"
    whose = "your code" if student else "the check (on a value your code returned)"
    if isinstance(exc, SyntaxError):   # raised by the import system, about the student's file
        place, whose = f"{exc.filename}:{exc.lineno}", "your code (a syntax error)"
    return {"why": f"{whose} raised an exception at {place}",
            "fix": "run the same steps yourself (the boundary names them) and read the "
                   "traceback", "trace": "".join(traceback.format_exception(exc)[-3:])[-1500:]}


def loaded_tinytorch() -> list[str]:
    """The file of every imported module of the ``tinytorch`` package."""
    return sorted(str(getattr(m, "__file__", None) or getattr(m, "__path__", ["?"])[0])
                  for n, m in list(sys.modules.items())
                  if n == "tinytorch" or n.startswith("tinytorch."))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("path")
    parser.add_argument("--modules", required=True)
    parser.add_argument("--oracle", default="auto")
    parser.add_argument("--start", type=int, default=0)
    args = parser.parse_args(argv)
    channel: TextIO = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)                     # prints (Python or C) of the student's code go to stderr
    sys.stdout = sys.stderr
    isolate(args.path)
    harness, oracle_module = load_checks()
    oracle = oracle_module.make_oracle(args.oracle)

    def send(**event: Any) -> None:
        channel.write(json.dumps(event) + "\n")

    wanted = set(args.modules.split(","))
    plan = [c for c in harness.CHECKS if c.module in wanted]
    send(event="plan", oracle=oracle.kind,
         checks=[{"module": c.module, "name": c.name, "boundary": c.boundary} for c in plan])
    send(event="start", index=-1)    # importing the package: a hang here stops the whole run
    try:
        import tinytorch  # noqa: F401 (the student's)
        send(event="imported", error=None)
    except Exception as exc:  # reported; each check then says what it cannot import
        send(event="imported", error=f"{type(exc).__name__}: {exc}")
    for index in range(args.start, len(plan)):
        send(event="start", index=index)
        send(event="result", index=index, **outcome(harness, plan[index], oracle))
    tinytorch = sys.modules.get("tinytorch")
    send(event="loaded", tinytorch_file=getattr(tinytorch, "__file__", None),
         files=loaded_tinytorch())
    send(event="done")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
