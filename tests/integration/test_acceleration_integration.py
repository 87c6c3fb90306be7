"""Gap 17 (acceleration): accelerated ops match their baselines inside real models.

Boundary: ``perf.acceleration`` with layers, convolutions, transformers, losses and optimizers.
Each accelerated path is swapped into a model and must give the baseline's loss and every
gradient (tiled GEMMs in an MLP, fused GELU in a transformer MLP, im2col convolution in a CNN);
mixed-precision training of the digits MLP must reach the float32 run's test accuracy within
one point, skipping the steps whose float16 gradients overflow and recovering from them; and
checkpointed transformer blocks must give the plain blocks' gradients while holding less memory
between forward and backward (counted and traced).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tinytorch.core.activations import ReLU
from tinytorch.core.autograd import no_grad
from tinytorch.core.layers import Flatten, Linear, Module, Sequential
from tinytorch.core.losses import CrossEntropyLoss
from tinytorch.core.optimizers import SGD, Adam
from tinytorch.core.rng import manual_seed
from tinytorch.core.spatial import Conv2d, MaxPool2d
from tinytorch.core.tensor import Tensor
from tinytorch.core.transformer import MLP, TransformerBlock, create_causal_mask
from tinytorch.data import load_digits
from tinytorch.milestones.mlp import build_mlp
from tinytorch.perf.acceleration import (
    GradScaler,
    MixedPrecisionTrainer,
    checkpoint,
    checkpoint_sequential,
    fused_gelu,
    im2col_conv2d,
    tiled_matmul,
    unfused_gelu,
)
from tinytorch.perf.checkpointing import held_bytes, saved_activation_bytes


def _loss_and_grads(model: Module, forward: Any, x: np.ndarray,
                    y: np.ndarray) -> list[np.ndarray]:
    model.zero_grad()
    loss = CrossEntropyLoss()(forward(Tensor(x)), y)
    loss.backward()
    return [loss.data] + [p.grad.data for p in model.parameters()]


def _assert_all_close(ours: list[np.ndarray], theirs: list[np.ndarray], tol: float) -> None:
    assert len(ours) == len(theirs)
    for i, (mine, reference) in enumerate(zip(ours, theirs, strict=True)):
        np.testing.assert_allclose(mine, reference, rtol=tol, atol=tol, err_msg=f"item {i}")


# --- accelerated ops inside models ---------------------------------------------------------------


def test_quick_mlp_on_tiled_gemms_trains_like_the_blas_mlp(rng: np.random.Generator) -> None:
    model = build_mlp(64, hidden=(45, 23))              # odd widths: every tile grid is ragged

    def tiled_forward(x: Tensor) -> Tensor:
        for layer in model.layers:
            if isinstance(layer, Linear):
                x = tiled_matmul(x, layer.weight, tile_size=16) + layer.bias
            else:
                x = layer(x)
        return x

    x = rng.standard_normal((37, 64), dtype=np.float32)
    y = rng.integers(0, 10, size=37)
    _assert_all_close(_loss_and_grads(model, tiled_forward, x, y),
                      _loss_and_grads(model, model, x, y), 1e-5)


def test_quick_fused_and_unfused_gelu_give_a_transformer_mlp_the_same_gradients(
        rng: np.random.Generator) -> None:
    mlp = MLP(24, 96, dropout_prob=0.0)

    def with_gelu(gelu: Any) -> Any:
        return lambda x: mlp.linear2(gelu(mlp.linear1(x))).sum(axis=1)   # (B, T, E) -> (B, E)

    x = rng.standard_normal((3, 5, 24), dtype=np.float32)
    y = rng.integers(0, 24, size=3)
    core = _loss_and_grads(mlp, lambda t: mlp(t).sum(axis=1), x, y)     # the layer's own GELU
    for gelu in (fused_gelu, unfused_gelu):
        _assert_all_close(_loss_and_grads(mlp, with_gelu(gelu), x, y), core, 1e-5)


class _SmallCNN(Module):
    def __init__(self, conv: Any = None) -> None:
        super().__init__()
        self.conv = Conv2d(1, 6, 3, stride=1, padding=1)
        self.pool, self.flat, self.head = MaxPool2d(2), Flatten(), Linear(6 * 4 * 4, 10)
        self.conv_fn = conv                        # None: the Conv2d layer itself

    def forward(self, x: Tensor) -> Tensor:
        h = self.conv(x) if self.conv_fn is None else self.conv_fn(x, self.conv)
        return self.head(self.flat(self.pool(h.relu())))


def test_quick_cnn_on_im2col_gemm_equals_the_conv2d_cnn() -> None:
    x_train, y_train, _, _ = load_digits()
    x, y = x_train[:32].reshape(32, 1, 8, 8), y_train[:32]
    model = _SmallCNN()
    lowered = _SmallCNN(lambda t, conv: im2col_conv2d(t, conv.weight, conv.bias, padding=1))
    lowered.load_state_dict(model.state_dict())
    _assert_all_close(_loss_and_grads(lowered, lowered, x, y),
                      _loss_and_grads(model, model, x, y), 1e-5)


# --- mixed precision on the digits ---------------------------------------------------------------


def _train_digits(half: bool, epochs: int, hidden: tuple[int, ...] = (64,),
                  init_scale: float = 2.0**16) -> dict[str, Any]:
    """Train a digits MLP (the milestone's builder); return test accuracies and the trainer.

    NumPy has no BLAS kernel for float16 products, so the float16 runs are several times
    slower than float32 ones: the quick tests use one hidden layer and few epochs.
    """
    x_train, y_train, x_test, y_test = load_digits(flatten=True)
    manual_seed(0)
    model = build_mlp(64, hidden)
    scaler = GradScaler(init_scale, growth_interval=50, enabled=half)
    trainer = MixedPrecisionTrainer(model, Adam(model.parameters(), lr=0.002), CrossEntropyLoss(),
                                    scaler, half=half)
    order = np.random.default_rng(0)
    log = []
    for _ in range(epochs):
        perm = order.permutation(len(x_train))
        for start in range(0, len(perm), 32):
            batch = perm[start:start + 32]
            weight = model.layers[0].weight.data.copy()
            _, stepped = trainer.train_step(x_train[batch], y_train[batch])
            changed = not np.array_equal(weight, model.layers[0].weight.data)
            log.append((stepped, changed, scaler.get_scale()))
    with no_grad():
        master_acc = float(np.mean(model(x_test).data.argmax(-1) == y_test))
        run_acc = float(np.mean(trainer(x_test).data.argmax(-1) == y_test))
    return {"master_acc": master_acc, "run_acc": run_acc, "trainer": trainer, "log": log}


def _check_mixed_precision_matches_float32(epochs: int, hidden: tuple[int, ...],
                                           floor: float) -> None:
    full = _train_digits(half=False, epochs=epochs, hidden=hidden)
    mixed = _train_digits(half=True, epochs=epochs, hidden=hidden)
    assert full["master_acc"] > floor
    assert abs(mixed["master_acc"] - full["master_acc"]) <= 0.01
    assert abs(mixed["run_acc"] - full["master_acc"]) <= 0.01     # float16 inference too
    half = mixed["trainer"].net.half
    assert all(p.dtype == np.float16 for p in half.parameters())
    assert all(p.dtype == np.float32 for p in mixed["trainer"].model.parameters())


def test_quick_mixed_precision_digits_mlp_reaches_the_float32_accuracy() -> None:
    _check_mixed_precision_matches_float32(epochs=4, hidden=(64,), floor=0.85)


@pytest.mark.slow
def test_mixed_precision_digits_mlp_reaches_the_float32_accuracy_fully_trained() -> None:
    _check_mixed_precision_matches_float32(epochs=8, hidden=(128, 64), floor=0.94)


def test_quick_scaler_skips_overflowing_steps_then_recovers_and_learns() -> None:
    # 2**24 times the loss overflows float16 (max 65504) in backward: the first steps must be
    # skipped with the weights untouched, the scale halved each time, and then training resumes
    full = _train_digits(half=False, epochs=4)
    mixed = _train_digits(half=True, epochs=4, init_scale=2.0**24)
    log = mixed["log"]
    first_taken = next(i for i, (stepped, _, _) in enumerate(log) if stepped)
    assert first_taken >= 1
    assert all(not changed for _, changed, _ in log[:first_taken])
    assert [scale for _, _, scale in log[:first_taken]] == \
        [2.0**24 * 0.5 ** (i + 1) for i in range(first_taken)]
    assert all(changed for stepped, changed, _ in log if stepped)
    assert sum(stepped for stepped, _, _ in log) > 0.9 * len(log)
    assert mixed["trainer"].scaler.steps_skipped == len(log) - sum(s for s, _, _ in log)
    assert abs(mixed["master_acc"] - full["master_acc"]) <= 0.01


# --- activation checkpointing in a transformer ---------------------------------------------------


def _blocks(n: int = 3) -> list[TransformerBlock]:
    manual_seed(4)
    return [TransformerBlock(32, 4, dropout_prob=0.0) for _ in range(n)]


def _stack_loss(blocks: list[TransformerBlock], x: Tensor, checkpointed: bool) -> Tensor:
    mask = create_causal_mask(x.shape[1])
    h = x
    for block in blocks:
        def run(t: Tensor, block: TransformerBlock = block) -> Tensor:
            return block(t, mask=mask)
        h = checkpoint(run, h, parameters=block.parameters()) if checkpointed else run(h)
    return (h * h).mean()


@pytest.mark.parametrize("checkpointed", [True, False])
def test_quick_checkpointed_transformer_blocks_give_the_plain_gradients(
        rng: np.random.Generator, checkpointed: bool) -> None:
    blocks = _blocks()
    data = rng.standard_normal((2, 12, 32), dtype=np.float32)
    grads = {}
    for mode in (False, checkpointed):
        for block in blocks:
            block.zero_grad()
        x = Tensor(data, requires_grad=True)
        _stack_loss(blocks, x, mode).backward()
        grads[mode] = [x.grad.data] + [p.grad.data for b in blocks for p in b.parameters()]
    _assert_all_close(grads[checkpointed], grads[False], 1e-6)


def test_quick_checkpointed_blocks_hold_less_memory_between_forward_and_backward(
        rng: np.random.Generator) -> None:
    blocks = _blocks()
    x = Tensor(rng.standard_normal((4, 32, 32), dtype=np.float32), requires_grad=True)
    plain_loss, plain_held = held_bytes(_stack_loss, blocks, x, False)
    ours_loss, ours_held = held_bytes(_stack_loss, blocks, x, True)
    plain_saved, ours_saved = saved_activation_bytes(plain_loss), saved_activation_bytes(ours_loss)
    np.testing.assert_allclose(ours_loss.data, plain_loss.data, rtol=1e-6)
    # the inputs of blocks 2 and 3, and the output the loss squares (x itself is a leaf)
    assert ours_saved <= 3 * x.data.nbytes + 64
    assert plain_saved > 10 * ours_saved
    # traced by tracemalloc, not estimated: a plain block keeps about four times its input
    # (fused attention and LayerNorm save only what their backward reads), a checkpointed one
    # its input alone
    assert ours_held < plain_held / 3


def test_quick_checkpoint_sequential_trains_the_digits_mlp_step_for_step() -> None:
    x_train, y_train, _, _ = load_digits(flatten=True)
    weights = []
    for segments in (None, 2):
        manual_seed(1)
        model = Sequential(Linear(64, 64), ReLU(), Linear(64, 64), ReLU(), Linear(64, 10))
        optimizer = SGD(model.parameters(), lr=0.1, momentum=0.9)
        for step in range(5):
            batch = slice(32 * step, 32 * step + 32)
            optimizer.zero_grad()
            x = Tensor(x_train[batch])
            out = model(x) if segments is None else checkpoint_sequential(model, segments, x)
            CrossEntropyLoss()(out, y_train[batch]).backward()
            optimizer.step()
        weights.append([p.data.copy() for p in model.parameters()])
    _assert_all_close(weights[1], weights[0], 1e-6)
