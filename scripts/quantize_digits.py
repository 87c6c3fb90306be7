"""Measure what int8 quantization costs and saves on the digits MLP and CNN of milestones 03-04.

Each model is trained as its milestone trains it (``--quick``: the milestones' quick settings),
then quantized with ``quantize_model`` calibrated on 512 training images, once per inference
path. The table gives the test accuracy (359 images) and the real bytes of every model
(``nbytes`` of all its parameters and buffers).

    PYTHONPATH=. .venv/bin/python scripts/quantize_digits.py [--quick]
"""

from __future__ import annotations

import copy
import io
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

from tinytorch.core.losses import CrossEntropyLoss
from tinytorch.core.optimizers import Adam
from tinytorch.core.rng import manual_seed
from tinytorch.core.tensor import Tensor
from tinytorch.data import load_digits
from tinytorch.milestones.cnn import build_cnn, cosine
from tinytorch.milestones.mlp import build_mlp
from tinytorch.milestones.report import Split, fit
from tinytorch.perf.quantization import module_nbytes, quantize_model


def _accuracy(model: Any, x: np.ndarray, y: np.ndarray) -> float:
    return float((model.eval()(Tensor(x)).data.argmax(axis=-1) == y).mean())


def _train(build: Callable[[], Any], flatten: bool, epochs: int, lr: float,
           schedule: bool) -> tuple[Any, Split]:
    manual_seed(0)
    x_train, y_train, x_test, y_test = load_digits(flatten=flatten)
    data = Split(x_train, y_train, x_test, y_test)
    model = build()
    fit(model, CrossEntropyLoss(), Adam(model.parameters(), lr=lr), data, epochs,
        batch_size=32, predict=lambda z: z.argmax(axis=-1), out=io.StringIO(),
        schedule=cosine(lr, epochs) if schedule else None)
    return model, data


def rows(name: str, model: Any, data: Split) -> list[tuple[str, str, str, str, str]]:
    """One row for the float model, one per quantized inference path."""
    before = module_nbytes(model)
    out = [(name, "float32", f"{_accuracy(model, data.x_test, data.y_test):.2%}",
            f"{before:,}", "1.00x")]
    for path in ("dequantized", "integer"):
        quantized = copy.deepcopy(model)
        report = quantize_model(quantized, [data.x_train[:512]], path=path)
        out.append((name, f"int8 ({path})",
                    f"{_accuracy(quantized, data.x_test, data.y_test):.2%}",
                    f"{report.bytes_after:,}", f"{report.compression_ratio:.2f}x"))
    return out


def main(quick: bool) -> None:
    mlp = _train(lambda: build_mlp(64), True, 8 if quick else 30, 0.002, schedule=False)
    cnn = _train(lambda: build_cnn(1, 8, widths=(16, 32) if quick else (32, 64)), False,
                 8 if quick else 15, 0.003, schedule=True)
    table = [("model", "weights", "test accuracy", "bytes", "smaller by")]
    table += rows("digits MLP", *mlp) + rows("digits CNN", *cnn)
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for i, row in enumerate(table):
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
        if i == 0:
            print("  ".join("-" * w for w in widths))


if __name__ == "__main__":
    main(quick="--quick" in sys.argv[1:])
