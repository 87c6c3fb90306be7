"""The command's scripting options: doctor --json and the milestones' allocator switch."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout

from tinytorch.cli import build_parser, doctor, main


def test_doctor_json_is_one_object_with_the_environment() -> None:
    out = io.StringIO()
    assert doctor(out, as_json=True) == 0
    report = json.loads(out.getvalue())
    assert {"tinytorch", "python", "numpy", "blas", "extras"} <= set(report)
    assert report["numpy"].count(".") >= 1


def test_milestones_allocator_switch_defaults_to_tuned_and_accepts_default() -> None:
    parser = build_parser()
    assert parser.parse_args(["milestones", "run", "02"]).allocator == "tuned"
    assert parser.parse_args(["milestones", "run", "02", "--allocator", "default"]).allocator \
        == "default"


def test_quick_xor_run_with_the_default_allocator_meets_its_target() -> None:
    out = io.StringIO()
    with redirect_stdout(out):
        status = main(["milestones", "run", "02", "--quick", "--allocator", "default"])
    assert status == 0
    assert "1 of 1 milestones met their targets" in out.getvalue()
