"""tune_allocator: a bool result, idempotent, really keeps freed memory; import tinytorch applies it
unless TINYTORCH_ALLOCATOR=system (which the test suite sets, see conftest).

mallopt changes the whole process and cannot be undone, so every call that could change the
allocator runs in a child Python process; the test process keeps its default allocator.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tinytorch.perf import allocator_tuned, tune_allocator

REPO = Path(__file__).resolve().parents[2]
ON_GLIBC = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"


def _run_child(code: str, *args: str) -> Any:
    """Run `code` in a fresh interpreter at the repo root; parse the JSON it prints last.

    `args` follow the code on the command line (the child reads them from ``sys.argv``).
    """
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_tune_allocator_returns_bool_is_idempotent_and_is_reflected() -> None:
    states = _run_child("""
        import json
        from tinytorch.perf import allocator_tuned, tune_allocator
        states = [allocator_tuned()]          # importing must not tune anything
        states += [tune_allocator(), allocator_tuned(), tune_allocator(), allocator_tuned()]
        print(json.dumps(states))
    """)
    if ON_GLIBC:
        assert states == [False, True, True, True, True]
    else:
        assert states == [False, False, False, False, False]


@pytest.mark.skipif(not ON_GLIBC, reason="mallopt thresholds exist only in glibc")
def test_tuned_allocator_keeps_a_freed_16mb_array_resident() -> None:
    # Default glibc maps a 16 MiB array on its own and unmaps it on free (resident size falls
    # back); tuned, the array comes from the heap and stays there for the next step to reuse.
    code = """
        import json, os, sys
        import numpy as np
        from tinytorch.perf import tune_allocator
        if sys.argv[-1] == "tuned":
            assert tune_allocator()
        def resident() -> int:
            with open("/proc/self/statm") as f:
                return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        before = resident()
        block = np.ones(16 << 20, dtype=np.uint8)   # 16 MiB, every page touched
        del block
        print(json.dumps((resident() - before) / 2**20))
    """
    kept = {mode: _run_child(code, mode) for mode in ("default", "tuned")}
    assert kept["default"] < 4.0
    assert kept["tuned"] > 12.0


def test_refused_mmap_threshold_returns_false_and_changes_nothing() -> None:
    states = _run_child("""
        import json
        from tinytorch.perf import allocator_tuned, tune_allocator
        refused = tune_allocator(mmap_threshold=1 << 30)   # above glibc's 32 MiB maximum
        print(json.dumps([refused, allocator_tuned()]))
    """)
    assert states == [False, False]


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [({"trim_threshold": -1}, "trim_threshold"), ({"mmap_threshold": 1 << 31}, "mmap_threshold")],
)
def test_out_of_range_threshold_raises_before_touching_malloc(
    kwargs: dict[str, int], name: str
) -> None:
    # Validation happens before any mallopt call, so this is safe in the test process.
    with pytest.raises(ValueError, match=rf"{name}=-?\d+ is out of range\n  why: .*\n  fix: "):
        tune_allocator(**kwargs)
    assert allocator_tuned() is False


@pytest.mark.parametrize("setting", [None, "system"])
def test_import_tinytorch_tunes_the_allocator_unless_opted_out(setting: str | None) -> None:
    env = {k: v for k, v in os.environ.items() if k != "TINYTORCH_ALLOCATOR"}
    if setting is not None:
        env["TINYTORCH_ALLOCATOR"] = setting
    code = "import json, tinytorch; print(json.dumps(tinytorch.perf.allocator_tuned()))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120, cwd=REPO, env=env, check=False)
    assert result.returncode == 0, result.stderr
    tuned = json.loads(result.stdout.strip().splitlines()[-1])
    assert tuned is (ON_GLIBC and setting is None)
