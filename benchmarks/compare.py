"""Compare a benchmark run with an earlier one: which workloads got slower beyond the noise.

A workload's tinytorch median is compared with the earlier run's. Both runs carry their own
noise, measured as the interquartile range relative to the median; a change counts as a
regression (or an improvement) only when it is larger than the larger of the two runs' relative
IQRs and at least ``min_change`` (5%). Rows are matched by workload name and allocator mode.
The tinytorch/PyTorch ratio is shown too: on a machine whose load changed between the runs it
is the steadier number, since both frameworks ran interleaved in the same run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["compare_reports", "format_comparison", "load_report"]

MIN_CHANGE = 0.05


def load_report(path: str | Path) -> dict[str, Any]:
    """Read a JSON report written by ``python -m benchmarks --json``."""
    report = json.loads(Path(path).read_text())
    if not isinstance(report, dict) or "results" not in report:
        raise ValueError(f"{path} is not a benchmark report (no 'results' list)\n"
                         "  why: --compare reads the JSON that `tinytorch bench --json` writes\n"
                         "  fix: pass the JSON file of an earlier `tinytorch bench` run")
    return report


def _rows(report: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["workload"], r.get("allocator_requested", "default")): r for r in report["results"]}


def _cell(row: dict[str, Any]) -> dict[str, Any] | None:
    cell = row["frameworks"].get("tinytorch", {})
    return cell if cell.get("status") == "ok" and cell["median_s"] > 0 else None


def compare_reports(old: dict[str, Any], new: dict[str, Any],
                    min_change: float = MIN_CHANGE) -> list[dict[str, Any]]:
    """One row per workload present in both reports: medians, change, noise and a verdict.

    Example:
        >>> def report(median, iqr):
        ...     cell = {"status": "ok", "median_s": median, "iqr_s": iqr}
        ...     return {"results": [{"workload": "w", "frameworks": {"tinytorch": cell},
        ...                          "ratios": {}}]}
        >>> compare_reports(report(1.0, 0.02), report(1.5, 0.03))[0]["verdict"]
        'regression'
    """
    rows = []
    old_rows = _rows(old)
    for key, new_row in _rows(new).items():
        if key not in old_rows:
            continue
        before, after = _cell(old_rows[key]), _cell(new_row)
        if before is None or after is None:
            continue
        change = after["median_s"] / before["median_s"] - 1.0
        noise = max(before["iqr_s"] / before["median_s"], after["iqr_s"] / after["median_s"],
                    min_change)
        verdict = ("regression" if change > noise else "improvement" if change < -noise
                   else "within noise")
        rows.append({
            "workload": key[0], "allocator": key[1], "old_median_s": before["median_s"],
            "new_median_s": after["median_s"], "change": change, "noise": noise,
            "verdict": verdict,
            "old_ratio_torch": old_rows[key].get("ratios", {}).get("tinytorch/torch"),
            "new_ratio_torch": new_row.get("ratios", {}).get("tinytorch/torch"),
        })
    return rows


def _ratio(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}x"


def format_comparison(rows: list[dict[str, Any]]) -> str:
    """A plain-text table of ``compare_reports`` rows."""
    header = (f"{'workload':<28} {'alloc':<8} {'old':>10} {'new':>10} {'change':>8} "
              f"{'noise':>7} {'tt/torch old->new':>18}  verdict")
    lines = [header, "-" * len(header)]
    for r in rows:
        ratios = f"{_ratio(r['old_ratio_torch'])} -> {_ratio(r['new_ratio_torch'])}"
        verdict = r["verdict"].upper() if r["verdict"] == "regression" else r["verdict"]
        lines.append(
            f"{r['workload']:<28} {r['allocator']:<8} {r['old_median_s'] * 1e3:>8.3f}ms "
            f"{r['new_median_s'] * 1e3:>8.3f}ms {r['change']:>+7.1%} {r['noise']:>6.1%} "
            f"{ratios:>18}  {verdict}")
    if not rows:
        lines.append("(no workload appears in both reports)")
    return "\n".join(lines)
