"""Unit tests for module 14, profiling: the FLOP table, the op events, memory and latency.

FLOP counts are checked against formulas written out by hand from the layer's definition
(never against the table itself); memory against the nbytes of the arrays involved; the
exports by parsing them back.
"""

from __future__ import annotations

import inspect
import json
import math
from pathlib import Path

import numpy as np
import pytest

import tinytorch
from tinytorch.core import autograd
from tinytorch.core.activations import ReLU
from tinytorch.core.attention import MultiHeadAttention, scaled_dot_product_attention
from tinytorch.core.autograd import Function, OpEvent, observe_ops
from tinytorch.core.embeddings import Embedding
from tinytorch.core.layers import Linear, Sequential
from tinytorch.core.optimizers import Adam
from tinytorch.core.spatial import AvgPool2d, Conv2d, MaxPool2d
from tinytorch.core.tensor import Tensor
from tinytorch.core.transformer import LayerNorm
from tinytorch.perf.flops import FORWARD_RULES, backward_flops, is_counted
from tinytorch.perf.profiling import LatencyStats, Profiler, time_call
from tinytorch.perf.trace import profile

PROFILER = Profiler()


def conv_out(size: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


# --- FLOPs against the analytic formulas ---------------------------------------------------


@pytest.mark.parametrize("bias", [True, False])
def test_linear_flops_are_two_per_multiply_add_plus_bias_adds(bias: bool) -> None:
    batch, n_in, n_out = 32, 784, 256
    expected = 2 * batch * n_in * n_out + (batch * n_out if bias else 0)
    assert PROFILER.count_flops(Linear(n_in, n_out, bias=bias), (batch, n_in)) == expected


def test_linear_flops_scale_with_the_batch() -> None:
    layer = Linear(10, 4)
    assert PROFILER.count_flops(layer, (7, 10)) == 7 * PROFILER.count_flops(layer, (1, 10))


@pytest.mark.parametrize(("stride", "padding", "dilation", "groups"), [
    (1, 0, 1, 1), (2, 1, 1, 1), (1, 2, 2, 1), (2, 1, 1, 2), (3, 2, 2, 4),
])
def test_conv2d_flops_follow_the_formula(stride: int, padding: int, dilation: int,
                                         groups: int) -> None:
    n, c, o, k, h, w = 2, 8, 12, 3, 17, 14
    conv = Conv2d(c, o, k, stride=stride, padding=padding, dilation=dilation, groups=groups)
    ho, wo = conv_out(h, k, stride, padding, dilation), conv_out(w, k, stride, padding, dilation)
    outputs = n * o * ho * wo
    expected = 2 * outputs * (c // groups) * k * k + outputs       # products, then bias adds
    assert PROFILER.count_flops(conv, (n, c, h, w)) == expected


def test_pooling_flops_count_window_reductions() -> None:
    n, c, h = 2, 3, 9
    ho = conv_out(h, 3, 2, 1, 1)
    assert PROFILER.count_flops(MaxPool2d(3, stride=2, padding=1), (n, c, h, h)) == \
        n * c * ho * ho * (9 - 1)                                   # 8 comparisons a window
    assert PROFILER.count_flops(AvgPool2d(2), (n, c, 8, 8)) == n * c * 4 * 4 * 4  # 3 adds, 1 scale


def test_layernorm_flops_are_seven_per_element_and_two_per_row() -> None:
    b, t, d = 4, 5, 16
    assert PROFILER.count_flops(LayerNorm(d), (b, t, d)) == 7 * b * t * d + 2 * b * t


def test_embedding_lookup_is_a_gather_with_no_flops() -> None:
    table = Embedding(100, 8)
    assert PROFILER.count_flops(table, (4, 6)) == 0
    assert PROFILER.count_parameters(table) == 100 * 8


def test_multi_head_attention_flops_match_the_block_formula() -> None:
    b, t, e, h = 2, 7, 16, 4
    expected = (2 * b * t * e * 3 * e + b * t * 3 * e      # fused Q, K, V projection + bias
                + 2 * b * h * t * t * (e // h)             # scores Q K^T
                + 6 * b * h * t * t                        # scaled, masked softmax
                + 2 * b * h * t * t * (e // h)             # weights @ V
                + 2 * b * t * e * e + b * t * e)           # output projection + bias
    assert PROFILER.count_flops(MultiHeadAttention(e, h), (b, t, e)) == expected


def test_scaled_dot_product_attention_flops() -> None:
    q = Tensor(np.ones((3, 5, 8), dtype=np.float32))
    k = v = Tensor(np.ones((3, 6, 8), dtype=np.float32))
    with profile() as prof:
        scaled_dot_product_attention(q, k, v)
    assert prof.total("forward").flops == 2 * 3 * 5 * 6 * 8 * 2 + 6 * 3 * 5 * 6


def test_a_whole_model_is_the_sum_of_its_layers() -> None:
    model = Sequential(Linear(20, 30), ReLU(), Linear(30, 5))
    b = 8
    expected = (2 * b * 20 * 30 + b * 30) + b * 30 + (2 * b * 30 * 5 + b * 5)
    assert PROFILER.count_flops(model, (b, 20)) == expected


def test_backward_of_a_product_is_one_product_per_needed_gradient() -> None:
    shapes, out = ((4, 3), (3, 2)), (4, 2)
    assert backward_flops("MatMul", shapes, out, {}, (True, True)) == 2 * 2 * 4 * 3 * 2
    conv_shapes, conv_outp = ((1, 2, 5, 5), (3, 2, 3, 3), (3,)), (1, 3, 3, 3)
    product = 2 * 27 * 2 * 9
    assert backward_flops("Convolution2d", conv_shapes, conv_outp, {}, (False, True, True)) == \
        product + 27                                        # weight gradient + bias sum


def test_every_function_in_tinytorch_has_a_flop_rule() -> None:
    import tinytorch.core.losses
    import tinytorch.core.ops  # noqa: F401  (imports register the subclasses)
    import tinytorch.core.spatial
    import tinytorch.core.transformer  # noqa: F401

    def concrete(cls: type) -> list[type]:
        found = []
        for sub in cls.__subclasses__():
            if sub.__module__.startswith("tinytorch") and not sub.__name__.startswith("_"):
                found.append(sub)
            found.extend(concrete(sub))
        return found

    missing = sorted({c.__name__ for c in concrete(Function)} - set(FORWARD_RULES))
    assert not missing, f"ops without a FLOP rule: {missing}"
    assert not is_counted("MyOwnOp")


# --- The engine's events ---------------------------------------------------------------------


def test_detailed_observer_sees_forward_and_backward_of_the_same_node() -> None:
    events: list[OpEvent] = []
    w = Tensor(np.ones((3, 2), dtype=np.float32), requires_grad=True)
    with observe_ops(events.append, detailed=True):
        (Tensor(np.ones((4, 3), dtype=np.float32)) @ w).sum().backward()
    assert [(e.op, e.phase) for e in events] == [
        ("MatMul", "forward"), ("Sum", "forward"), ("Sum", "backward"), ("MatMul", "backward")]
    assert events[0].node is events[3].node
    assert [np.shape(a) for a in events[0].inputs] == [(4, 3), (3, 2)]
    assert all(e.duration_ns >= 0 for e in events)
    assert not autograd._instrumented


def test_plain_observers_still_get_name_and_seconds_for_forwards_only() -> None:
    seen: list[tuple[str, float]] = []
    x = Tensor([1.0, 2.0], requires_grad=True)
    with observe_ops(lambda name, seconds: seen.append((name, seconds))):
        (x * x).sum().backward()
    assert [name for name, _ in seen] == ["Mul", "Sum"]
    assert all(isinstance(s, float) and s >= 0 for _, s in seen)


def test_profile_events_add_up_to_the_tables() -> None:
    model = Sequential(Linear(6, 5), ReLU(), Linear(5, 2))
    x = Tensor(np.ones((3, 6), dtype=np.float32))
    with profile() as prof:
        model(x).sum().backward()
    for phase in ("forward", "backward"):
        rows = [s for s in prof.key_averages() if s.phase == phase]
        events = [e for e in prof.events if e.phase == phase]
        assert sum(s.calls for s in rows) == len(events)
        assert sum(s.self_ns for s in rows) == sum(e.duration_ns for e in events)
        assert sum(s.flops for s in rows) == prof.total(phase).flops
    linear_fwd = [e for e in prof.events if e.op == "Linear" and e.phase == "forward"]
    assert linear_fwd[0].bytes == (3 * 6 + 6 * 5 + 5 + 3 * 5) * 4   # x, weight, bias, output
    table = prof.table()
    assert table.splitlines()[0].startswith("op") and "Linear" in table and "total" in table


def test_a_slice_backward_is_profiled_with_the_bytes_it_holds() -> None:
    # a basic slice's backward returns a SliceGradient (its values, no full-size zeros)
    x = Tensor(np.ones((4, 6), dtype=np.float32), requires_grad=True)
    with profile() as prof:
        ((x * 2.0)[:, :2] * 3.0).sum().backward()
    index_bwd = [e for e in prof.events if e.op == "Index" and e.phase == "backward"]
    assert len(index_bwd) == 1
    assert index_bwd[0].bytes == 2 * (4 * 2 * 4)        # upstream gradient in, values out
    np.testing.assert_array_equal(x.grad.data[:, :2], 6.0)
    np.testing.assert_array_equal(x.grad.data[:, 2:], 0.0)


def test_chrome_trace_parses_with_the_expected_fields(tmp_path: Path) -> None:
    w = Tensor(np.ones((3, 2), dtype=np.float32), requires_grad=True)
    with profile() as prof:
        (Tensor(np.ones((4, 3), dtype=np.float32)) @ w).relu().sum().backward()
    path = tmp_path / "trace.json"
    prof.export_chrome_trace(path)
    trace = json.loads(path.read_text())
    events = trace["traceEvents"]
    assert len(events) == len(prof.events) == 6
    for event in events:
        assert event["ph"] == "X" and event["cat"] in ("forward", "backward")
        assert event["ts"] >= 0 and event["dur"] >= 0
        assert {"shapes", "flops", "bytes"} <= set(event["args"])
    assert [e["tid"] for e in events] == [0, 0, 0, 1, 1, 1]
    assert events[0]["name"] == "MatMul" and events[0]["args"]["shapes"] == [[4, 3], [3, 2]]
    assert events[0]["args"]["flops"] == 2 * 4 * 3 * 2


def test_json_export_round_trips_events_and_summary(tmp_path: Path) -> None:
    with profile() as prof:
        (Tensor([1.0, 2.0], requires_grad=True) * 3.0).sum().backward()
    path = tmp_path / "profile.json"
    prof.export_json(path)
    data = json.loads(path.read_text())
    assert [e["op"] for e in data["events"]] == [e.op for e in prof.events]
    assert data["total"]["forward"]["calls"] == 2 and data["wall_ns"] == prof.wall_ns


# --- Memory ------------------------------------------------------------------------------------


def test_measure_memory_matches_the_nbytes_of_the_real_arrays() -> None:
    model = Sequential(Linear(20, 30), ReLU(), Linear(30, 5))
    params = list(model.parameters())
    param_bytes = sum(p.data.nbytes for p in params)
    report = PROFILER.measure_memory(model, (8, 20))
    assert report["parameter_bytes"] == param_bytes == (20 * 30 + 30 + 30 * 5 + 5) * 4
    assert report["gradient_bytes"] == param_bytes
    # kept for backward beyond the weights: the input (8, 20) and the ReLU output (8, 30),
    # which the second product saves too but which is one array
    assert report["activation_bytes"] == (8 * 20 + 8 * 30) * 4
    assert report["output_bytes"] == 8 * 5 * 4
    assert report["optimizer_state_bytes"] == 0
    assert math.isclose(report["parameter_memory_mb"], param_bytes / 2**20)


def test_optimizer_state_bytes_are_adams_two_moments() -> None:
    model = Linear(4, 3)
    optimizer = Adam(model.parameters())
    model(Tensor(np.ones((2, 4), dtype=np.float32))).sum().backward()
    optimizer.step()
    held = sum(a.nbytes for buffers in optimizer.state.values() for a in buffers if a is not None)
    report = PROFILER.measure_memory(model, (2, 4), optimizer)
    assert report["optimizer_state_bytes"] == held == 2 * (4 * 3 + 3) * 4


def test_profiler_calls_leave_gradients_and_modes_as_they_were() -> None:
    model = Sequential(Linear(3, 3), ReLU())
    model.train()
    before = Tensor(np.full((3, 3), 7.0, dtype=np.float32))
    model.layers[0].weight.grad = before
    x = Tensor(np.ones((2, 3), dtype=np.float32), requires_grad=True)
    PROFILER.measure_memory(model, (2, 3))
    PROFILER.profile_backward_pass(model, x, warmup=0, iterations=2)
    assert model.layers[0].weight.grad is before and model.layers[0].bias.grad is None
    assert x.grad is None
    assert all(m.training for m in model.modules())


# --- Latency and reports ---------------------------------------------------------------------


def test_latency_stats_summarize_the_samples() -> None:
    stats = LatencyStats.from_samples([4.0, 1.0, 3.0, 2.0, 100.0])
    assert stats.median_ms == 3.0 and stats.min_ms == 1.0 and stats.max_ms == 100.0
    assert stats.p25_ms == 2.0 and stats.p75_ms == 4.0 and stats.iqr_ms == 2.0
    assert stats.mean_ms == 22.0


def test_time_call_warms_up_then_times_each_call() -> None:
    calls: list[int] = []
    stats = time_call(lambda: calls.append(1), warmup=3, iterations=7)
    assert len(calls) == 10 and len(stats.samples_ms) == 7
    assert stats.min_ms <= stats.median_ms <= stats.max_ms


def test_reports_carry_measured_flops_of_both_passes() -> None:
    model = Linear(8, 4)
    x = Tensor(np.ones((5, 8), dtype=np.float32))
    forward = PROFILER.profile_forward_pass(model, x, warmup=0, iterations=2)
    assert forward["flops"] == 2 * 5 * 8 * 4 + 5 * 4 and forward["latency_ms"] > 0
    backward = PROFILER.profile_backward_pass(model, x, warmup=0, iterations=2)
    # the loss (a sum of 20 values) adds 19; backward: the weight-gradient product (x needs
    # none), one add per output element for the bias gradient, and the sum's 19
    assert backward["forward_flops"] == forward["flops"] + 19
    assert backward["backward_flops"] == 2 * 5 * 8 * 4 + 5 * 4 + 19
    assert backward["gradient_bytes"] == (8 * 4 + 4) * 4
    layer = PROFILER.profile_layer(Linear(8, 4), (5, 8), warmup=0, iterations=2)
    assert layer["layer_type"] == "Linear" and layer["parameters"] == 36
    assert layer["flops"] == forward["flops"]


def test_profiler_is_exported_where_the_course_imports_it() -> None:
    from tinytorch.perf import Profiler as Exported
    from tinytorch.perf import profile as exported_profile

    assert Exported is Profiler and exported_profile is profile
    assert "input_shape" in inspect.signature(Profiler.count_flops).parameters
    assert tinytorch.perf.profiling.Profiler is Profiler


def test_profiler_overhead_workload_runs_the_same_step() -> None:
    from benchmarks import workloads_nn
    from benchmarks.harness import all_workloads
    from benchmarks.workloads_profiling import paired_ratios

    workload = {w.name: w for w in all_workloads()}["mlp_train_step_profiled"]
    profiled, plain = workload.make_tinytorch(), workloads_nn.mlp_tinytorch()
    assert [profiled().item() for _ in range(2)] == [plain().item() for _ in range(2)]
    result = paired_ratios(lambda: sum(range(200)), lambda: sum(range(400)), rounds=8, warmup=1)
    assert result["rounds"] == 8 and result["ratio_q25"] <= result["median_ratio"]


def test_a_model_without_a_tensor_output_gets_a_clear_error() -> None:
    from tinytorch.perf.profiling import ProfilerError

    with pytest.raises(ProfilerError, match="returned a list"):
        PROFILER.measure_memory(lambda x: [1, 2], (2, 3))


@pytest.mark.parametrize(("stride", "padding", "dilation", "groups"), [
    (1, 0, 1, 1), (2, 2, 2, 1), (2, 2, 2, 2)])
def test_products_agree_with_torch_flop_counter(stride: int, padding: int, dilation: int,
                                                groups: int) -> None:
    # torch.utils.flop_counter counts products only (2 per multiply-add, no bias adds), so a
    # bias-free convolution must give exactly its numbers. Backward is compared without
    # groups: torch's counter reports a grouped weight gradient `groups` times the forward,
    # where the products it needs are those of the forward (O/G x K x M per group).
    from oracle_helpers import import_torch

    torch = import_torch()
    from torch.utils.flop_counter import FlopCounterMode

    conv = torch.nn.Conv2d(4, 6, 3, stride=stride, padding=padding, dilation=dilation,
                           groups=groups, bias=False)
    ours = Conv2d(4, 6, 3, stride=stride, padding=padding, dilation=dilation, groups=groups,
                  bias=False)
    with FlopCounterMode(display=False) as forward:
        out = conv(torch.zeros(2, 4, 11, 9))
    with FlopCounterMode(display=False) as backward:
        out.sum().backward()
    with profile() as prof:
        ours(Tensor(np.zeros((2, 4, 11, 9), dtype=np.float32))).sum().backward()
    conv_events = {e.phase: e.flops for e in prof.events if e.op == "Convolution2d"}
    assert conv_events["forward"] == forward.get_total_flops()
    if groups == 1:
        assert conv_events["backward"] == backward.get_total_flops()


def test_a_backward_whose_forward_was_not_profiled_is_still_counted() -> None:
    w = Tensor(np.ones((3, 2), dtype=np.float32), requires_grad=True)
    out = Tensor(np.ones((4, 3), dtype=np.float32)) @ w       # forward outside the profile
    with profile() as prof:
        out.sum().backward()
    assert [(e.op, e.phase, e.flops) for e in prof.events] == [
        ("Sum", "forward", 4 * 2 - 1), ("Sum", "backward", 4 * 2 - 1),
        ("MatMul", "backward", 2 * 4 * 3 * 2)]                  # shapes from its inputs
