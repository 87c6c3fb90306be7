"""A nanoGPT-style character model: as written against torch, and with the import swap."""

from __future__ import annotations

import math

import numpy as np
import pytest
from oracle_helpers import import_torch
from swap import copy_weights, dtype_name, grads_by_name, load_program, to_numpy

pytestmark = pytest.mark.oracle
torch = import_torch()


@pytest.fixture(scope="module")
def programs():
    return load_program("char_gpt", "torch"), load_program("char_gpt", "tinytorch")


def _fixed_batch(program, offset: int):
    """The same batch in both frameworks (get_batch draws from each one's own RNG)."""
    starts = [offset + 7 * i for i in range(4)]
    x = program.torch.stack([program.data[i:i + 16] for i in starts])
    y = program.torch.stack([program.data[i + 1:i + 17] for i in starts])
    return x, y


def test_data_and_vocabulary_are_identical(programs) -> None:
    theirs, ours = programs
    assert theirs.chars == ours.chars
    assert dtype_name(ours.data) == dtype_name(theirs.data) == "int64"
    np.testing.assert_array_equal(to_numpy(ours.data), to_numpy(theirs.data))
    x, y = ours.get_batch(4, 16)
    assert tuple(x.shape) == tuple(y.shape) == (4, 16) and dtype_name(x) == "int64"


def test_tied_weights_are_one_parameter_counted_once(programs) -> None:
    (t_model, _), (o_model, _) = (p.build() for p in programs)
    assert o_model.transformer.wte.weight is o_model.lm_head.weight
    assert [n for n, _ in o_model.named_parameters()] == [
        n for n, _ in t_model.named_parameters()]
    assert sum(p.numel() for p in o_model.parameters()) == sum(
        p.numel() for p in t_model.parameters())


def test_same_weights_give_the_same_loss_gradients_and_first_steps(programs) -> None:
    (t_model, t_opt), (o_model, o_opt) = (p.build() for p in programs)
    copy_weights(t_model, o_model)
    for step in range(3):
        (tx, ty), (ox, oy) = (_fixed_batch(p, 40 * step) for p in programs)
        t_logits, t_loss = t_model(tx, ty)
        o_logits, o_loss = o_model(ox, oy)
        np.testing.assert_allclose(to_numpy(o_logits), to_numpy(t_logits), atol=2e-5)
        assert o_loss.item() == pytest.approx(t_loss.item(), rel=1e-5)
        for opt, loss in ((t_opt, t_loss), (o_opt, o_loss)):
            opt.zero_grad(set_to_none=True)
            loss.backward()
        ours, theirs = grads_by_name(o_model), grads_by_name(t_model)
        for name in theirs:   # the tied matrix gets both uses' gradients, summed
            np.testing.assert_allclose(ours[name], theirs[name], atol=3e-5, err_msg=name)
        norms = [m.torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0).item()
                 for m, model in zip(programs, (t_model, o_model), strict=True)]
        assert norms[1] == pytest.approx(norms[0], rel=1e-4)
        t_opt.step()
        o_opt.step()
    wte = to_numpy(o_model.transformer.wte.weight).T       # ours is the head's (E, V)
    np.testing.assert_allclose(wte, to_numpy(t_model.transformer.wte.weight), atol=1e-5)


def test_training_learns_the_text_and_generation_works(programs) -> None:
    results = []
    for program in programs:
        model, optimizer = program.build()
        losses = program.train(model, optimizer, steps=120)
        model.eval()
        prompt = program.torch.tensor([program.encode("the quick ")], dtype=program.torch.long)
        program.torch.manual_seed(1)
        out = model.generate(prompt, max_new_tokens=20, top_k=3)
        results.append((np.mean(losses[:5]), np.mean(losses[-10:]), out))
    for first, last, out in results:
        assert first > math.log(27) - 0.3     # starts near uniform over the vocabulary
        assert last < 1.3                     # and learns the two sentences
        assert tuple(out.shape) == (1, 30) and dtype_name(out) == "int64"
    assert abs(results[0][1] - results[1][1]) < 0.35
