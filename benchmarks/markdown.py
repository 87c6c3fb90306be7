"""A benchmark report as the Markdown table the README shows, spread included.

``python -m benchmarks --markdown PATH`` writes it from the run it just made (and
``python -m benchmarks.markdown REPORT.json`` prints it again from a saved report), so the README's
numbers always come from one command on the current code. Each time is the median with its
interquartile range; the ratio column adds the interquartile range of the *paired* ratios
(tinytorch's call in round i over PyTorch's in round i), which says how far the ratio itself
moved during the run, and the machine line says what the numbers depend on.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path
from typing import Any

from benchmarks.machine_text import format_machine


def _time(cell: dict[str, Any]) -> str:
    if cell.get("status") != "ok":
        return str(cell.get("status", "n/a"))
    return f"{_ms(cell['median_s'])} (IQR {_ms(cell['iqr_s'])})"


def _ms(seconds: float) -> str:
    value = round(seconds * 1e3, 3)   # microsecond resolution: no clock noise in the digits
    return f"{value:.3g} ms" if value < 1000 else f"{seconds:.3g} s"


def paired_ratio_spread(ours: dict[str, Any], theirs: dict[str, Any]) -> tuple[float, float]:
    """The 25th and 75th percentiles of per-round ratios ours[i] / theirs[i].

    Example:
        >>> paired_ratio_spread({"samples_s": [2, 4, 6, 8]}, {"samples_s": [1, 2, 2, 4]})
        (2.0, 2.25)
    """
    pairs = sorted(a / b for a, b in zip(ours["samples_s"], theirs["samples_s"], strict=False)
                   if b > 0)
    if len(pairs) < 2:
        return (pairs[0], pairs[0]) if pairs else (float("nan"), float("nan"))
    q25, _, q75 = statistics.quantiles(pairs, n=4, method="inclusive")
    return q25, q75


def _ratio(row: dict[str, Any], base: str) -> str:
    ratio = row["ratios"].get(f"tinytorch/{base}")
    if ratio is None:
        return ""
    cells = row["frameworks"]
    low, high = paired_ratio_spread(cells["tinytorch"], cells[base])
    return f"{ratio:.2f}x ({low:.2f}-{high:.2f})"


def format_markdown(report: dict[str, Any], machine_text: str = "") -> str:
    """The report's rows as a Markdown table, with the method and ``machine_text`` under it."""
    lines = [
        "| workload | tinytorch | PyTorch | tinytorch / PyTorch | tinytorch / NumPy | page faults "
        "tinytorch / PyTorch | target |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in report["results"]:
        cells, target = row["frameworks"], row["target"]
        verdict = {True: "met", False: "**missed**", None: ""}[target["met"]]
        lines.append(" | ".join([
            f"| {row['workload']}", _time(cells["tinytorch"]), _time(cells["torch"]),
            _ratio(row, "torch"), _ratio(row, "numpy"), _faults(cells),
            f"{target['text']} {verdict}".strip() + " |",
        ]))
    machine = report["machine"]
    torch = machine.get("torch") or {}
    lines += [
        "",
        f"Medians of {_rounds(report)} alternating rounds per workload, IQR = interquartile "
        "range; a ratio's range is the IQR of the per-round paired ratios; page faults are "
        "the median minor faults per call. "
        f"Python {machine['python']}, NumPy {machine['numpy']}, PyTorch "
        f"{torch.get('version', 'n/a')} ({torch.get('num_threads', '?')} threads), "
        f"{machine['usable_cpus']} CPUs, allocator tuned: {machine['allocator_tuned']}.",
    ]
    if machine_text:
        lines += ["", "Machine: " + "; ".join(machine_text.splitlines()) + "."]
    return "\n".join(lines) + "\n"


def _faults(cells: dict[str, Any]) -> str:
    """Median minor page faults per call (fresh pages the kernel mapped), ours / PyTorch's."""
    counts = [cells[name].get("minor_faults_median") for name in ("tinytorch", "torch")]
    return " / ".join("-" if c is None else f"{c:.0f}" for c in counts)


def _rounds(report: dict[str, Any]) -> str:
    counts = sorted({cell["n"] for row in report["results"]
                     for cell in row["frameworks"].values() if cell.get("status") == "ok"})
    return str(counts[0]) if len(counts) == 1 else f"{counts[0]}-{counts[-1]}"


def main(argv: list[str] | None = None) -> int:
    """``python -m benchmarks.markdown REPORT.json``: print an earlier run's table again."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m benchmarks.markdown REPORT.json", file=sys.stderr)
        return 2
    report = json.loads(Path(args[0]).read_text())
    print(format_markdown(report, format_machine(report["machine"])), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
