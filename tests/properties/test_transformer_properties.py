"""Properties of the language stack: GPT causality and content-dependent attention (hypothesis)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tinytorch.core.attention import MultiHeadAttention, scaled_dot_product_attention
from tinytorch.core.autograd import no_grad
from tinytorch.core.rng import manual_seed
from tinytorch.core.tensor import Tensor
from tinytorch.core.transformer import GPT

VOCAB, CONTEXT = 9, 10

manual_seed(1234)  # the shared model below is built once, reproducibly
_MODEL = GPT(VOCAB, 16, num_layers=2, num_heads=2, max_seq_len=CONTEXT)
_MODEL.eval()


@settings(max_examples=20, deadline=None)
@given(data=st.data(), length=st.integers(2, CONTEXT))
def test_gpt_is_causal(data: st.DataObject, length: int) -> None:
    """Changing tokens after position t leaves logits at 0..t unchanged and changes later ones."""
    tokens = np.array(data.draw(st.lists(st.integers(0, VOCAB - 1), min_size=length,
                                         max_size=length)))
    t = data.draw(st.integers(0, length - 2))
    changed = tokens.copy()
    changed[t + 1] = (changed[t + 1] + data.draw(st.integers(1, VOCAB - 1))) % VOCAB
    tail = data.draw(st.lists(st.integers(0, VOCAB - 1), min_size=length - t - 2,
                              max_size=length - t - 2))
    changed[t + 2:] = tail
    with no_grad():
        before = _MODEL(tokens[None]).data[0]
        after = _MODEL(changed[None]).data[0]
    np.testing.assert_array_equal(after[: t + 1], before[: t + 1])   # exactly: nothing leaks
    assert not np.allclose(after[t + 1], before[t + 1])              # the changed position moves


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**16), length=st.integers(2, 6))
def test_attention_weights_depend_on_content(seed: int, length: int) -> None:
    """Weights are the softmax of query-key similarity: a query equal to one strong key picks it."""
    rng = np.random.default_rng(seed)
    keys = rng.normal(size=(length, 8)).astype(np.float32)
    keys /= np.linalg.norm(keys, axis=-1, keepdims=True)
    target = int(rng.integers(0, length))
    query = 20.0 * keys[target : target + 1]              # aligned with one key, scaled up
    values = rng.normal(size=(length, 3)).astype(np.float32)
    out, weights = scaled_dot_product_attention(Tensor(query), Tensor(keys), Tensor(values))
    scores = (query @ keys.T)[0] / np.sqrt(8)
    assert int(np.argmax(weights.data[0])) == int(np.argmax(scores))
    expected = np.exp(scores - scores.max())
    np.testing.assert_allclose(weights.data[0], expected / expected.sum(), atol=1e-6)
    np.testing.assert_allclose(out.data[0], (expected / expected.sum()) @ values, atol=1e-5)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**16))
def test_multi_head_attention_weights_change_with_the_input(seed: int) -> None:
    """A trained-free layer still attends differently to different inputs (not uniformly)."""
    manual_seed(seed)
    mha = MultiHeadAttention(8, 2)
    mha.eval()
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(1, 5, 8)).astype(np.float32)
    mha(Tensor(x))
    first = mha.attention_weights.data.copy()
    mha(Tensor(x[:, ::-1].copy()))
    second = mha.attention_weights.data
    assert not np.allclose(first, 1.0 / 5.0, atol=1e-4)             # not uniform
    # reversing the sequence permutes both queries and keys: weights follow the content
    np.testing.assert_allclose(second, first[:, :, ::-1, ::-1], atol=1e-5)
