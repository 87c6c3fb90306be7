"""Gap 15: quantized model accuracy. Quantization (module 15) joined to trained models (03, 09).

A digits MLP and a digits CNN are trained here for a few seconds, then quantized with calibration
on training images. What must hold at the boundary between the trained float model and its int8
rewrite:

1. accuracy: at most 1 percentage point of test accuracy is lost, on both inference paths;
2. bytes: the stored arrays (``nbytes``) are at least 3.5x smaller;
3. outputs: every logit stays within bounds derived from the scales alone. Layer by layer, with
   ``h`` the float input, ``d`` how far the quantized model's input is from it, ``W_hat`` the
   dequantized weight and ``s_c`` its per-channel scale (each weight moved by at most s_c / 2):

       |W_hat x_hat - W h| <= |W_hat| d + (s_c / 2) * sum|h|       (+ |W_hat| * r on the integer
                                                                     path, r the input rounding)

   ReLU and max-pooling move nothing further apart (1-Lipschitz), so ``d`` passes through them.
   On the integer path r = s_x / 2 inside the calibrated range, plus whatever a value overshoots
   that range by (it saturates). This worst case assumes every rounding error points the same
   way; on these models it is ~300x the real gap. Rounding errors are in fact spread evenly over
   [-s/2, s/2] (variance s^2 / 12) and nearly independent, so the same recursion on mean squares,

       v_out = W_hat^2 v + (s_c^2 / 12) * sum h^2     (+ W_hat^2 * (s_x^2 / 12 + o^2) on the
                                                      integer path, o the overshoot)

   (a max-pool window may pass on the sum of its inputs' v), gives a typical deviation sigma =
   sqrt(v); every logit must lie within 6 sigma, and sigma must be small next to the logits.
   What sigma is NOT: the spread over the test images. The rounding is done once, so a logit's
   error is nearly the same on every image (its z = gap / sigma moves by ~0.5 around an offset
   of up to 2.4 on the MLP). The 3590 logits are thus about ten draws, not 3590, and "99% within
   3 sigma" is a coin toss (98.9% to 100% on MLP seeds 0-7). Ten draws do pin the scale: the
   root mean square of z must lie in [1/4, 2] (measured 0.74-1.31 on MLP seeds 0-7, 0.37-0.55
   on CNN seeds 0-4; ten squared normal draws average above 4 with odds ~2e-5), so sigma is
   neither too small for the 6-sigma test (largest z seen: 4.8) nor so large that it is empty.
4. the quantized model round-trips through ``save``/``load`` with int8 codes and equal outputs.
"""

from __future__ import annotations

import copy
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tinytorch.core.activations import ReLU
from tinytorch.core.layers import Flatten, Sequential
from tinytorch.core.losses import CrossEntropyLoss
from tinytorch.core.optimizers import Adam
from tinytorch.core.rng import manual_seed
from tinytorch.core.spatial import MaxPool2d, conv2d, max_pool2d
from tinytorch.core.tensor import Tensor
from tinytorch.data import load_digits
from tinytorch.milestones.cnn import build_cnn
from tinytorch.milestones.mlp import build_mlp
from tinytorch.milestones.report import Split, fit
from tinytorch.perf.quantization import (
    QuantizedConv2d,
    QuantizedLinear,
    compare_model_sizes,
    quantize_model,
    set_inference_path,
)

MAX_ACCURACY_DROP = 0.01
MIN_SHRINK = 3.5
CALIBRATION_IMAGES = 512
PATHS_AND_MODELS = pytest.mark.parametrize(
    ("which", "path"), [(w, p) for w in ("mlp", "cnn") for p in ("dequantized", "integer")])


@dataclass
class Trained:
    model: Sequential
    x_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def _train(model: Sequential, flatten: bool, epochs: int, lr: float) -> Trained:
    x_train, y_train, x_test, y_test = load_digits(flatten=flatten)
    fit(model, CrossEntropyLoss(), Adam(model.parameters(), lr=lr),
        Split(x_train, y_train, x_test, y_test), epochs=epochs, batch_size=32,
        predict=lambda logits: logits.argmax(axis=-1), out=io.StringIO())
    return Trained(model.eval(), x_train, x_test, y_test)


@pytest.fixture(scope="module")
def digits_mlp() -> Trained:
    manual_seed(0)
    return _train(build_mlp(64), flatten=True, epochs=5, lr=0.002)


@pytest.fixture(scope="module")
def digits_cnn() -> Trained:
    manual_seed(0)
    return _train(build_cnn(1, 8, widths=(16, 32)), flatten=False, epochs=4, lr=0.003)


def accuracy(model: Any, x: np.ndarray, y: np.ndarray) -> float:
    return float((model(Tensor(x)).data.argmax(axis=-1) == y).mean())


def quantized_copy(trained: Trained, path: str) -> tuple[Sequential, Any]:
    model = copy.deepcopy(trained.model)
    report = quantize_model(model, [trained.x_train[:CALIBRATION_IMAGES]], path=path)
    return model, report


# --- the bounds of the module docstring, computed layer by layer ---------------------------------


def _overshoot(x_hat: np.ndarray, layer: Any) -> np.ndarray:
    """How far values lie outside the range the layer's input codes cover (they saturate)."""
    scale, zp = layer.input_scale, layer.input_zero_point
    lo, hi = (-128 - zp) * scale, (127 - zp) * scale
    return np.maximum(x_hat - hi, 0) + np.maximum(lo - x_hat, 0)


def _through_layer(layer: Any, d: np.ndarray, h: np.ndarray, power: int) -> np.ndarray:
    """|W_hat|^p d + (s_c / 2)^p * sum |h|^p over each output's inputs (p = 1 or 2)."""
    w = np.abs(layer.dequantized_weight()) ** power
    step = (layer.weight_scale.data / 2) ** power / (3 if power == 2 else 1)  # s^2 / 12
    h = np.abs(h) ** power
    if isinstance(layer, QuantizedLinear):
        return d @ w + h.sum(axis=-1, keepdims=True) * step
    settings = (layer.stride, layer.padding, layer.dilation, layer.groups)
    spread = conv2d(Tensor(d), Tensor(w), None, *settings).data
    reach = conv2d(Tensor(h), Tensor(np.ones_like(w)), None, *settings).data
    return spread + reach * step.reshape(1, -1, 1, 1)


def propagate(float_model: Sequential, quantized: Sequential, x: np.ndarray, power: int
              ) -> np.ndarray:
    """power=1: the worst-case bound on |quantized(x) - float(x)|; power=2: the mean square."""
    h, x_hat, d = x, x, np.zeros_like(x)
    for f_layer, q_layer in zip(float_model.layers, quantized.layers, strict=True):
        if isinstance(q_layer, (QuantizedLinear, QuantizedConv2d)):
            if q_layer.path == "integer":
                scale, over = q_layer.input_scale, _overshoot(x_hat, q_layer)
                d = d + (scale / 2 + over if power == 1 else scale ** 2 / 12 + over ** 2)
            d = _through_layer(q_layer, d, h, power)
        elif isinstance(q_layer, MaxPool2d):
            window = q_layer.kernel_size ** 2 if power == 2 else 1
            d = max_pool2d(Tensor(d), q_layer.kernel_size, q_layer.stride,
                           q_layer.padding).data * window
        elif isinstance(q_layer, Flatten):
            d = d.reshape(len(d), -1)
        else:
            assert isinstance(q_layer, ReLU), f"no bound rule for {type(q_layer).__name__}"
        h, x_hat = f_layer(Tensor(h)).data, q_layer(Tensor(x_hat)).data
    return d


# --- tests ---------------------------------------------------------------------------------------


@PATHS_AND_MODELS
def test_quick_int8_digits_models_keep_accuracy_and_shrink_3_5x(
        which: str, path: str, digits_mlp: Trained, digits_cnn: Trained) -> None:
    trained = digits_mlp if which == "mlp" else digits_cnn
    float_acc = accuracy(trained.model, trained.x_test, trained.y_test)
    assert float_acc > 0.85, f"the float {which} did not learn ({float_acc:.1%})"
    model, report = quantized_copy(trained, path)
    int8_acc = accuracy(model, trained.x_test, trained.y_test)
    assert int8_acc >= float_acc - MAX_ACCURACY_DROP, (
        f"{which} [{path}]: int8 accuracy {int8_acc:.1%} vs float {float_acc:.1%}\n{report}")
    sizes = compare_model_sizes(trained.model, model)
    assert sizes["compression_ratio"] >= MIN_SHRINK, str(report)
    stored = sum(array.nbytes for array in model.state_dict().values())
    assert sizes["quantized_bytes"] == stored == report.bytes_after
    codes = [m.q_weight.data for m in model.modules() if isinstance(m, QuantizedLinear |
                                                                    QuantizedConv2d)]
    assert codes and all(c.dtype == np.int8 for c in codes)


@PATHS_AND_MODELS
def test_quick_int8_logits_stay_within_the_worst_case_bound(
        which: str, path: str, digits_mlp: Trained, digits_cnn: Trained) -> None:
    trained = digits_mlp if which == "mlp" else digits_cnn
    model, _ = quantized_copy(trained, path)
    x = trained.x_test  # images calibration never saw: saturation is part of the bound
    gap = np.abs(model(Tensor(x)).data - trained.model(Tensor(x)).data)
    bound = propagate(trained.model, model, x, power=1)
    assert np.all(gap <= bound * 1.001 + 1e-4), f"worst excess {np.max(gap - bound):.3g}"


@PATHS_AND_MODELS
def test_quick_int8_logits_track_float_within_six_sigma(
        which: str, path: str, digits_mlp: Trained, digits_cnn: Trained) -> None:
    trained = digits_mlp if which == "mlp" else digits_cnn
    model, _ = quantized_copy(trained, path)
    x = trained.x_test
    logits = trained.model(Tensor(x)).data
    gap = np.abs(model(Tensor(x)).data - logits)
    sigma = np.sqrt(propagate(trained.model, model, x, power=2))
    z = gap / sigma
    assert np.all(z <= 6), f"largest gap {np.max(z):.2f} sigma"
    assert 0.25 <= np.sqrt(np.mean(z ** 2)) <= 2.0, f"rms gap {np.sqrt(np.mean(z ** 2)):.2f} sigma"
    assert np.median(sigma) < 0.05 * logits.std()  # int8 moves logits by a few percent at most


def test_quick_quantized_cnn_saves_and_loads_with_int8_codes(digits_cnn: Trained,
                                                             tmp_path: Path) -> None:
    model, _ = quantized_copy(digits_cnn, "integer")
    model.save(tmp_path / "cnn_int8.npz")
    fresh = build_cnn(1, 8, widths=(16, 32))
    quantize_model(fresh, path="integer")  # the architecture; codes and ranges come from the file
    fresh.load(tmp_path / "cnn_int8.npz")
    for loaded, saved in zip(fresh.modules(), model.modules(), strict=True):
        if isinstance(saved, QuantizedLinear | QuantizedConv2d):
            assert loaded.q_weight.data.dtype == np.int8
            np.testing.assert_array_equal(loaded.q_weight.data, saved.q_weight.data)
            assert loaded.input_scale == saved.input_scale
    x = digits_cnn.x_test
    np.testing.assert_array_equal(fresh(Tensor(x)).data, model(Tensor(x)).data)
    set_inference_path(fresh, "dequantized")
    assert accuracy(fresh, x, digits_cnn.y_test) >= accuracy(
        digits_cnn.model, x, digits_cnn.y_test) - MAX_ACCURACY_DROP
