"""The conformance suite of ``tinytorch check``, run against this repository (one source of truth).

The same checks a student's package meets, module boundary by module boundary (see
``docs/check.md``); here they must all pass. The oracle is PyTorch when it is installed.
"""

from __future__ import annotations

from pathlib import Path

from tinytorch.conformance import format_report, parse_modules, run_conformance

REPO = Path(__file__).resolve().parents[2]


def test_tinytorch_check_passes_every_module_on_this_repository() -> None:
    report = run_conformance(str(REPO), parse_modules("all"), timeout=120)
    assert report["passed"], format_report(report)
    assert [m["id"] for m in report["modules"]] == [f"{i:02d}" for i in range(1, 21)]
    assert all(m["checks"] for m in report["modules"])   # no module passes with zero checks


def test_quick_the_numeric_oracle_agrees_on_the_gradient_modules() -> None:
    report = run_conformance(str(REPO), ["06", "09", "12", "13"], oracle="numeric", timeout=120)
    assert report["oracle"] == "numeric"
    assert report["passed"], format_report(report)
