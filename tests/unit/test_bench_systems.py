"""The systems workloads: a slow workload's own round count, and speed-ups read off a report."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from benchmarks.harness import Settings, Workload, measure
from benchmarks.workloads_systems import WORKLOADS, format_speedups, speedups


def test_a_workload_with_its_own_rounds_gets_one_warmup_and_at_most_that_many() -> None:
    calls: list[str] = []
    now = [0.0]

    def maker(framework: str) -> Callable[[], Callable[[], None]]:
        def step() -> None:
            calls.append(framework)
            now[0] += 1.0                                  # every call "takes" one second
        return lambda: step

    workload = Workload(name="slow", description="fake", make_tinytorch=maker("tinytorch"),
                        make_torch=maker("torch"), rounds=3)
    row = measure(workload, Settings(warmup=3, rounds=21, min_rounds=5, budget_s=1e9),
                  lambda: now[0])
    assert row["warmup"] == 1 and row["rounds"] == 3
    assert calls == ["tinytorch", "torch"] * 4          # 1 warm-up round + 3 timed rounds
    assert row["frameworks"]["tinytorch"]["n"] == 3


def _cell(median: float, iqr: float = 0.0) -> dict[str, object]:
    return {"status": "ok", "median_s": median, "iqr_s": iqr}


def test_speedups_are_ratios_of_medians_within_each_framework() -> None:
    report = {"results": [
        {"workload": "kv_gen128_nocache",
         "frameworks": {"tinytorch": _cell(10.0, 2.0), "torch": _cell(6.0)}},
        {"workload": "kv_gen128_cache",
         "frameworks": {"tinytorch": _cell(2.0), "torch": _cell(2.0)}},
        {"workload": "gelu_unfused",
         "frameworks": {"tinytorch": _cell(3.0), "torch": {"status": "n/a"}}},
    ]}
    (kv,) = speedups(report)                              # gelu_fused is missing: no pair
    assert kv["pair"] == "kv_gen128_nocache / kv_gen128_cache"
    assert kv["tinytorch"] == {"speedup": 5.0, "low": 4.5, "high": 5.5}
    assert kv["torch"]["speedup"] == pytest.approx(3.0)
    assert format_speedups(report) == ("kv_gen128_nocache / kv_gen128_cache: tinytorch 5.0x "
                                       "[4.5-5.5], torch 3.0x [3.0-3.0]")


def test_the_systems_workloads_cover_the_issue() -> None:
    names = {w.name for w in WORKLOADS}
    assert {"kv_gen128_nocache", "kv_gen128_cache", "kv_gen496_nocache", "kv_gen496_cache",
            "matmul_tiled_512", "gelu_fused", "gelu_unfused"} <= names
    slow = next(w for w in WORKLOADS if w.name == "kv_gen496_nocache")
    assert slow.rounds is not None and slow.rounds <= 5
