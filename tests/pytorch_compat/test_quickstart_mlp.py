"""The PyTorch quickstart MLP: as written against torch, and with `import tinytorch as torch`."""

from __future__ import annotations

import numpy as np
import pytest
from oracle_helpers import import_torch
from swap import copy_weights, dtype_name, load_program, to_numpy

pytestmark = pytest.mark.oracle
import_torch()


@pytest.fixture(scope="module")
def programs():
    return load_program("quickstart_mlp", "torch"), load_program("quickstart_mlp", "tinytorch")


def test_data_batches_are_identical(programs) -> None:
    theirs, ours = (p.DataLoader(p.make_data(100, 0), batch_size=64) for p in programs)
    assert len(theirs) == len(ours) == 2
    for (tx, ty), (ox, oy) in zip(theirs, ours, strict=True):
        assert tuple(tx.shape) == tuple(ox.shape) and dtype_name(tx) == dtype_name(ox)
        assert dtype_name(ty) == dtype_name(oy) == "int64"
        np.testing.assert_array_equal(to_numpy(tx), to_numpy(ox))
        np.testing.assert_array_equal(to_numpy(ty), to_numpy(oy))


def test_same_weights_give_the_same_forward_and_the_same_first_steps(programs) -> None:
    (t_model, t_loss, t_opt), (o_model, o_loss, o_opt) = (p.build() for p in programs)
    assert [n for n, _ in o_model.named_parameters()] == [
        n for n, _ in t_model.named_parameters()]
    assert sum(p.numel() for p in o_model.parameters()) == sum(
        p.numel() for p in t_model.parameters())
    copy_weights(t_model, o_model)
    loaders = [p.DataLoader(p.make_data(192, 0), batch_size=64) for p in programs]
    batch = next(iter(loaders[1]))[0]
    np.testing.assert_allclose(to_numpy(o_model(batch)),
                               to_numpy(t_model(next(iter(loaders[0]))[0])), atol=1e-5)
    t_losses = programs[0].train(loaders[0], t_model, t_loss, t_opt)
    o_losses = programs[1].train(loaders[1], o_model, o_loss, o_opt)
    np.testing.assert_allclose(o_losses, t_losses, rtol=1e-4)
    for name, p in t_model.named_parameters():
        ours = dict(o_model.named_parameters())[name]
        expected = to_numpy(p).T if to_numpy(p).ndim == 2 else to_numpy(p)
        np.testing.assert_allclose(to_numpy(ours), expected, atol=1e-5, err_msg=name)
    assert all(p.grad is None for p in o_model.parameters())   # zero_grad(set_to_none=True)
    assert all(p.grad is None for p in t_model.parameters())


def test_training_reaches_the_same_outcome(programs) -> None:
    (t_loss, t_acc), (o_loss, o_acc) = (p.main() for p in programs)
    assert t_acc > 0.9 and o_acc > 0.9
    assert abs(o_acc - t_acc) < 0.06 and o_loss < 2 * t_loss + 0.1
