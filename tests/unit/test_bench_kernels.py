"""The kernel workloads time the same computation in both frameworks: equal gradients."""

from __future__ import annotations

import numpy as np
import pytest
from oracle_helpers import import_torch, to_numpy

from benchmarks import workloads_kernels as kernels


@pytest.mark.parametrize("name", ["layernorm", "attention"])
def test_kernel_workloads_give_torch_s_gradients(name: str) -> None:
    import_torch()
    ours = getattr(kernels, f"{name}_tinytorch")()()
    theirs = getattr(kernels, f"{name}_torch")()()
    assert len(ours) == len(theirs) >= 1
    for mine, reference in zip(ours, theirs, strict=True):
        expected = to_numpy(reference)
        assert np.abs(expected).max() > 0.01                   # a real gradient, not zeros
        np.testing.assert_allclose(to_numpy(mine), expected, rtol=1e-4, atol=2e-5)


def test_kernel_workloads_are_registered_at_the_gpt_shapes() -> None:
    names = [w.name for w in kernels.WORKLOADS]
    assert names == ["layernorm_fwd_bwd", "attention_fwd_bwd"]
    q, k, v = kernels._attention_arrays()[0]
    assert q.shape == (16, 4, 64, 32) and not q.flags.c_contiguous   # the heads as a view
