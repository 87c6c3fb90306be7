"""Quantization (module 15): every claim of tinytorch.perf.quantization, asserted on values.

Codes are really int8; round trips lose at most half a step; per-channel scales beat one scale
for channels of different sizes; observers measure what they claim; both inference paths compute
what their formulas say (checked against float64 references built independently); the model
rewrite finds layers wherever they sit; files keep int8 as int8.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest

from tinytorch.core.activations import ReLU
from tinytorch.core.errors import ConfigError, DTypeError, ShapeError
from tinytorch.core.layers import Linear, Module, Sequential
from tinytorch.core.spatial import Conv2d, conv2d
from tinytorch.core.tensor import Tensor
from tinytorch.perf.quantization import (
    MinMaxObserver,
    PercentileObserver,
    QuantizedConv2d,
    QuantizedLinear,
    Quantizer,
    affine_qparams,
    compare_model_sizes,
    dequantize_int8,
    module_nbytes,
    quantize_int8,
    quantize_model,
    set_inference_path,
)

F32_EPS = float(np.finfo(np.float32).eps)


def half_step_bound(x: np.ndarray, scale: np.ndarray | float) -> np.ndarray:
    """scale / 2, plus the float32 rounding of x / scale and of (q - zp) * scale."""
    return np.asarray(scale) / 2 + 4 * F32_EPS * (np.abs(x) + np.asarray(scale))


# --- quantize_int8 / dequantize_int8 -------------------------------------------------------------

DATA = {
    "normal": lambda rng: rng.standard_normal((7, 9)),
    "all_positive": lambda rng: rng.uniform(0.5, 3.0, (50,)),   # post-ReLU style
    "all_negative": lambda rng: rng.uniform(-4.0, -1.0, (3, 4, 5)),
    "wide": lambda rng: rng.standard_normal((20,)) * 1e4,
    "tiny": lambda rng: rng.standard_normal((20,)) * 1e-6,
    "constant": lambda rng: np.full((4, 4), 2.5),
    "zeros": lambda rng: np.zeros((3, 3)),
}


@pytest.mark.parametrize("kind", DATA)
def test_per_tensor_codes_are_int8_and_round_trip_within_half_a_step(kind: str,
                                                                     rng: np.random.Generator
                                                                     ) -> None:
    x = DATA[kind](rng).astype(np.float32)
    q, scale, zero_point = quantize_int8(Tensor(x))
    assert q.data.dtype == np.int8 and q.shape == x.shape
    assert q.data.nbytes == x.size  # one byte per value, not four
    assert isinstance(scale, float) and isinstance(zero_point, int)
    assert -128 <= zero_point <= 127 and scale > 0
    restored = dequantize_int8(q, scale, zero_point)
    assert restored.data.dtype == np.float32
    assert np.all(np.abs(restored.data - x) <= half_step_bound(x, scale))


def test_per_tensor_known_codes_and_real_zero_is_exact() -> None:
    x = np.array([-1.0, 0.0, 3.0], dtype=np.float32)
    q, scale, zero_point = quantize_int8(x)      # arrays are accepted as well as Tensors
    assert q.data.tolist() == [-128, -64, 127]   # 4 / 255 per step; -1 sits 64 steps below 0
    assert scale == pytest.approx(4.0 / 255) and zero_point == -64
    assert dequantize_int8(q, scale, zero_point).data[1] == 0.0


def test_range_is_widened_to_hold_zero() -> None:
    q, scale, zero_point = quantize_int8(np.array([2.0, 3.0], dtype=np.float32))
    assert zero_point == -128 and scale == pytest.approx(3.0 / 255)
    assert q.data.tolist() == [42, 127]  # round(2 / (3/255)) - 128 = 170 - 128


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_per_channel_symmetric_scales_codes_and_bound(axis: int, rng: np.random.Generator
                                                      ) -> None:
    x = (rng.standard_normal((6, 5)) * np.linspace(0.01, 10, 5)).astype(np.float32)
    q, scales, zero_points = quantize_int8(Tensor(x), axis=axis)
    ax = axis % 2
    other = 1 - ax
    assert q.data.dtype == np.int8 and q.data.nbytes == x.size
    np.testing.assert_allclose(scales, np.abs(x).max(axis=other) / 127, rtol=1e-6)
    assert scales.dtype == np.float32 and zero_points.tolist() == [0] * x.shape[ax]
    assert np.abs(q.data).max(axis=other).tolist() == [127] * x.shape[ax]  # each channel's max
    assert q.data.min() >= -127  # symmetric: -128 is never used
    restored = dequantize_int8(q, scales, zero_points, axis=axis).data
    shape = (-1, 1) if ax == 0 else (1, -1)
    assert np.all(np.abs(restored - x) <= half_step_bound(x, scales.reshape(shape)))


def test_per_channel_keeps_small_channels_that_one_scale_crushes(rng: np.random.Generator
                                                                 ) -> None:
    w = rng.standard_normal((64, 2)).astype(np.float32)
    w[:, 0] *= 0.001      # a channel of tiny weights next to a channel of ordinary ones
    q_t, s_t, z_t = quantize_int8(w)
    q_c, s_c, z_c = quantize_int8(w, axis=1)
    err_tensor = np.abs(dequantize_int8(q_t, s_t, z_t).data - w)[:, 0].max()
    err_channel = np.abs(dequantize_int8(q_c, s_c, z_c, axis=1).data - w)[:, 0].max()
    assert err_channel < err_tensor / 100
    assert len(np.unique(q_t.data[:, 0])) <= 3  # one shared scale leaves it a few codes


def test_quantize_refuses_non_float_non_finite_and_bad_axes() -> None:
    with pytest.raises(DTypeError, match="only floating-point"):
        quantize_int8(Tensor(np.arange(4), dtype=np.int64))
    with pytest.raises(DTypeError):
        quantize_int8(np.array([True, False]))
    with pytest.raises(ValueError, match="NaN or infinity"):
        quantize_int8(np.array([1.0, np.nan], dtype=np.float32))
    with pytest.raises(ShapeError, match="axis=2"):
        quantize_int8(np.ones((2, 2), np.float32), axis=2)


def test_dequantize_refuses_float_codes_and_per_channel_without_axis() -> None:
    with pytest.raises(DTypeError, match="codes of dtype float32"):
        dequantize_int8(Tensor([1.0, 2.0]), 0.1, 0)
    q, scales, zps = quantize_int8(np.ones((3, 2), np.float32), axis=1)
    with pytest.raises(ShapeError, match="per-channel scales"):
        dequantize_int8(q, scales, zps)
    with pytest.raises(ShapeError):
        dequantize_int8(q, scales, zps, axis=0)  # 2 scales for 3 rows


# --- observers -----------------------------------------------------------------------------------


def test_min_max_observer_covers_every_batch(rng: np.random.Generator) -> None:
    batches = [rng.standard_normal((4, 3)).astype(np.float32) * k for k in (1, 5, 2)]
    observer = MinMaxObserver()
    for batch in batches:
        observer(Tensor(batch))
    everything = np.concatenate([b.ravel() for b in batches])
    assert observer.min_val == everything.min() and observer.max_val == everything.max()
    assert observer.calculate_qparams() == affine_qparams(everything.min(), everything.max())


def test_percentile_observer_ignores_an_outlier(rng: np.random.Generator) -> None:
    x = rng.standard_normal(10_000).astype(np.float32)
    x[0] = 1000.0
    observer = PercentileObserver(99.9)
    observer.observe(x)
    lo, hi = np.percentile(x, [0.1, 99.9])
    assert observer.min_val == pytest.approx(lo) and observer.max_val == pytest.approx(hi)
    minmax = MinMaxObserver()
    minmax.observe(x)
    assert observer.calculate_qparams()[0] < minmax.calculate_qparams()[0] / 100


def test_percentile_observer_weights_batches_by_size() -> None:
    observer = PercentileObserver(100.0)      # 100: each batch's own min and max
    observer.observe(np.array([0.0, 4.0], np.float32))
    observer.observe(np.array([0.0, 1.0, 1.0, 1.0, 1.0, 1.0], np.float32))
    assert observer.max_val == pytest.approx((4.0 * 2 + 1.0 * 6) / 8)


def test_observers_refuse_empty_state_and_bad_settings() -> None:
    with pytest.raises(ConfigError, match="has not observed"):
        MinMaxObserver().calculate_qparams()
    with pytest.raises(ConfigError, match="percentile"):
        PercentileObserver(40.0)
    with pytest.raises(DTypeError):
        MinMaxObserver().observe(np.arange(3))


# --- QuantizedLinear -----------------------------------------------------------------------------


def make_linear(rng: np.random.Generator, fan_in: int = 48, fan_out: int = 16) -> Linear:
    layer = Linear(fan_in, fan_out)
    layer.weight.data[...] = rng.standard_normal((fan_in, fan_out)) * np.linspace(0.05, 1, fan_out)
    layer.bias.data[...] = rng.standard_normal(fan_out)
    return layer


def test_quantized_linear_stores_int8_codes_and_real_bytes(rng: np.random.Generator) -> None:
    layer = make_linear(rng)
    q = QuantizedLinear(layer)
    assert q.q_weight.data.dtype == np.int8 and q.q_weight.shape == (48, 16)
    assert q.q_weight.data.nbytes == 48 * 16
    assert q.weight_scale.shape == (16,) and q.bias.data.dtype == np.float32
    assert q.parameters() == []  # inference only: nothing to train
    # codes (768) + scales and bias (2 * 16 * 4) + input scale and zero point (4 + 4)
    assert q.nbytes() == 768 + 128 + 8
    assert q.memory_usage()["original_bytes"] == (48 * 16 + 16) * 4
    np.testing.assert_array_equal(q.weight_zero_point, np.zeros(16, np.int32))


def test_dequantized_path_is_within_its_bound_of_the_float_layer(rng: np.random.Generator
                                                                 ) -> None:
    layer = make_linear(rng)
    q = QuantizedLinear(layer)
    x = rng.standard_normal((10, 48)).astype(np.float32)
    expected = x @ q.dequantized_weight() + layer.bias.data
    np.testing.assert_allclose(q(Tensor(x)).data, expected, rtol=1e-6, atol=1e-6)
    # each weight moved by at most s_c / 2, so output c moved by at most sum_k |x_k| * s_c / 2
    bound = np.abs(x).sum(axis=1, keepdims=True) * q.weight_scale.data / 2
    assert np.all(np.abs(q(Tensor(x)).data - layer(Tensor(x)).data) <= bound * 1.001 + 1e-5)


def test_integer_path_equals_its_float64_definition(rng: np.random.Generator) -> None:
    layer = make_linear(rng)
    q = QuantizedLinear(layer, path="integer")
    x = rng.standard_normal((2, 3, 48)).astype(np.float32)  # leading axes are kept
    q.calibrate([x[0], x[1]])
    xq, scale, zp = quantize_int8(x)  # the calibrated range equals this batch's range
    assert (scale, zp) == (q.input_scale, q.input_zero_point)
    x_hat = (xq.data.astype(np.float64) - zp) * scale
    w_hat = q.q_weight.data.astype(np.float64) * q.weight_scale.data.astype(np.float64)
    expected = x_hat @ w_hat + layer.bias.data
    out = q(Tensor(x)).data
    assert out.shape == (2, 3, 16) and out.dtype == np.float32
    np.testing.assert_allclose(out, expected, rtol=2e-6, atol=2e-6)


def test_integer_and_dequantized_paths_agree_within_the_input_rounding(rng: np.random.Generator
                                                                       ) -> None:
    layer = make_linear(rng)
    q = QuantizedLinear(layer)
    x = rng.standard_normal((32, 48)).astype(np.float32)
    q.calibrate(x)
    dequantized = q(Tensor(x)).data
    q.path = "integer"
    integer = q(Tensor(x)).data
    # they differ only in rounding x (to within s_x / 2), seen through |W_hat|
    bound = q.input_scale / 2 * np.abs(q.dequantized_weight()).sum(axis=0)
    gap = np.abs(integer - dequantized)
    assert np.all(gap <= bound * 1.001 + 1e-5)
    assert gap.max() > 0  # the two paths really are different computations


def test_uncalibrated_integer_path_uses_each_batch_range(rng: np.random.Generator) -> None:
    layer = make_linear(rng)
    dynamic = QuantizedLinear(layer, path="integer")
    assert dynamic.input_scale is None and not dynamic.calibrated
    x = rng.standard_normal((5, 48)).astype(np.float32)
    static = QuantizedLinear(layer, path="integer").calibrate(x)
    np.testing.assert_array_equal(dynamic(Tensor(x)).data, static(Tensor(x)).data)


def test_calibration_and_paths_refuse_bad_input(rng: np.random.Generator) -> None:
    q = QuantizedLinear(make_linear(rng))
    with pytest.raises(ShapeError, match="in_features=48"):
        q.calibrate([np.ones((2, 47), np.float32)])
    with pytest.raises(ConfigError, match="no samples"):
        q.calibrate([])
    with pytest.raises(DTypeError):
        q.calibrate([np.ones((2, 48), np.int32)])
    with pytest.raises(ShapeError):
        q(Tensor(np.ones((2, 5), np.float32)))
    with pytest.raises(ConfigError, match="'fast'"):
        QuantizedLinear(make_linear(rng), path="fast")
    q.path = "int4"
    with pytest.raises(ConfigError):
        q(Tensor(np.ones((1, 48), np.float32)))


# --- QuantizedConv2d -----------------------------------------------------------------------------

CONVS = {
    "plain": dict(stride=1, padding=0, groups=1),
    "padded_strided": dict(stride=2, padding=1, groups=1),
    "same_grouped": dict(stride=1, padding="same", groups=2),
}


@pytest.mark.parametrize("name", CONVS)
def test_quantized_conv_paths_match_their_definitions(name: str, rng: np.random.Generator
                                                      ) -> None:
    conv = Conv2d(4, 6, 3, **CONVS[name])
    conv.bias.data[...] = rng.standard_normal(6)
    x = np.abs(rng.standard_normal((3, 4, 9, 9))).astype(np.float32) + 0.5  # zp far from 0
    q = QuantizedConv2d(conv)
    assert q.q_weight.data.dtype == np.int8 and q.weight_scale.shape == (6,)
    w_hat = q.dequantized_weight()
    settings = (conv.stride, conv.padding, conv.dilation, conv.groups)
    # dequantized path: the float conv with W_hat; within s_c / 2 * conv(|x|, 1) of the float conv
    float_out = conv(Tensor(x)).data
    out = q(Tensor(x)).data
    np.testing.assert_allclose(out, conv2d(Tensor(x), Tensor(w_hat), conv.bias, *settings).data,
                               rtol=1e-5, atol=1e-5)
    reach = conv2d(Tensor(np.abs(x)), Tensor(np.ones_like(w_hat)), None, *settings).data
    assert np.all(np.abs(out - float_out) <= reach * q.weight_scale.data.reshape(1, -1, 1, 1) / 2
                  * 1.001 + 1e-5)
    # integer path: exactly the float64 conv of the dequantized input with W_hat
    q.path = "integer"
    q.calibrate(x)
    xq, scale, zp = quantize_int8(x)
    x_hat = (xq.data.astype(np.float64) - zp) * scale
    expected = conv2d(Tensor(x_hat, dtype=np.float64), Tensor(w_hat.astype(np.float64),
                      dtype=np.float64), Tensor(conv.bias.data.astype(np.float64),
                      dtype=np.float64), *settings).data
    np.testing.assert_allclose(q(Tensor(x)).data, expected, rtol=2e-6, atol=2e-5)


def test_quantized_conv_refuses_wrong_input_shapes() -> None:
    q = QuantizedConv2d(Conv2d(3, 4, 3))
    with pytest.raises(ShapeError, match="in_channels=3"):
        q.calibrate(np.ones((2, 1, 8, 8), np.float32))
    with pytest.raises(ShapeError):
        q(Tensor(np.ones((3, 8, 8), np.float32)))


# --- quantize_model ------------------------------------------------------------------------------


class Nested(Module):
    """Layers in every place a model can hold them: attribute, list, dict, inner Sequential."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = Conv2d(1, 2, 3, padding=1)
        self.blocks = [Linear(32, 16), Linear(16, 16)]
        self.heads = {"main": Linear(16, 4)}
        self.tail = Sequential(ReLU(), Linear(4, 3))
        self.tied = self.blocks[1]          # the same layer reachable twice

    def forward(self, x: Tensor) -> Tensor:
        h = self.stem(x).flatten(1)
        h = self.tied(self.blocks[0](h).relu()).relu()
        return self.tail(self.heads["main"](h))


def test_quantize_model_replaces_layers_wherever_they_sit(rng: np.random.Generator) -> None:
    model = Nested()
    x = rng.standard_normal((6, 1, 4, 4)).astype(np.float32)
    before = model(Tensor(x)).data
    report = quantize_model(model, calibration_data=[x[:3], x[3:]])
    assert isinstance(model.stem, QuantizedConv2d)
    assert all(isinstance(b, QuantizedLinear) for b in model.blocks)
    assert isinstance(model.heads["main"], QuantizedLinear)
    assert isinstance(model.tail.layers[1], QuantizedLinear)
    assert model.tied is model.blocks[1]   # still one shared layer
    assert [layer.name for layer in report.layers] == [
        "stem", "blocks.0", "blocks.1", "heads.main", "tail.1"]
    assert all(layer.input_scale is not None for layer in report.layers)
    assert np.abs(model(Tensor(x)).data - before).max() < 0.05 * np.abs(before).max()


def test_calibration_measures_each_layer_input(rng: np.random.Generator) -> None:
    model = Sequential(Linear(8, 5), ReLU(), Linear(5, 2))
    x = rng.standard_normal((20, 8)).astype(np.float32)
    hidden = np.maximum(model.layers[0](Tensor(x)).data, 0)   # what the second layer sees
    model.train()
    quantize_model(model, x)
    assert model.layers[2].input_scale == pytest.approx(affine_qparams(0, hidden.max())[0])
    assert model.layers[0].input_scale == pytest.approx(affine_qparams(x.min(), x.max())[0])
    assert model.training  # the mode is restored after calibrating in eval mode


def test_percentile_calibration_gives_smaller_scales(rng: np.random.Generator) -> None:
    x = rng.standard_normal((500, 8)).astype(np.float32)
    x[0, 0] = 80.0
    minmax, percentile = Sequential(Linear(8, 2)), Sequential(Linear(8, 2))
    quantize_model(minmax, x)
    quantize_model(percentile, x, observer=lambda: PercentileObserver(99.0))
    assert percentile.layers[0].input_scale < minmax.layers[0].input_scale / 5


def test_report_counts_real_bytes() -> None:
    model = Sequential(Linear(64, 32), ReLU(), Linear(32, 10))
    original = copy.deepcopy(model)
    report = quantize_model(model)
    assert report.bytes_before == module_nbytes(original) == (64 * 32 + 32 + 32 * 10 + 10) * 4
    assert report.bytes_after == module_nbytes(model) == sum(
        a.nbytes for a in model.state_dict().values())
    assert [layer.bytes_after for layer in report.layers] == [
        64 * 32 + 2 * 32 * 4 + 8, 32 * 10 + 2 * 10 * 4 + 8]
    sizes = compare_model_sizes(original, model)
    assert sizes["compression_ratio"] == pytest.approx(report.compression_ratio)
    assert sizes["compression_ratio"] > 3.5
    text = str(report)
    assert "total (whole model)" in text and f"{report.bytes_after:,}" in text
    assert "per batch" in text  # not calibrated: inputs are quantized batch by batch


def test_quantize_model_refuses_what_it_cannot_rewrite() -> None:
    with pytest.raises(ConfigError, match="bare Linear"):
        quantize_model(Linear(3, 2))
    with pytest.raises(ConfigError, match="no Linear or Conv2d"):
        quantize_model(Sequential(ReLU()))

    class Unused(Module):
        def __init__(self) -> None:
            super().__init__()
            self.used, self.spare = Linear(3, 3), Linear(3, 3)

        def forward(self, x: Tensor) -> Tensor:
            return self.used(x)

    with pytest.raises(ConfigError, match=r"\['spare'\]"):
        quantize_model(Unused(), np.ones((2, 3), np.float32))


def test_subclasses_of_linear_are_left_alone() -> None:
    class Special(Linear):
        pass

    model = Sequential(Special(3, 3), Linear(3, 2))
    quantize_model(model)
    assert type(model.layers[0]) is Special and isinstance(model.layers[1], QuantizedLinear)


def test_set_inference_path_switches_every_layer() -> None:
    model = Sequential(Linear(3, 3), ReLU(), Linear(3, 2))
    quantize_model(model)
    set_inference_path(model, "integer")
    assert [m.path for m in model.layers if isinstance(m, QuantizedLinear)] == ["integer"] * 2
    with pytest.raises(ConfigError):
        set_inference_path(model, "fp8")


# --- files ---------------------------------------------------------------------------------------


def test_quantized_model_saves_and_loads_int8_as_int8(tmp_path: Path,
                                                      rng: np.random.Generator) -> None:
    x = rng.standard_normal((4, 1, 4, 4)).astype(np.float32)
    model = Sequential(Conv2d(1, 3, 3, padding=1), ReLU(), _Flat(), Linear(48, 5))
    quantize_model(model, x, path="integer")
    assert model.state_dict()["0.q_weight"].dtype == np.int8
    path = tmp_path / "quantized.npz"
    model.save(path)
    with np.load(path, allow_pickle=False) as archive:
        assert archive["0.q_weight"].dtype == np.int8 and archive["3.q_weight"].dtype == np.int8

    fresh = Sequential(Conv2d(1, 3, 3, padding=1), ReLU(), _Flat(), Linear(48, 5))
    quantize_model(fresh, path="integer")  # same architecture, random codes, not calibrated
    fresh.load(path)
    for i in (0, 3):
        assert fresh.layers[i].q_weight.data.dtype == np.int8
        np.testing.assert_array_equal(fresh.layers[i].q_weight.data, model.layers[i].q_weight.data)
        assert fresh.layers[i].input_scale == model.layers[i].input_scale
    np.testing.assert_array_equal(fresh(Tensor(x)).data, model(Tensor(x)).data)


class _Flat(Module):
    def forward(self, x: Tensor) -> Tensor:
        return x.flatten(1)


def test_quantizer_face_matches_upstream_usage(rng: np.random.Generator) -> None:
    x = rng.standard_normal((3, 4)).astype(np.float32)
    q, scale, zero_point = Quantizer.quantize_tensor(Tensor(x))
    restored = Quantizer.dequantize_tensor(q, scale, zero_point)
    assert np.all(np.abs(restored.data - x) <= half_step_bound(x, scale))
    model = Sequential(Linear(4, 8), ReLU(), Linear(8, 2))
    original = copy.deepcopy(model)
    info = Quantizer.quantize_model(model, [Tensor(x)])
    assert info["compression_ratio"] == pytest.approx(
        module_nbytes(original) / module_nbytes(model))
    assert Quantizer.compare_models(original, info)["quantized_bytes"] == module_nbytes(model)
