"""Modules 01-05: tensor values and broadcasting, activations, layers, losses, the data loader.

Forward values only (gradients are module 06's boundary); each reference is a NumPy line.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..harness import arr, check, expect, expect_close, need, seeded
from ._common import expect_each_close


def _pair(rng: np.random.Generator, *shapes: tuple[int, ...]) -> list[np.ndarray]:
    return [rng.standard_normal(s).astype(np.float32) for s in shapes]


# --- 01 tensor ---------------------------------------------------------------------------------


@check("01", "Tensor arithmetic -> NumPy values")
def check_arithmetic(oracle: Any) -> None:
    Tensor = need("core.tensor", "Tensor")  # noqa: N806 (a class)
    a, b, m = _pair(seeded(1), (2, 3), (2, 3), (3, 4))
    b = np.abs(b) + 0.5                       # a safe divisor
    ta, tb, tm = Tensor(a), Tensor(b), Tensor(m)
    cases = {"a + b": (ta + tb, a + b), "a - b": (ta - tb, a - b), "a * b": (ta * tb, a * b),
             "a / b": (ta / tb, a / b), "a ** 2": (ta ** 2, a ** 2), "-a": (-ta, -a),
             "a @ m": (ta @ tm, a @ m), "2 - a": (2 - ta, 2 - a), "1 / b": (1 / tb, 1 / b)}
    expect_each_close(cases, what="Tensor `{name}`",
                      why="each operator computes the same element-wise (or matrix) result as "
                          "NumPy, including the reflected forms (2 - t, 1 / t)",
                      fix="look at the Tensor method behind `{name}` (__add__, __rsub__, ...)")


@check("01", "broadcasting: (3,1)+(1,4), (2,3)+(3,), scalars")
def check_broadcasting(oracle: Any) -> None:
    Tensor = need("core.tensor", "Tensor")  # noqa: N806
    col, row, mat, vec = _pair(seeded(2), (3, 1), (1, 4), (2, 3), (3,))
    cases = {"(3,1) + (1,4)": (Tensor(col) + Tensor(row), col + row),
             "(2,3) * (3,)": (Tensor(mat) * Tensor(vec), mat * vec),
             "(2,3) + 1.5": (Tensor(mat) + 1.5, mat + 1.5)}
    expect_each_close(cases, what="broadcast {name}",
                      why="operands broadcast as in NumPy: sizes are aligned from the right and "
                          "an axis of size 1 stretches",
                      fix="compute on the .data arrays with NumPy operators, which broadcast")


@check("01", "reductions and reshapes: sum/mean/max(axis), reshape, transpose")
def check_reductions(oracle: Any) -> None:
    Tensor = need("core.tensor", "Tensor")  # noqa: N806
    (x,) = _pair(seeded(3), (2, 3, 4))
    t = Tensor(x)
    cases = {"sum()": (t.sum(), x.sum()), "sum(axis=1)": (t.sum(axis=1), x.sum(axis=1)),
             "mean(axis=-1, keepdims=True)": (t.mean(axis=-1, keepdims=True),
                                               x.mean(axis=-1, keepdims=True)),
             "max(axis=0)": (t.max(axis=0), x.max(axis=0)),
             "reshape(4, -1)": (t.reshape(4, -1), x.reshape(4, -1)),
             "transpose()": (t.transpose(), np.swapaxes(x, -1, -2))}
    expect_each_close(cases, what="Tensor.{name}",
                      why="reductions take axis= and keepdims= as NumPy does; transpose() "
                          "swaps the last two axes",
                      fix="check the Tensor method behind .{name}")


@check("01", "Tensor data type: float32 by default")
def check_dtype(oracle: Any) -> None:
    Tensor = need("core.tensor", "Tensor")  # noqa: N806
    t = Tensor([[1.0, 2.0]])
    expect(arr(t).dtype == np.float32 and arr(t * 2.0).dtype == np.float32,
           what=f"Tensor([[1.0, 2.0]]) holds {arr(t).dtype}, t * 2.0 holds {arr(t * 2.0).dtype}",
           why="the course's tensors are float32: half the memory of float64 and the dtype "
               "every later module (and PyTorch) assumes",
           fix="convert floating input with np.asarray(data, dtype=np.float32)",
           expected="float32", actual=str(arr(t).dtype))


# --- 02 activations ----------------------------------------------------------------------------


def _gelu_tanh(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))


@check("02", "activations -> reference curves")
def check_activation_values(oracle: Any) -> None:
    Tensor = need("core.tensor", "Tensor")  # noqa: N806
    relu, sigmoid, tanh, gelu, softmax = (cls() for cls in need(
        "core.activations", "ReLU", "Sigmoid", "Tanh", "GELU", "Softmax"))
    x = np.linspace(-4, 4, 12, dtype=np.float32).reshape(3, 4)
    shifted = np.exp(x - x.max(axis=-1, keepdims=True))
    cases = {"ReLU": (relu, np.maximum(x, 0), 1e-6),
             "Sigmoid": (sigmoid, 1 / (1 + np.exp(-x)), 1e-6),
             "Tanh": (tanh, np.tanh(x), 1e-6), "GELU": (gelu, _gelu_tanh(x), 2e-3),
             "Softmax": (softmax, shifted / shifted.sum(axis=-1, keepdims=True), 1e-6)}
    for name, (layer, want, atol) in cases.items():
        expect_close(layer(Tensor(x)), want, what=f"{name}()(x)", atol=atol,
                     why=f"{name} is a fixed function; Softmax normalizes over the last axis",
                     fix=f"compare your {name}.forward with its formula on the values shown")


@check("02", "activations at +-1000: finite, no overflow")
def check_activation_stability(oracle: Any) -> None:
    import warnings

    Tensor = need("core.tensor", "Tensor")  # noqa: N806
    sigmoid, softmax = need("core.activations", "Sigmoid", "Softmax")
    x = np.array([[-1000.0, 0.0, 1000.0]], dtype=np.float32)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sig, soft = arr(sigmoid()(Tensor(x))), arr(softmax()(Tensor(x)))
    expect_close(sig, [[0.0, 0.5, 1.0]], what="Sigmoid at [-1000, 0, 1000]", atol=1e-6,
                 why="sigmoid saturates to 0 and 1; a NaN here poisons every later gradient",
                 fix="use exp(-|x|): sigmoid(x) = 1/(1+e^-x) for x >= 0, e^x/(1+e^x) otherwise")
    expect_close(soft, [[0.0, 0.0, 1.0]], what="Softmax of [-1000, 0, 1000]", atol=1e-6,
                 why="softmax(x) = softmax(x - max(x)); without the shift exp(1000) overflows",
                 fix="subtract the row maximum before exp")
    expect(not caught, what=f"the activations warned: {[str(w.message) for w in caught][:2]}",
           why="an overflow warning means an intermediate became inf",
           fix="rewrite the formula so no exp() sees a large positive argument")


# --- 03 layers ---------------------------------------------------------------------------------


@check("03", "Linear: y = x @ W + b, W of shape (in, out)")
def check_linear(oracle: Any) -> None:
    Tensor = need("core.tensor", "Tensor")  # noqa: N806
    Linear = need("core.layers", "Linear")  # noqa: N806
    layer = Linear(3, 5)
    w, b = arr(layer.weight), arr(layer.bias)
    expect(w.shape == (3, 5) and b.shape == (5,),
           what=f"Linear(3, 5) has weight {w.shape} and bias {b.shape}",
           why="the course stores W as (in_features, out_features) so that y = x @ W + b",
           fix="create weight with shape (in_features, out_features), bias (out_features,)",
           expected="(3, 5) and (5,)", actual=f"{w.shape} and {b.shape}")
    (x,) = _pair(seeded(4), (4, 3))
    expect_close(layer(Tensor(x)), x @ w + b, what="Linear(3, 5)(x)",
                 why="a Linear layer computes x @ W + b", fix="check Linear.forward")
    count = len(list(layer.parameters()))
    expect(count == 2, what=f"Linear(3, 5).parameters() lists {count} tensors",
           why="an optimizer trains exactly what parameters() returns: the weight and the bias",
           fix="return [self.weight, self.bias] (or collect the Parameters you hold)",
           expected=2, actual=count)


@check("03", "Sequential(Linear, ReLU, Linear) and parameters of a nest")
def check_sequential(oracle: Any) -> None:
    Tensor = need("core.tensor", "Tensor")  # noqa: N806
    Linear, Sequential = need("core.layers", "Linear", "Sequential")  # noqa: N806
    ReLU = need("core.activations", "ReLU")  # noqa: N806
    first, second = Linear(3, 4), Linear(4, 2)
    model = Sequential(first, ReLU(), second)
    (x,) = _pair(seeded(5), (5, 3))
    hidden = np.maximum(x @ arr(first.weight) + arr(first.bias), 0)
    expect_close(model(Tensor(x)), hidden @ arr(second.weight) + arr(second.bias),
                 what="Sequential(Linear, ReLU, Linear)(x)",
                 why="Sequential feeds each layer's output to the next, in order",
                 fix="check Sequential.forward")
    count = len(list(model.parameters()))
    expect(count == 4, what=f"the Sequential lists {count} parameters",
           why="a container collects the parameters of every layer inside it (2 Linear x 2)",
           fix="walk the sub-layers in parameters()", expected=4, actual=count)


@check("03", "Dropout: scaled in training, identity in eval")
def check_dropout(oracle: Any) -> None:
    Tensor = need("core.tensor", "Tensor")  # noqa: N806
    Dropout = need("core.layers", "Dropout")  # noqa: N806
    layer = Dropout(0.5)
    x = np.ones((200, 50), dtype=np.float32)
    out = arr(layer(Tensor(x)))
    kept = out != 0
    expect(0.4 < kept.mean() < 0.6 and np.allclose(out[kept], 2.0),
           what=f"Dropout(0.5) in training kept {kept.mean():.2f} of the values, "
                f"kept values {np.unique(out[kept])[:3]}",
           why="inverted dropout zeroes each value with probability p and scales the rest by "
               "1/(1-p), so the expected output equals the input",
           fix="multiply by (random mask >= p) / (1 - p)")
    layer.eval()
    expect_close(layer(Tensor(x)), x, what="Dropout(0.5) after eval()",
                 why="in eval mode dropout does nothing", fix="return x when not self.training")


# --- 04 losses ---------------------------------------------------------------------------------


@check("04", "MSELoss, CrossEntropyLoss, BinaryCrossEntropyLoss -> reference values")
def check_loss_values(oracle: Any) -> None:
    Tensor = need("core.tensor", "Tensor")  # noqa: N806
    mse, ce, bce = need("core.losses", "MSELoss", "CrossEntropyLoss", "BinaryCrossEntropyLoss")
    pred, target, logits = _pair(seeded(6), (4, 3), (4, 3), (4, 5))
    labels = np.array([0, 4, 2, 1])
    probs = np.array([0.1, 0.8, 0.6, 0.3], dtype=np.float32)
    truth = np.array([0.0, 1.0, 1.0, 0.0], dtype=np.float32)
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    cases = {
        "MSELoss": (mse()(Tensor(pred), Tensor(target)), np.mean((pred - target) ** 2)),
        "CrossEntropyLoss": (ce()(Tensor(logits), Tensor(labels)),
                             -log_probs[np.arange(4), labels].mean()),
        "BinaryCrossEntropyLoss": (bce()(Tensor(probs), Tensor(truth)), -np.mean(
            truth * np.log(probs) + (1 - truth) * np.log(1 - probs))),
    }
    expect_each_close({name: (arr(got).reshape(()), want) for name, (got, want) in cases.items()},
                      what="{name} value", rtol=1e-4,
                      why="each loss is a fixed formula averaged over the batch (CrossEntropy "
                          "takes logits and integer class targets)",
                      fix="compare {name}.forward with the formula in the course notes")


@check("04", "CrossEntropyLoss with logits of +-1000: finite")
def check_loss_stability(oracle: Any) -> None:
    Tensor = need("core.tensor", "Tensor")  # noqa: N806
    ce = need("core.losses", "CrossEntropyLoss")
    logits = np.array([[1000.0, 0.0, -1000.0], [0.0, 1000.0, 0.0]], dtype=np.float32)
    got = arr(ce()(Tensor(logits), Tensor(np.array([0, 0])))).reshape(())
    expect_close(got, 500.0, what="CrossEntropyLoss of huge logits", rtol=1e-4,
                 why="loss = logsumexp(logits) - logit[target]; computed naively exp(1000) "
                     "overflows to inf or NaN",
                 fix="use log-softmax with the row maximum subtracted")


# --- 05 dataloader -----------------------------------------------------------------------------


@check("05", "TensorDataset -> DataLoader batches (sizes, coverage, pairing)")
def check_dataloader(oracle: Any) -> None:
    Tensor = need("core.tensor", "Tensor")  # noqa: N806
    TensorDataset, DataLoader = need("core.dataloader", "TensorDataset", "DataLoader")  # noqa: N806
    features = np.arange(10, dtype=np.float32).reshape(10, 1) * np.ones((1, 3), np.float32)
    labels = np.arange(10)
    dataset = TensorDataset(Tensor(features), Tensor(labels))
    expect(len(dataset) == 10, what=f"len(TensorDataset) = {len(dataset)}",
           why="a dataset has one item per row", fix="return the first tensor's length",
           expected=10, actual=len(dataset))
    for shuffle in (False, True):
        batches = list(DataLoader(dataset, batch_size=4, shuffle=shuffle))
        sizes = [len(arr(b[0])) for b in batches]
        expect(sizes == [4, 4, 2], what=f"DataLoader(10 items, batch_size=4, shuffle={shuffle}) "
                                        f"gave batches of {sizes}",
               why="batches take batch_size items in turn; the last one holds the rest",
               fix="slice the (shuffled) indices in steps of batch_size",
               expected=[4, 4, 2], actual=sizes)
        xs = np.concatenate([arr(b[0])[:, 0] for b in batches])
        ys = np.concatenate([arr(b[1]).reshape(-1) for b in batches])
        expect(sorted(xs.tolist()) == list(range(10)) and np.array_equal(xs, ys),
               what=f"shuffle={shuffle}: the batches hold items {xs.tolist()} with labels "
                    f"{ys.tolist()}",
               why="every item appears exactly once per epoch, with its own label",
               fix="shuffle one index permutation and use it for every tensor")
    dropped = list(DataLoader(dataset, batch_size=4, drop_last=True))
    expect(len(dropped) == 2, what=f"drop_last=True gave {len(dropped)} batches",
           why="drop_last discards the final, incomplete batch", fix="stop at len // batch_size",
           expected=2, actual=len(dropped))
