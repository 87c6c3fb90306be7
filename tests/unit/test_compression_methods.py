"""Sparse storage, low rank and distillation (module 16): bytes, values and gradients.

Each claim is asserted as a number: CSR bytes are the three arrays' ``nbytes``; the sparse
matmul equals the dense one; the SVD error equals its closed form; the distillation loss and
its gradient equal the same definition computed by PyTorch.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from oracle_helpers import import_torch

from tinytorch.core.activations import ReLU
from tinytorch.core.errors import ConfigError, ShapeError
from tinytorch.core.layers import Linear, Sequential
from tinytorch.core.optimizers import SGD
from tinytorch.core.tensor import Tensor
from tinytorch.perf.compression import (
    CSRMatrix,
    KnowledgeDistillation,
    LowRankLinear,
    SparseLinear,
    low_rank_approximate,
    magnitude_prune,
)


def sparse_matrix(shape: tuple[int, int], sparsity: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    dense = rng.normal(size=shape).astype(np.float32)
    dense[rng.random(shape) < sparsity] = 0.0
    return dense


# --- CSR ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("sparsity", [0.0, 0.5, 0.9, 0.99, 1.0])
def test_csr_matmul_equals_dense_matmul(sparsity: float) -> None:
    a = sparse_matrix((40, 30), sparsity)
    a[[3, 7]] = 0.0                                # empty rows: the segment sum must skip them
    b = np.random.default_rng(1).normal(size=(30, 9)).astype(np.float32)
    csr = CSRMatrix.from_dense(a)
    np.testing.assert_allclose(csr.matmul(b), a @ b, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(csr @ b[:, 0], a @ b[:, 0], rtol=1e-5, atol=1e-5)
    assert np.array_equal(csr.to_dense(), a)
    assert csr.matmul(b).dtype == np.float32


def test_csr_matmul_in_column_blocks_equals_dense() -> None:
    a = sparse_matrix((700, 400), 0.0)            # 280k stored values: one column per block
    b = np.random.default_rng(1).normal(size=(400, 5)).astype(np.float32)
    np.testing.assert_allclose(CSRMatrix.from_dense(a).matmul(b), a @ b, rtol=1e-4, atol=1e-4)


def test_csr_layout_and_bytes_are_the_three_arrays() -> None:
    a = np.array([[0, 5, 0, 0], [0, 0, 0, 0], [7, 0, 0, 9]], dtype=np.float32)
    csr = CSRMatrix.from_dense(a)
    assert csr.data.tolist() == [5.0, 7.0, 9.0]
    assert csr.indices.tolist() == [1, 0, 3]
    assert csr.indptr.tolist() == [0, 1, 1, 3]
    assert (csr.data.dtype, csr.indices.dtype) == (np.float32, np.int32)
    assert csr.nbytes == 3 * 4 + 3 * 4 + 4 * 4 == csr.data.nbytes + csr.indices.nbytes + \
        csr.indptr.nbytes
    assert csr.dense_nbytes == a.nbytes == 48


def test_csr_saves_memory_only_beyond_half_sparsity() -> None:
    at_40 = CSRMatrix.from_dense(sparse_matrix((200, 200), 0.4))
    at_90 = CSRMatrix.from_dense(sparse_matrix((200, 200), 0.9))
    assert at_40.nbytes > at_40.dense_nbytes       # each value brings a 4-byte index
    assert at_90.dense_nbytes / at_90.nbytes > 4.5


def test_sparse_linear_matches_the_pruned_linear() -> None:
    layer = magnitude_prune(Linear(20, 7), sparsity=0.9)
    layer.bias.data[...] = np.arange(7, dtype=np.float32)
    sparse = SparseLinear.from_linear(layer)
    x = np.random.default_rng(2).normal(size=(3, 5, 20)).astype(np.float32)
    np.testing.assert_allclose(sparse(Tensor(x)).data, layer(Tensor(x)).data,
                               rtol=1e-5, atol=1e-5)
    assert sparse.weight_csr.nnz == 14 and sparse.nbytes < layer.weight.data.nbytes


def test_csr_shape_errors_are_explained() -> None:
    with pytest.raises(ShapeError, match=r"(?s)shape \(2, 2, 2\).*why:.*fix:"):
        CSRMatrix.from_dense(np.ones((2, 2, 2)))
    with pytest.raises(ShapeError, match=r"(?s)shape \(2, 3\) @.*why:.*needs 3 rows.*fix:"):
        CSRMatrix.from_dense(np.ones((2, 3))).matmul(np.ones((2, 2)))


# --- low rank ----------------------------------------------------------------------------------


def test_low_rank_error_is_the_dropped_singular_values_and_falls_with_rank() -> None:
    w = np.random.default_rng(0).normal(size=(30, 20)).astype(np.float32)
    singular = np.linalg.svd(w.astype(np.float64), compute_uv=False)
    errors = []
    for ratio in (0.1, 0.25, 0.5, 0.75, 1.0):
        approx = low_rank_approximate(w, ratio)
        k = max(1, int(ratio * 20))
        measured = np.linalg.norm(w - approx.reconstruct()) / np.linalg.norm(w)
        expected = np.sqrt(np.sum(singular[k:] ** 2) / np.sum(singular ** 2))
        assert approx.rank == k
        assert approx.relative_error == pytest.approx(expected, abs=1e-6)
        assert measured == pytest.approx(expected, abs=1e-5)
        errors.append(approx.relative_error)
    assert np.all(np.diff(errors) < 0) and errors[-1] < 1e-6


def test_low_rank_unpacks_as_upstream_u_s_v() -> None:
    u, s, v = low_rank_approximate(np.eye(6, 4), rank_ratio=0.5)
    assert (u.shape, s.shape, v.shape) == ((6, 2), (2,), (2, 4))


def test_low_rank_linear_reproduces_the_factored_weight_and_trains() -> None:
    layer = Linear(12, 8)
    low = LowRankLinear.from_linear(layer, rank_ratio=0.5)
    approx = low_rank_approximate(layer.weight.data, 0.5)
    x = np.random.default_rng(3).normal(size=(5, 12)).astype(np.float32)
    np.testing.assert_allclose(low(Tensor(x)).data, x @ approx.reconstruct() + layer.bias.data,
                               rtol=1e-4, atol=1e-5)
    assert low.reconstruction_error == pytest.approx(approx.relative_error)
    assert low.num_parameters() == 4 * (12 + 8) + 8
    (low(Tensor(x)) ** 2).sum().backward()
    assert all(np.count_nonzero(p.grad.data) > 0 for p in low.parameters())


@pytest.mark.parametrize("bad", [0.0, -0.5, 1.5, "half", True])
def test_rank_ratio_out_of_range_is_refused(bad: Any) -> None:
    with pytest.raises(ConfigError, match=r"(?s)rank_ratio.*why:.*fix:"):
        low_rank_approximate(np.ones((4, 4)), bad)


def test_low_rank_of_a_vector_is_refused() -> None:
    with pytest.raises(ShapeError, match=r"(?s)shape \(4,\).*why:.*fix:"):
        low_rank_approximate(np.ones(4))


# --- distillation ------------------------------------------------------------------------------


def _torch_distillation(student: np.ndarray, teacher: np.ndarray, labels: np.ndarray,
                        temperature: float, alpha: float) -> tuple[float, np.ndarray]:
    """The definition, written independently in PyTorch: loss value and d loss / d student."""
    torch = import_torch()
    tf = torch.nn.functional
    s = torch.tensor(student, dtype=torch.float64, requires_grad=True)
    t = torch.tensor(teacher, dtype=torch.float64)
    soft = tf.kl_div(tf.log_softmax(s / temperature, dim=1), tf.softmax(t / temperature, dim=1),
                     reduction="batchmean")
    hard = tf.cross_entropy(s, torch.tensor(labels))
    loss = alpha * temperature ** 2 * soft + (1 - alpha) * hard
    loss.backward()
    return float(loss.detach()), s.grad.numpy()


@pytest.mark.oracle
@pytest.mark.parametrize(("temperature", "alpha"), [(3.0, 0.7), (1.0, 0.5), (5.0, 1.0),
                                                    (2.0, 0.0)])
def test_distillation_loss_and_gradient_equal_the_definition(temperature: float,
                                                             alpha: float) -> None:
    rng = np.random.default_rng(4)
    student = rng.normal(size=(6, 5)).astype(np.float32) * 3
    teacher = rng.normal(size=(6, 5)).astype(np.float32) * 3
    labels = rng.integers(0, 5, size=6)
    kd = KnowledgeDistillation(Linear(2, 5), Linear(2, 5), temperature, alpha)
    logits = Tensor(student, requires_grad=True)
    loss = kd.distillation_loss(logits, Tensor(teacher), labels)
    loss.backward()
    value, grad = _torch_distillation(student, teacher, labels, temperature, alpha)
    assert loss.item() == pytest.approx(value, rel=1e-5, abs=1e-6)
    np.testing.assert_allclose(logits.grad.data, grad, rtol=1e-4, atol=1e-6)


def test_gradient_reaches_the_student_and_never_the_teacher() -> None:
    teacher = Sequential(Linear(4, 16), ReLU(), Linear(16, 3))
    student = Sequential(Linear(4, 3))
    kd = KnowledgeDistillation(teacher, student)
    x = Tensor(np.random.default_rng(5).normal(size=(8, 4)).astype(np.float32))
    teacher_out = teacher(x)                       # recorded with a graph on purpose
    loss = kd.distillation_loss(student(x), teacher_out, np.arange(8) % 3)
    loss.backward()
    assert all(p.grad is None for p in teacher.parameters())
    assert all(np.count_nonzero(p.grad.data) > 0 for p in student.parameters())


def test_distillation_train_step_lowers_the_loss_and_leaves_the_teacher() -> None:
    teacher = Sequential(Linear(4, 16), ReLU(), Linear(16, 3))
    student = Sequential(Linear(4, 3))
    frozen = [p.data.copy() for p in teacher.parameters()]
    kd = KnowledgeDistillation(teacher, student, temperature=2.0)
    x = np.random.default_rng(6).normal(size=(16, 4)).astype(np.float32)
    labels = np.arange(16) % 3
    optimizer = SGD(student.parameters(), lr=0.1)
    losses = [kd.train_step(Tensor(x), labels, optimizer) for _ in range(30)]
    assert losses[-1] < 0.8 * losses[0]
    assert all(np.array_equal(p.data, f) for p, f in zip(teacher.parameters(), frozen,
                                                         strict=True))


@pytest.mark.parametrize(("kwargs", "word"), [({"temperature": 0.0}, "temperature"),
                                              ({"temperature": float("inf")}, "temperature"),
                                              ({"alpha": 1.5}, "alpha"),
                                              ({"alpha": -0.1}, "alpha")])
def test_bad_distillation_settings_are_refused(kwargs: dict[str, float], word: str) -> None:
    with pytest.raises(ConfigError, match=rf"(?s){word}.*why:.*fix:"):
        KnowledgeDistillation(Linear(2, 2), Linear(2, 2), **kwargs)


def test_mismatched_logits_are_refused() -> None:
    kd = KnowledgeDistillation(Linear(2, 3), Linear(2, 4))
    with pytest.raises(ShapeError, match=r"(?s)\(2, 4\).*\(2, 3\).*why:.*fix:"):
        kd.distillation_loss(Tensor(np.zeros((2, 4))), Tensor(np.zeros((2, 3))), [0, 1])
