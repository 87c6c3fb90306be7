"""The composed nanoGPT of the benchmarks against its PyTorch twin: loss, gradients, two steps.

The benchmark compares the speed of two models; this test makes sure they are the same model
(a speed ratio between different computations would mean nothing) and that a GPT written from
tinytorch's public ops trains exactly like PyTorch's.
"""

from __future__ import annotations

import numpy as np
import pytest
from oracle_helpers import import_torch

from benchmarks import workloads_nanogpt as nano
from benchmarks.workloads_gpt import LR

torch = import_torch()
pytestmark = pytest.mark.oracle


def test_composed_nanogpt_matches_pytorch_loss_gradients_and_adamw_steps() -> None:
    from tinytorch import optim
    from tinytorch.nn import functional

    ours, theirs = nano.build_tinytorch_model(), nano.build_torch_model(torch)
    ours_opt = optim.AdamW(ours.parameters(), lr=LR)
    theirs_opt = torch.optim.AdamW(theirs.parameters(), lr=LR)
    inputs, targets = nano._batch()
    theirs_params = dict(theirs.named_parameters())
    for _ in range(2):
        ours_opt.zero_grad()
        theirs_opt.zero_grad()
        loss = functional.cross_entropy(ours(inputs).reshape(-1, nano.VOCAB), targets.reshape(-1))
        expected = torch.nn.functional.cross_entropy(
            theirs(torch.from_numpy(inputs)).view(-1, nano.VOCAB),
            torch.from_numpy(targets).reshape(-1))
        loss.backward()
        expected.backward()
        np.testing.assert_allclose(loss.item(), expected.item(), rtol=1e-5)
        for name, p in ours.named_parameters():
            grad = theirs_params[name].grad.numpy()
            grad = grad.T if p.ndim == 2 and "wte" not in name and "wpe" not in name else grad
            np.testing.assert_allclose(p.grad.data, grad, atol=2e-6, rtol=1e-3, err_msg=name)
        ours_opt.step()
        theirs_opt.step()
