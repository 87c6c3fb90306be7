"""Modules 06-08: autograd, optimizers, training — the gradient-flow pattern of the seed suite.

Gradients exist, are non-zero, reach every layer and equal the oracle's; one optimizer step
equals the reference update; and a training loop really lowers the loss.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..harness import arr, check, expect, expect_close, grad_of, need, seeded
from ._common import expect_gradients, leaf, learns

# --- 06 autograd -------------------------------------------------------------------------------


@check("06", "Linear -> ReLU (x5) -> MSELoss: every layer gets a gradient")
def check_gradients_reach_every_layer(oracle: Any) -> None:
    Tensor = need("core.tensor", "Tensor")  # noqa: N806
    Linear = need("core.layers", "Linear")  # noqa: N806
    ReLU = need("core.activations", "ReLU")  # noqa: N806
    MSELoss = need("core.losses", "MSELoss")  # noqa: N806
    rng = seeded(10)
    layers = [Linear(4, 4) for _ in range(5)]
    h = leaf(Tensor, rng.standard_normal((3, 4)))
    for layer in layers:
        h = ReLU()(layer(h)) if layer is not layers[-1] else layer(h)
    MSELoss()(h, Tensor(rng.standard_normal((3, 4)).astype(np.float32))).backward()
    for i, layer in enumerate(layers):
        for name in ("weight", "bias"):
            g = grad_of(getattr(layer, name), f"layer {i} {name}")
            expect(np.abs(g).sum() > 0, what=f"layer {i} {name}.grad is all zeros",
                   why="a zero gradient means the chain broke before this layer (a detached "
                       "tensor, or an op whose backward returns zeros)",
                   fix=f"follow the gradient from the loss back to layer {i}: which op's "
                       "backward returns zeros?")


def _mlp(xp: Any, x: Any, w1: Any, b1: Any, w2: Any, b2: Any, y: Any) -> Any:
    return xp.mean((xp.relu(x @ w1 + b1) @ w2 + b2 - y) ** 2)


@check("06", "Tensor ops -> Linear -> ReLU -> MSE backward: gradients equal the oracle's")
def check_mlp_gradients_match_oracle(oracle: Any) -> None:
    Tensor = need("core.tensor", "Tensor")  # noqa: N806
    ReLU = need("core.activations", "ReLU")  # noqa: N806
    MSELoss = need("core.losses", "MSELoss")  # noqa: N806
    rng = seeded(11)
    values = [rng.standard_normal(s) for s in ((5, 3), (3, 4), (4,), (4, 2), (2,), (5, 2))]
    x, w1, b1, w2, b2, y = (leaf(Tensor, v) for v in values)
    y.requires_grad = False
    MSELoss()(ReLU()(x @ w1 + b1) @ w2 + b2, y).backward()
    expect_gradients({"x": x, "W1": w1, "b1 (broadcast over the batch)": b1, "W2": w2, "b2": b2},
                     oracle.gradients(_mlp, *values),
                     why="d loss / d input through matmul (dA = G @ B^T, dB = A^T @ G), the "
                         "bias add (summed over broadcast rows), ReLU (1 where x > 0) and MSE "
                         "(2 (pred - y) / N)",
                     fix="compare each backward with the rule: a transposed matmul operand, a "
                         "missing sum over the batch, or a ReLU mask taken from the wrong "
                         "tensor are the usual causes")


@check("06", "broadcast operands: gradient summed back to the operand's shape")
def check_broadcast_reduction(oracle: Any) -> None:
    Tensor = need("core.tensor", "Tensor")  # noqa: N806
    rng = seeded(12)
    values = [rng.standard_normal(s) for s in ((4, 3), (3,), (4, 1), (1, 3))]
    a, row, col, other = (leaf(Tensor, v) for v in values)
    ((a + row) * col - other).sum().backward()
    expect_gradients({"a (4,3)": a, "row (3,)": row, "col (4,1)": col, "other (1,3)": other},
                     oracle.gradients(lambda xp, a, r, c, o: xp.sum((a + r) * c - o), *values),
                     why="an operand that was broadcast receives the sum of the gradients of "
                         "all the copies it was stretched into, in its own shape",
                     fix="in backward, sum the gradient over the broadcast axes (leading axes, "
                         "and axes where the operand had size 1, keepdims) before storing it")


def _ops(xp: Any, x: Any, y: Any) -> Any:
    z = xp.exp(x * 0.5) + xp.log(y) + xp.tanh(x) * xp.sigmoid(y)
    return xp.sum(xp.softmax(z, axis=-1) * x) + xp.sum(xp.max(z, axis=1)) + xp.mean(z / y)


@check("06", "exp, log, tanh, sigmoid, softmax, max, mean, / -> backward equals the oracle")
def check_op_gradients(oracle: Any) -> None:
    Tensor = need("core.tensor", "Tensor")  # noqa: N806
    rng = seeded(13)
    xv, yv = rng.standard_normal((3, 4)), rng.uniform(0.5, 2.0, (3, 4))
    x, y = leaf(Tensor, xv), leaf(Tensor, yv)
    z = (x * 0.5).exp() + y.log() + x.tanh() * y.sigmoid()
    (((z.softmax(-1) if hasattr(z, "softmax") else _softmax(z)) * x).sum()
     + z.max(axis=1).sum() + (z / y).mean()).backward()
    expect_gradients({"x": x, "y": y}, oracle.gradients(_ops, xv, yv),
                     why="each op's backward multiplies the incoming gradient by its local "
                         "derivative (exp: out, log: 1/x, tanh: 1-out^2, sigmoid: out(1-out), "
                         "softmax: out * (g - sum(g*out)), max: 1 at the maximum)",
                     fix="test each op alone against finite differences to find the wrong one")


def _softmax(z: Any) -> Any:
    e = (z - z.max(axis=-1, keepdims=True)).exp()
    return e / e.sum(axis=-1, keepdims=True)


@check("06", "two backward passes without zero_grad: gradients accumulate (sum)")
def check_gradient_accumulation(oracle: Any) -> None:
    Tensor = need("core.tensor", "Tensor")  # noqa: N806
    x = leaf(Tensor, np.array([1.0, -2.0, 3.0]))
    for _ in range(2):
        (x * x).sum().backward()
    expect_close(grad_of(x, "x"), 2 * 2 * np.array([1.0, -2.0, 3.0]),
                 what="x.grad after backward() of sum(x*x) twice",
                 why="backward adds into .grad (so gradients of several losses or micro-batches "
                     "combine); an optimizer's zero_grad() is what clears it",
                 fix="accumulate: grad = grad + new (when grad is not None), never overwrite")


# --- 07 optimizers -----------------------------------------------------------------------------


def _steps(optimizer: Any, param: Any, grads: list[np.ndarray], Tensor: Any) -> None:  # noqa: N803 (a class)
    for g in grads:
        optimizer.zero_grad()
        (param * Tensor(g.astype(np.float32))).sum().backward()   # d/dp = g exactly
        optimizer.step()


def _optimizer_case(name: str, oracle: Any, **hyper: Any) -> None:
    Tensor = need("core.tensor", "Tensor")  # noqa: N806
    cls = need("core.optimizers", name)
    rng = seeded(20)
    start = rng.standard_normal((3, 2))
    grads = [rng.standard_normal((3, 2)) for _ in range(3)]
    param = leaf(Tensor, start)
    _steps(cls([param], **hyper), param, grads, Tensor)
    reference = oracle.sgd if name == "SGD" else oracle.adam
    setting = ", ".join(f"{k}={v}" for k, v in hyper.items())
    expect_close(arr(param), reference(start, grads, **hyper), rtol=1e-4, atol=1e-6,
                 what=f"the parameter after 3 steps of {name}({setting})",
                 why="SGD with momentum: v = momentum v + g, p -= lr v. Adam: m and v are "
                     "running averages of g and g^2, divided by (1 - beta^t) (bias "
                     "correction) before p -= lr m_hat / (sqrt(v_hat) + eps)",
                 fix=f"compare {name}.step with the formula step by step (t starts at 1, "
                     "buffers persist between steps, the update is applied in place)")


@check("07", "SGD(momentum=0.9) three steps -> reference update")
def check_sgd_momentum(oracle: Any) -> None:
    _optimizer_case("SGD", oracle, lr=0.1, momentum=0.9)


@check("07", "Adam three steps (bias correction) -> reference update")
def check_adam(oracle: Any) -> None:
    _optimizer_case("Adam", oracle, lr=0.01)


@check("07", "optimizer.zero_grad() -> next backward starts from zero")
def check_zero_grad(oracle: Any) -> None:
    Tensor = need("core.tensor", "Tensor")  # noqa: N806
    SGD = need("core.optimizers", "SGD")  # noqa: N806
    param = leaf(Tensor, np.array([1.0, 2.0]))
    optimizer = SGD([param], lr=0.1)
    for _ in range(3):
        (param * Tensor(np.array([1.0, 1.0], np.float32))).sum().backward()
        optimizer.step()
        optimizer.zero_grad()
    grad = getattr(param, "grad", None)
    expect(grad is None or not np.any(arr(grad)),
           what=f"after zero_grad() the gradient is {arr(grad) if grad is not None else None}",
           why="zero_grad clears every parameter's gradient; otherwise each step also applies "
               "all the previous gradients", fix="set p.grad = None (or zeros) for every param")
    expect_close(arr(param), [0.7, 1.7], what="the parameter after 3 SGD steps of gradient 1",
                 why="each step subtracts lr * (this step's gradient only)",
                 fix="clear gradients in zero_grad() and update p.data in place in step()")


# --- 08 training -------------------------------------------------------------------------------


def _xor() -> tuple[np.ndarray, np.ndarray]:
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    return x, np.array([0, 1, 1, 0])


@check("08", "DataLoader -> MLP -> CrossEntropy -> Adam loop: XOR loss falls, accuracy 100%")
def check_training_loop_learns(oracle: Any) -> None:
    Tensor = need("core.tensor", "Tensor")  # noqa: N806
    Linear, Sequential = need("core.layers", "Linear", "Sequential")  # noqa: N806
    Tanh = need("core.activations", "Tanh")  # noqa: N806
    x, y = _xor()
    model = Sequential(Linear(2, 8), Tanh(), Linear(8, 2))
    losses = learns(model, Tensor(x), y, steps=150, lr=0.05)
    accuracy = float(np.mean(arr(model(Tensor(x))).argmax(axis=1) == y))
    expect(losses[-1] < 0.25 * losses[0] and accuracy == 1.0,
           what=f"XOR loss went {losses[0]:.3f} -> {losses[-1]:.3f}, accuracy {accuracy:.2f} "
                "after 150 Adam steps",
           why="a 2-8-2 network learns XOR in far fewer steps when gradients flow and "
               "the optimizer updates the model's own parameters",
           fix="check that model.parameters() returns the tensors the layers use, that "
               "step() changes them in place, and that zero_grad() is honoured",
           expected="loss below a quarter of the start, accuracy 1.0",
           actual=f"{losses[-1]:.3f} (start {losses[0]:.3f}), accuracy {accuracy:.2f}")


@check("08", "Trainer.train_epoch / evaluate -> loss falls on a linear regression")
def check_trainer(oracle: Any) -> None:
    Tensor = need("core.tensor", "Tensor")  # noqa: N806
    Linear = need("core.layers", "Linear")  # noqa: N806
    MSELoss = need("core.losses", "MSELoss")  # noqa: N806
    SGD = need("core.optimizers", "SGD")  # noqa: N806
    TensorDataset, DataLoader = need("core.dataloader", "TensorDataset", "DataLoader")  # noqa: N806
    Trainer = need("core.training", "Trainer")  # noqa: N806
    rng = seeded(30)
    x = rng.standard_normal((64, 3)).astype(np.float32)
    y = (x @ np.array([[1.0], [-2.0], [0.5]]) + 0.3).astype(np.float32)
    loader = DataLoader(TensorDataset(Tensor(x), Tensor(y)), batch_size=16)
    model = Linear(3, 1)
    trainer = Trainer(model, SGD(model.parameters(), lr=0.1), MSELoss())
    first = trainer.evaluate(loader)[0]
    for _ in range(15):
        trainer.train_epoch(loader)
    last = trainer.evaluate(loader)[0]
    expect(float(last) < 0.05 * float(first),
           what=f"Trainer: evaluation loss {float(first):.4f} -> {float(last):.4f} after 15 "
                "epochs", expected=f"below {0.05 * float(first):.4f}", actual=f"{float(last):.4f}",
           why="on a noiseless linear target, SGD(lr=0.1) drives MSE close to zero",
           fix="in train_epoch: zero_grad, forward, loss, backward, step for every batch; "
               "evaluate returns (mean loss, accuracy) without updating anything")
