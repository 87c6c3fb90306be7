"""Knowledge distillation (module 16): a small student learns from a trained teacher's scores.

The teacher's logits, softened by a temperature T, say not only which class is right but how
much the others resemble it ("this 3 looks a bit like an 8"). The student is trained on

    loss = alpha * T^2 * KL(p_T || q_T) + (1 - alpha) * CE(student_logits, labels)

where p_T = softmax(teacher_logits / T) (fixed targets), q_T = softmax(student_logits / T),
and KL(p || q) = sum_c p_c (log p_c - log q_c), averaged over the batch. The T^2 factor
(Hinton et al., 2015) keeps the soft term's gradient the same size as the hard term's when T
changes: softening by T shrinks the soft gradients by 1 / T^2.

The teacher's logits enter as plain numbers: whatever graph they carry is cut, so the
teacher's parameters never receive a gradient from this loss.

Example:
    >>> from tinytorch.core.layers import Linear
    >>> kd = KnowledgeDistillation(Linear(4, 3), Linear(4, 3), temperature=2.0, alpha=0.5)
    >>> same = Tensor([[1.0, 2.0, 0.5]], requires_grad=True)
    >>> loss = kd.distillation_loss(same, Tensor([[1.0, 2.0, 0.5]]), [1])
    >>> round(loss.item(), 4)           # KL is 0, so only half the cross-entropy is left
    0.2322
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinytorch.core.autograd import no_grad
from tinytorch.core.errors import ConfigError, ShapeError, explain
from tinytorch.core.layers import Module
from tinytorch.core.losses import cross_entropy
from tinytorch.core.optimizers import Optimizer
from tinytorch.core.tensor import Tensor

Array = np.ndarray


def _log_softmax(logits: Array) -> Array:
    """Stable log-softmax over the last axis of a plain array."""
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


class KnowledgeDistillation:
    """Train ``student_model`` on a trained ``teacher_model``'s softened scores and the labels.

    Args:
        teacher_model: the trained model whose logits are the soft targets (never updated).
        student_model: the (smaller) model being trained.
        temperature: T > 0; larger T spreads the teacher's probability over more classes.
        alpha: the weight of the soft (teacher) term, in [0, 1]; 1 - alpha weights the labels.

    Raises:
        ConfigError: temperature not a positive finite number, or alpha outside [0, 1].
    """

    def __init__(self, teacher_model: Module, student_model: Module, temperature: float = 3.0,
                 alpha: float = 0.7) -> None:
        if not (isinstance(temperature, (int, float, np.floating)) and np.isfinite(temperature)
                and temperature > 0):
            raise ConfigError(explain(
                what=f"KnowledgeDistillation(temperature={temperature!r})",
                why="the logits are divided by the temperature, so it must be a positive number",
                fix="pass a value such as 3.0 (1.0 leaves the teacher's softmax unchanged)",
            ))
        if not (isinstance(alpha, (int, float, np.floating)) and 0.0 <= alpha <= 1.0):
            raise ConfigError(explain(
                what=f"KnowledgeDistillation(alpha={alpha!r}) is outside [0, 1]",
                why="alpha is the weight of the teacher's term and 1 - alpha that of the labels",
                fix="pass a value such as 0.7",
            ))
        self.teacher_model, self.student_model = teacher_model, student_model
        self.temperature, self.alpha = float(temperature), float(alpha)

    def distillation_loss(self, student_logits: Tensor, teacher_logits: Any,
                          labels: Any) -> Tensor:
        """alpha T^2 KL(teacher || student, batch mean) + (1 - alpha) CE(student, labels).

        Shapes:
            student_logits, teacher_logits: (N, C)    labels: (N,) class indices
            (or (N, C) class probabilities)    returns: a scalar Tensor

        Raises:
            ShapeError: the two logits differ in shape or are not (N, C).
        """
        student = student_logits if isinstance(student_logits, Tensor) else Tensor(
            student_logits)
        teacher = np.asarray(getattr(teacher_logits, "data", teacher_logits), dtype=np.float32)
        if student.ndim != 2 or teacher.shape != student.shape:
            raise ShapeError(explain(
                what=f"distillation_loss got student logits {student.shape} and teacher "
                     f"logits {teacher.shape}",
                why="the teacher scores the same classes for the same samples, (N, C) each",
                fix="run both models on the same batch; flatten any extra axes into N",
            ))
        t = self.temperature
        log_p = _log_softmax(teacher / np.float32(t))              # (N, C), constant
        p = np.exp(log_p)
        log_q = (student / t).log_softmax(-1)                      # (N, C), differentiable
        batch = student.shape[0]
        kl = (float(np.sum(p * log_p)) - (log_q * p).sum()) / batch
        hard = cross_entropy(student, labels)
        return kl * (self.alpha * t * t) + hard * (1.0 - self.alpha)

    def teacher_logits(self, inputs: Any) -> Tensor:
        """The teacher's logits for ``inputs``, in eval mode and without recording a graph."""
        was_training = self.teacher_model.training
        self.teacher_model.eval()
        try:
            with no_grad():
                return self.teacher_model(inputs)
        finally:
            self.teacher_model.train(was_training)

    def train_step(self, inputs: Any, labels: Any, optimizer: Optimizer) -> float:
        """One optimizer step of the student on the distillation loss; returns the loss."""
        soft = self.teacher_logits(inputs)
        optimizer.zero_grad()
        loss = self.distillation_loss(self.student_model(inputs), soft, labels)
        loss.backward()
        optimizer.step()
        return float(loss.item())


__all__ = ["KnowledgeDistillation"]
