"""The PyTorch Module habits: apply, to, buffers, requires_grad_, ModuleDict, weight tying."""

from __future__ import annotations

import numpy as np
import pytest

from tinytorch import nn
from tinytorch.core.errors import ShapeError
from tinytorch.core.optimizers import SGD
from tinytorch.core.tensor import Parameter, Tensor


def _net() -> nn.Module:
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2))


def test_apply_visits_children_before_their_parent() -> None:
    net = _net()
    seen: list[str] = []
    assert net.apply(lambda m: seen.append(type(m).__name__)) is net
    assert seen == ["Linear", "BatchNorm1d", "Linear", "Sequential"]


def test_apply_is_how_programs_initialise_weights() -> None:
    def init(m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            nn.init.zeros_(m.weight)
            nn.init.constant_(m.bias, 0.25)

    net = _net().apply(init)
    assert not net[0].weight.data.any() and net[3].bias.tolist() == [0.25, 0.25]


def test_to_casts_floating_parameters_and_buffers_keeping_their_identity() -> None:
    net = _net()
    params = net.parameters()
    opt = SGD(params, lr=0.1)
    assert net.to(np.float64) is net
    assert [p.dtype for p in net.parameters()] == [np.float64] * len(params)
    assert all(a is b for a, b in zip(net.parameters(), params, strict=True))
    assert opt.params[0] is net[0].weight
    buffers = dict(net.named_buffers())
    assert buffers["1.running_mean"].dtype == np.float64
    assert buffers["1.num_batches_tracked"].dtype.kind == "i"    # integers stay integers
    assert net(Tensor(np.ones((2, 3)), dtype=np.float64)).dtype == np.float64


def test_to_a_device_is_an_honest_no_op_on_cpu_and_refuses_a_gpu() -> None:
    net = _net()
    before = [p.data for p in net.parameters()]
    assert net.to("cpu") is net and net.to("cpu:0", np.float32) is net
    assert all(p.data is b for p, b in zip(net.parameters(), before, strict=True))
    with pytest.raises(ValueError, match="device") as info:
        net.to("cuda")
    assert "fix:" in str(info.value)


def test_buffers_and_requires_grad_() -> None:
    net = _net()
    assert len(list(net.buffers())) == 3
    net.requires_grad_(False)
    assert not any(p.requires_grad for p in net.parameters())
    net[3].requires_grad_()
    assert [p.requires_grad for p in net.parameters()] == [False] * 4 + [True] * 2


def test_module_dict_names_parameters_by_key_and_acts_like_a_dict() -> None:
    heads = nn.ModuleDict({"cls": nn.Linear(4, 3)})
    heads["box"] = nn.Linear(4, 2)
    assert list(heads) == ["cls", "box"] and "box" in heads and len(heads) == 2
    assert [n for n, _ in heads.named_parameters()] == ["cls.weight", "cls.bias", "box.weight",
                                                        "box.bias"]
    assert set(heads.state_dict()) == {"cls.weight", "cls.bias", "box.weight", "box.bias"}
    assert [type(m).__name__ for m in heads.values()] == ["Linear", "Linear"]


def test_tying_two_linears_of_equal_shape_shares_one_parameter() -> None:
    a, b = nn.Linear(3, 3), nn.Linear(3, 3)
    b.weight = a.weight
    assert b.weight is a.weight and b.matrix() is a.weight   # same layout: no transpose
    assert len(nn.ModuleList([a, b]).parameters()) == 3


@pytest.mark.parametrize(("target", "source"), [
    (lambda: nn.Embedding(5, 3), lambda: nn.Linear(3, 4)),   # nanoGPT with mismatched sizes
    (lambda: nn.Linear(3, 5), lambda: nn.Embedding(3, 5)),   # head from the wrong embedding
    (lambda: nn.Linear(2, 3), lambda: nn.Linear(3, 2)),      # two Linears the other way round
])
def test_tying_that_cannot_fit_is_refused_at_the_assignment(target, source) -> None:  # noqa: ANN001
    receiver, giver = target(), source()
    before = receiver.weight
    with pytest.raises(ShapeError) as info:
        receiver.weight = giver.weight
    assert "was assigned a tensor of shape" in str(info.value) and "fix:" in str(info.value)
    assert receiver.weight is before                          # nothing changed


def test_a_square_embedding_tied_into_a_linear_is_used_transposed_not_silently_as_is() -> None:
    wte, head = nn.Embedding(4, 4), nn.Linear(4, 4, bias=False)
    head.weight = wte.weight
    x = Tensor(np.eye(4, dtype=np.float32)[:2])
    np.testing.assert_allclose(head(x).data, x.data @ wte.weight.data.T, rtol=1e-6)


def test_assigning_a_non_tensor_weight_is_refused() -> None:
    with pytest.raises(TypeError, match="Parameter"):
        nn.Linear(2, 2).weight = np.zeros((2, 2))


def test_plain_parameter_assignment_keeps_working_in_the_layers_own_layout() -> None:
    layer = nn.Linear(3, 2)
    replacement = Parameter(np.ones((3, 2), dtype=np.float32))
    layer.weight = replacement
    assert layer.weights is replacement
    assert layer(Tensor(np.ones((1, 3)))).tolist() == [[3.0, 3.0]]


def test_module_zero_grad_can_keep_zeroed_arrays() -> None:
    layer = nn.Linear(2, 2)
    layer(Tensor(np.ones((1, 2)))).sum().backward()
    grad = layer.weight.grad
    layer.zero_grad(set_to_none=False)
    assert layer.weight.grad is grad and not grad.data.any()
    layer.zero_grad()
    assert layer.weight.grad is None
