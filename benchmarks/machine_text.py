"""The machine behind a benchmark report, in a few plain lines (terminal and Markdown alike)."""

from __future__ import annotations

from typing import Any


def _describe_pool(pool: dict[str, Any]) -> str:
    """One thread pool as e.g. 'openblas 0.3.31 (SkylakeX, 2 threads)'; unknown parts left out."""
    name = " ".join(str(pool[key]) for key in ("internal_api", "version") if pool.get(key))
    details = [str(pool["architecture"])] if pool.get("architecture") else []
    details.append(f"{pool.get('num_threads')} threads")
    return f"{name} ({', '.join(details)})"


def format_machine(machine: dict[str, Any]) -> str:
    """A few lines naming the machine, BLAS and torch behind the numbers."""
    blas = machine["blas"]
    if isinstance(blas, list):
        blas_text = "; ".join(_describe_pool(pool) for pool in blas) or "none found"
    else:
        blas_text = blas
    torch = machine["torch"]
    if torch is None:
        torch_text = "not installed"
    elif torch["imported"]:
        torch_text = f"{torch['version']} ({torch['num_threads']} threads)"
    else:
        torch_text = f"{torch['version']} (not used)"
    env = ", ".join(f"{k}={v}" for k, v in machine["env"].items()) or "none of note"
    return "\n".join(
        [
            f"python {machine['python']} | numpy {machine['numpy']} | torch {torch_text}",
            f"cpus {machine['usable_cpus']} of {machine['cpu_count']} | {machine['platform']}",
            f"blas: {blas_text}",
            f"allocator tuned at end: {machine['allocator_tuned']} | env: {env}",
        ]
    )
