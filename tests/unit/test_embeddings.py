"""Unit tests for module 11: Embedding, PositionalEncoding, sinusoids and EmbeddingLayer."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tinytorch.core.autograd import gradcheck
from tinytorch.core.embeddings import (
    Embedding,
    EmbeddingLayer,
    EmbeddingLookup,
    PositionalEncoding,
    create_sinusoidal_embeddings,
)
from tinytorch.core.errors import DTypeError, IndexOutOfRangeError, ShapeError, TinyTorchError
from tinytorch.core.tensor import Tensor


def test_embedding_forward_gathers_rows() -> None:
    emb = Embedding(6, 3)
    ids = np.array([[4, 0], [2, 4]])
    out = emb(ids)
    assert out.shape == (2, 2, 3)
    np.testing.assert_array_equal(out.data, emb.weight.data[ids])
    assert out.dtype == np.float32


def test_embedding_backward_scatter_adds_repeated_ids() -> None:
    emb = Embedding(5, 2)
    ids = Tensor([[1, 3, 1], [1, 0, 3]], dtype=np.int64)
    upstream = np.arange(12, dtype=np.float32).reshape(2, 3, 2)
    emb(ids).backward(upstream)
    expected = np.zeros((5, 2), dtype=np.float32)
    np.add.at(expected, ids.data, upstream)  # the definition, slow but obviously right
    np.testing.assert_allclose(emb.weight.grad.data, expected)
    # id 1 appears three times: rows 0+4+6 and 1+5+7 of the upstream gradient
    assert emb.weight.grad.data[1].tolist() == [0 + 4 + 6, 1 + 5 + 7]
    assert emb.weight.grad.data[2].tolist() == [0.0, 0.0]  # never looked up


def test_embedding_gradient_matches_numerical_gradient() -> None:
    ids = np.array([[0, 2, 2], [1, 2, 0]])
    weight = Tensor(np.random.default_rng(0).normal(size=(3, 4)), requires_grad=True)
    assert gradcheck(lambda w: EmbeddingLookup.apply(w, ids=ids), [weight])


def test_padding_idx_row_is_zero_and_gets_no_gradient() -> None:
    emb = Embedding(4, 3, padding_idx=0)
    assert emb.weight.data[0].tolist() == [0.0, 0.0, 0.0]
    emb(np.array([[0, 1, 0, 2]])).sum().backward()
    assert emb.weight.grad.data[0].tolist() == [0.0, 0.0, 0.0]
    assert emb.weight.grad.data[1].tolist() == [1.0, 1.0, 1.0]


def test_negative_padding_idx_counts_from_the_end() -> None:
    assert Embedding(4, 2, padding_idx=-1).padding_idx == 3


def test_integral_float_ids_are_accepted() -> None:
    emb = Embedding(5, 2)
    np.testing.assert_array_equal(emb(Tensor([1.0, 4.0])).data, emb.weight.data[[1, 4]])


def test_fractional_ids_raise_dtype_error() -> None:
    with pytest.raises(DTypeError, match="non-integer token ids"):
        Embedding(5, 2)(Tensor([1.5]))


@pytest.mark.parametrize("bad_id", [5, -1, 100])
def test_out_of_range_id_raises_three_part_error(bad_id: int) -> None:
    with pytest.raises(IndexOutOfRangeError) as info:
        Embedding(5, 2)(np.array([0, bad_id]))
    message = str(info.value)
    assert f"[{bad_id}]" in message and "vocabulary of size 5" in message
    assert "why:" in message and "fix:" in message
    assert isinstance(info.value, TinyTorchError) and isinstance(info.value, IndexError)


def test_positional_encoding_adds_learned_rows_and_is_a_parameter() -> None:
    pe = PositionalEncoding(8, 4)
    assert [name for name, _ in pe.named_parameters()] == ["position_embeddings"]
    x = Tensor(np.zeros((2, 3, 4)), requires_grad=True)
    out = pe(x)
    np.testing.assert_array_equal(out.data[1], pe.position_embeddings.data[:3])
    out.sum().backward()
    grad = pe.position_embeddings.grad.data
    assert grad[:3].tolist() == [[2.0] * 4] * 3 and grad[3:].sum() == 0.0  # batch of 2 summed


def test_positional_encoding_start_pos_offsets_positions() -> None:
    pe = PositionalEncoding(8, 2)
    out = pe(Tensor(np.zeros((1, 2, 2))), start_pos=5)
    np.testing.assert_array_equal(out.data[0], pe.position_embeddings.data[5:7])


def test_positional_encoding_rejects_too_long_sequence() -> None:
    with pytest.raises(ShapeError, match="max_seq_len=4"):
        PositionalEncoding(4, 2)(Tensor(np.zeros((1, 5, 2))))


def test_sinusoidal_values_follow_the_formula() -> None:
    pe = create_sinusoidal_embeddings(10, 6).data
    assert pe.shape == (10, 6) and pe.dtype == np.float32
    pos, i = 7, 1  # columns 2 and 3 share the rate 10000^(-2/6)
    rate = 10000.0 ** (-2 * i / 6)
    assert pe[pos, 2] == pytest.approx(math.sin(pos * rate), abs=1e-6)
    assert pe[pos, 3] == pytest.approx(math.cos(pos * rate), abs=1e-6)
    np.testing.assert_array_equal(pe[0, 0::2], 0.0)
    np.testing.assert_array_equal(pe[0, 1::2], 1.0)


def test_sinusoidal_odd_embed_dim_has_one_more_sine() -> None:
    pe = create_sinusoidal_embeddings(3, 5).data
    assert pe.shape == (3, 5)
    assert pe[2, 4] == pytest.approx(math.sin(2 * 10000.0 ** (-4 / 5)), abs=1e-6)


@pytest.mark.parametrize("kind", ["learned", "sinusoidal", None])
def test_embedding_layer_combines_token_and_position(kind: str | None) -> None:
    layer = EmbeddingLayer(10, 4, max_seq_len=6, pos_encoding=kind)
    tokens = np.array([[3, 1, 3]])
    out = layer(tokens).data
    token_vectors = layer.token_embedding.weight.data[tokens]
    if kind == "learned":
        expected = token_vectors + layer.pos_encoding.position_embeddings.data[:3]
    elif kind == "sinusoidal":
        expected = token_vectors + create_sinusoidal_embeddings(6, 4).data[:3]
    else:
        expected = token_vectors
    np.testing.assert_allclose(out, expected, rtol=1e-6)


def test_embedding_layer_scales_tokens_by_sqrt_dim() -> None:
    layer = EmbeddingLayer(10, 16, pos_encoding=None, scale_embeddings=True)
    np.testing.assert_allclose(layer([2]).data, 4.0 * layer.token_embedding.weight.data[[2]],
                               rtol=1e-6)


def test_embedding_layer_learned_parameters_are_found() -> None:
    layer = EmbeddingLayer(10, 4, max_seq_len=6)
    names = [name for name, _ in layer.named_parameters()]
    assert names == ["token_embedding.weight", "pos_encoding.position_embeddings"]
    sinusoidal = EmbeddingLayer(10, 4, max_seq_len=6, pos_encoding="sinusoidal")
    assert [n for n, _ in sinusoidal.named_parameters()] == ["token_embedding.weight"]
    assert "sinusoidal_table" in sinusoidal.state_dict()


def test_embedding_layer_rejects_unknown_encoding() -> None:
    with pytest.raises(ValueError, match="pos_encoding='rotary'"):
        EmbeddingLayer(10, 4, pos_encoding="rotary")


def test_upstream_text_paths_reexport_the_same_classes() -> None:
    from tinytorch.text import embeddings as text_embeddings

    assert text_embeddings.Embedding is Embedding
    assert text_embeddings.create_sinusoidal_embeddings is create_sinusoidal_embeddings
