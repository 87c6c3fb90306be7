"""The report of ``tinytorch check`` as text a student can act on.

One line per module (PASS / FAIL / NOT IMPLEMENTED), then, for every check that did not pass,
the boundary it tests, what was seen, the expected and actual values, and the hint (why, fix).
"""

from __future__ import annotations

import textwrap
from typing import Any

from tinytorch.conformance.catalog import FAIL, NOT_IMPLEMENTED, PASS


def format_report(report: dict[str, Any], verbose: bool = False) -> str:
    """The whole report as text; ``verbose`` also lists every passing check."""
    lines = [f"tinytorch check {report['path']}",
             f"  package: {report['tinytorch_file'] or 'not importable'}",
             f"  oracle: {report['oracle']}, time limit per check: "
             f"{report['timeout_seconds']:g} s", ""]
    if report.get("import_error"):
        lines += [f"  importing tinytorch failed: {report['import_error']}", ""]
    for module in report["modules"]:
        checks = module["checks"]
        passed = sum(c["status"] == PASS for c in checks)
        lines.append(f"{module['id']} {module['name']:<13} {module['status']:<16}"
                     f"{passed}/{len(checks)} checks")
        for item in checks:
            if item["status"] != PASS or verbose:
                lines += _describe(item)
    lines += ["", _verdict(report)]
    return "\n".join(lines) + "\n"


def _describe(item: dict[str, Any]) -> list[str]:
    """The lines of one check: its status and boundary, then what/expected/actual/why/fix."""
    head = f"   - {item['status']}: {item['name']} [boundary: {item['boundary']}]"
    if item["status"] == PASS:
        return [head]
    rows = [("what", item.get("what", ""))]
    if item["status"] == FAIL:
        rows += [("expected", item.get("expected", "")), ("actual", item.get("actual", "")),
                 ("why", item.get("why", "")), ("fix", item.get("fix", ""))]
    out = [head]
    for label, text in rows:
        if text:
            out += textwrap.wrap(str(text), width=100, initial_indent=f"       {label:<9}",
                                 subsequent_indent=" " * 16)
    return out


def _verdict(report: dict[str, Any]) -> str:
    counts = {s: sum(m["status"] == s for m in report["modules"])
              for s in (PASS, FAIL, NOT_IMPLEMENTED)}
    total = len(report["modules"])
    summary = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    if report["passed"]:
        return f"All {total} modules pass."
    return f"{counts[PASS]} of {total} modules pass ({summary})."
