"""The course modules the conformance suite knows, and how a ``--modules`` selection is read.

Plain constants and one parser, importable in both processes: by ``tinytorch check`` (our
package) and, loaded by file path, by the child process that runs a student's code.
"""

from __future__ import annotations

MODULES: dict[str, str] = {
    "01": "tensor", "02": "activations", "03": "layers", "04": "losses", "05": "dataloader",
    "06": "autograd", "07": "optimizers", "08": "training", "09": "spatial",
    "10": "tokenization", "11": "embeddings", "12": "attention", "13": "transformer",
    "14": "profiling", "15": "quantization", "16": "compression", "17": "acceleration",
    "18": "memoization", "19": "benchmarking", "20": "capstone",
}

# The import path each module must provide (SPEC section 4); a check of a module whose path does
# not import is NOT IMPLEMENTED, even when the names it uses happen to exist elsewhere.
MODULE_PATHS: dict[str, str] = {
    "01": "core.tensor", "02": "core.activations", "03": "core.layers", "04": "core.losses",
    "05": "core.dataloader", "06": "core.autograd", "07": "core.optimizers",
    "08": "core.training", "09": "core.spatial", "10": "core.tokenization",
    "11": "core.embeddings", "12": "core.attention", "13": "core.transformer",
    "14": "perf.profiling", "15": "perf.quantization", "16": "perf.compression",
    "17": "perf.acceleration", "18": "perf.memoization", "19": "perf.benchmarking",
    "20": "capstone",
}

PASS, FAIL, NOT_IMPLEMENTED = "PASS", "FAIL", "NOT IMPLEMENTED"


def parse_modules(spec: str) -> list[str]:
    """Turn ``"all"``, ``"06"``, ``"01-08"`` or ``"01-04,09,12-13"`` into module ids, in order.

    Raises:
        ValueError: a part that is not a module number or a range of them.

    Example:
        >>> parse_modules("01-03,9")
        ['01', '02', '03', '09']
    """
    if spec.strip().lower() == "all":
        return list(MODULES)
    chosen: set[str] = set()
    for part in filter(None, (p.strip() for p in spec.split(","))):
        low, _, high = part.partition("-")
        try:
            first, last = int(low), int(high or low)
        except ValueError:
            first = last = -1
        ids = [f"{n:02d}" for n in range(first, last + 1)]
        if not ids or any(i not in MODULES for i in ids):
            raise ValueError(
                f"--modules got {part!r}\n  why: modules are numbered 01-20 (ranges like 01-08, "
                f"lists like 01,03)\n  fix: pass e.g. --modules 01-08 or --modules all")
        chosen.update(ids)
    if not chosen:
        raise ValueError("--modules got nothing\n  why: at least one module must be chosen\n"
                         "  fix: pass e.g. --modules 01-08 or --modules all")
    return sorted(chosen)
