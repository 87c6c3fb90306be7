"""The parent side of ``tinytorch check``: start the child, enforce time limits, collect results.

The checks run in a child process (``runner.py``, started by file path) whose ``import
tinytorch`` is the student's package. The parent reads the child's JSON-lines stream; when a
check takes longer than the time limit, or the child dies (a segfault, ``os._exit``), the parent
kills it, records that check as failed, and starts a fresh child at the next check. So a student's
infinite loop or runaway recursion costs one check, not the whole report.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from tinytorch.conformance.catalog import FAIL, MODULES, NOT_IMPLEMENTED, PASS

RUNNER = Path(__file__).resolve().parent / "runner.py"
THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
STARTUP_SECONDS = 120.0  # loading NumPy and the check files on a busy machine


@dataclass
class Run:
    """What one ``tinytorch check`` asked for, and what came back so far."""

    path: str
    modules: list[str]
    oracle: str = "auto"
    timeout: float = 30.0
    python: str = sys.executable
    plan: list[dict[str, str]] = field(default_factory=list)
    results: dict[int, dict[str, Any]] = field(default_factory=dict)
    loaded: dict[str, Any] = field(default_factory=dict)
    oracle_used: str = ""
    import_error: str | None = None


class CheckerError(RuntimeError):
    """The child could not start the suite at all (not a failure of the student's code)."""


def run_conformance(path: str, modules: list[str], oracle: str = "auto", timeout: float = 30.0,
                    python: str | None = None) -> dict[str, Any]:
    """Run the selected modules' checks against the ``tinytorch`` package inside ``path``.

    Args:
        path: a folder that contains a ``tinytorch/`` package.
        modules: module ids such as ``["01", "06"]``.
        oracle: ``"torch"``, ``"numeric"`` or ``"auto"`` (torch when importable).
        timeout: seconds one check may take before it is stopped and reported.
        python: the interpreter for the child (default: this one).

    Returns:
        The report as plain data (see ``build_report``): JSON-ready.
    """
    run = Run(str(Path(path).resolve()), list(modules), oracle, timeout, python or sys.executable)
    start = 0
    while start is not None:
        start = _one_child(run, start)
    return build_report(run)


def _child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # nothing of ours leaks in
    env["PYTHONDONTWRITEBYTECODE"] = "1"   # leave no __pycache__ in the student's folder
    for name in THREAD_ENV:   # tiny matrices: extra BLAS threads only wait for each other
        env.setdefault(name, "1")
    return env


def _one_child(run: Run, start: int) -> int | None:
    """Run checks from ``start`` in one child; return where a new child must resume, or None."""
    command = [run.python, str(RUNNER), run.path, "--modules", ",".join(run.modules),
               "--oracle", run.oracle, "--start", str(start)]
    with tempfile.TemporaryFile("w+") as errors, subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=errors, text=True, env=_child_env(),
            cwd=run.path, start_new_session=True) as child:
        assert child.stdout is not None
        lines, reader = _line_queue(child.stdout)
        try:
            return _follow(run, child, lines, errors)
        finally:
            _stop(child)
            reader.join(timeout=10)   # the pipe ends once the child is gone


def _line_queue(stream: IO[str]) -> tuple[queue.Queue[str | None], threading.Thread]:
    """Lines of ``stream`` as they arrive (None at the end), read by a daemon thread."""
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        for line in stream:
            lines.put(line)
        lines.put(None)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    return lines, reader


def _follow(run: Run, child: subprocess.Popen[str], lines: queue.Queue[str | None],
            errors: IO[str]) -> int | None:
    """Read events until the child finishes, hangs or dies; return the resume index or None."""
    current: int | None = None
    deadline = time.monotonic() + STARTUP_SECONDS
    while True:
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            return _timed_out(run, current)
        if line is None:
            return _ended(run, child, current, errors)
        event = json.loads(line)
        kind = event.pop("event")
        if kind == "plan":
            run.plan, run.oracle_used = event["checks"], event["oracle"]
        elif kind == "start":
            current, deadline = event["index"], time.monotonic() + run.timeout
        elif kind == "imported":
            run.import_error, current = event["error"], None
        elif kind == "result":
            run.results[event.pop("index")] = event
            current = None
        elif kind == "loaded":
            run.loaded = event
        elif kind == "done":
            return None


def _timed_out(run: Run, current: int | None) -> int | None:
    if current is None:
        raise CheckerError("the checker's child process did not start within "
                           f"{STARTUP_SECONDS:g} s")
    if current == -1:  # the package's own import hangs: every check would hang the same way
        return _abandon(run, f"importing tinytorch did not finish within {run.timeout:g} s",
                        _stopped)
    run.results[current] = _stopped(f"did not finish within {run.timeout:g} s (stopped)")
    return current + 1 if current + 1 < len(run.plan) else None


def _abandon(run: Run, reason: str, describe: Any) -> None:
    """The package's import itself hangs or kills Python: fail every check left, stop."""
    run.import_error = reason
    for index in range(len(run.plan)):
        run.results.setdefault(index, describe(reason))


def _stopped(what: str) -> dict[str, Any]:
    return {"status": FAIL, "timed_out": True, "what": what,
            "why": "a loop that never ends or a recursion that never bottoms out (often a "
                   "backward pass that revisits nodes, or a while loop whose condition "
                   "never changes)",
            "fix": "run this boundary by hand on the small input it uses and interrupt it "
                   "(Ctrl-C) to see where it spins"}


def _ended(run: Run, child: subprocess.Popen[str], current: int | None,
           errors: IO[str]) -> int | None:
    """The stream ended: normally after ``done``; otherwise the child died mid-check."""
    code = child.wait()
    errors.seek(0)
    tail = errors.read()[-1500:]
    if current is None or not run.plan:
        raise CheckerError(f"the checker's child process exited ({code}) before finishing:\n"
                           f"{tail}")
    if current == -1:
        return _abandon(run, f"importing tinytorch ended the Python process (exit code {code})",
                        lambda reason: _died(reason, tail))
    run.results[current] = _died(f"the Python process died during this check (exit code "
                                 f"{code})", tail)
    return current + 1 if current + 1 < len(run.plan) else None


def _died(what: str, tail: str) -> dict[str, Any]:
    return {"status": FAIL, "what": what,
            "why": "code that kills the interpreter (os._exit, sys.exit, a crash in C code) "
                   "ends every later step too",
            "fix": "run the boundary by hand; see the output below", "trace": tail}


def _stop(child: subprocess.Popen[str]) -> None:
    """End the child and anything it started (its own process group)."""
    if child.poll() is None:
        with contextlib.suppress(ProcessLookupError):   # it may have just exited
            os.killpg(child.pid, signal.SIGKILL)
    child.wait()


def build_report(run: Run) -> dict[str, Any]:
    """Group the results by module and give each module and the whole run its status."""
    modules = []
    for module in run.modules:
        checks = [dict(run.plan[i], **run.results.get(i, {"status": FAIL, "what": "not run"}))
                  for i in range(len(run.plan)) if run.plan[i]["module"] == module]
        modules.append({"id": module, "name": MODULES[module], "status": _status(checks),
                        "checks": checks})
    return {"path": run.path, "oracle": run.oracle_used, "timeout_seconds": run.timeout,
            "tinytorch_file": run.loaded.get("tinytorch_file"),
            "import_error": run.import_error,
            "passed": all(m["status"] == PASS for m in modules),
            "modules": modules, "loaded_files": run.loaded.get("files", [])}


def _status(checks: list[dict[str, Any]]) -> str:
    """FAIL if any check failed; NOT IMPLEMENTED if any could not run; PASS otherwise."""
    statuses = {c["status"] for c in checks}
    if not checks:
        return NOT_IMPLEMENTED
    if FAIL in statuses:
        return FAIL
    return NOT_IMPLEMENTED if NOT_IMPLEMENTED in statuses else PASS
