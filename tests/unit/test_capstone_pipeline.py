"""The capstone pipeline on a trained digits MLP: the sizes and accuracies it reports are real."""

from __future__ import annotations

import io

import numpy as np
import pytest

from tinytorch.capstone.pipeline import optimize, optimize_generation
from tinytorch.core.errors import ConfigError
from tinytorch.core.rng import manual_seed
from tinytorch.core.transformer import GPT
from tinytorch.data import load_digits
from tinytorch.milestones.mlp import build_mlp
from tinytorch.perf.quantization import QuantizedLinear


def train_digits_mlp(x_train, y_train, x_test, y_test):
    from tinytorch.core.losses import CrossEntropyLoss
    from tinytorch.core.optimizers import Adam
    from tinytorch.milestones.report import Split, fit

    manual_seed(0)
    model = build_mlp(64)
    fit(model, CrossEntropyLoss(), Adam(model.parameters(), lr=0.002),
        Split(x_train, y_train, x_test, y_test), epochs=10, batch_size=32,
        predict=lambda logits: logits.argmax(-1), out=io.StringIO())
    return model


def _accuracy(model, x: np.ndarray, y: np.ndarray) -> float:
    from tinytorch.core.autograd import no_grad
    from tinytorch.core.tensor import Tensor

    model.eval()
    with no_grad():
        return float(np.mean(model(Tensor(x)).data.argmax(1) == y))


@pytest.fixture(scope="module")
def trained() -> tuple:
    data = load_digits(flatten=True)
    return train_digits_mlp(*data), data


def test_optimize_shrinks_a_digits_mlp_35x_within_one_point(trained) -> None:
    model, (x_train, y_train, x_test, y_test) = trained
    before = model.state_dict()
    result = optimize(model, (x_train, y_train, x_test, y_test), ["quantize", "prune"],
                      sparsity=0.5, finetune_epochs=2, num_runs=3)
    assert [s.name for s in result.steps] == ["baseline", "prune", "quantize"]
    base, final = result.baseline, result.final
    # every number is re-measured here, independently of the pipeline's own measurement
    assert base.accuracy == pytest.approx(_accuracy(model, x_test, y_test))
    assert final.accuracy == pytest.approx(_accuracy(result.model, x_test, y_test))
    real_bytes = sum(np.asarray(v).nbytes for v in result.model.state_dict().values())
    assert final.model_bytes == real_bytes
    assert base.model_bytes / final.model_bytes >= 3.5
    assert base.accuracy - final.accuracy <= 0.01
    assert result.steps[1].details["sparsity_percent"] == pytest.approx(50.0, abs=0.5)
    assert all(isinstance(m, QuantizedLinear) for m in result.model.layers[::2])
    assert all(np.array_equal(v, before[k]) for k, v in model.state_dict().items())  # untouched
    assert "| quantize |" in result.table()


def test_optimize_refuses_unknown_techniques() -> None:
    x, y = np.zeros((4, 2), dtype=np.float32), np.zeros(4, dtype=np.int64)
    with pytest.raises(ConfigError, match="optimize_generation"):
        optimize(build_mlp(2, (4,)), (x, y, x, y), ["kv_cache"])


def test_optimize_generation_compares_cached_and_recomputed_tokens() -> None:
    manual_seed(0)
    gpt = GPT(vocab_size=11, embed_dim=16, num_layers=1, num_heads=2, max_seq_len=24)
    report = optimize_generation(gpt, np.arange(5) % 11, max_new_tokens=12, repeats=2)
    assert report["identical"] and report["new_tokens"] == 12 and report["speedup"] > 0
