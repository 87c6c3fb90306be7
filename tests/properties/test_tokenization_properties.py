"""Property tests for module 10: round trips hold for any text the vocabulary covers."""

from __future__ import annotations

from collections import Counter
from functools import lru_cache
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from tinytorch.core.tokenization import BPETokenizer, CharTokenizer, pretokenize

TRAINING_TEXT = (
    "The quick brown fox, naïve and café-bound, jumps over 12 lazy dogs!\n"
    "  Indented line\twith a tab; snake_case_names and CamelCase.\n\n"
    "Unicode: 猫は可愛い — émigré façade 🐍🐍 ... end  \n"
) * 5
ALPHABET = sorted(set(TRAINING_TEXT))
SMALL_ALPHABET = "ab _.\n\té1"

covered_text = st.text(alphabet=st.sampled_from(ALPHABET), max_size=200)
small_text = st.text(alphabet=st.sampled_from(SMALL_ALPHABET), max_size=300)


@lru_cache(maxsize=1)
def trained_bpe() -> BPETokenizer:
    tok = BPETokenizer(vocab_size=300, special_tokens=("<PAD>", "<EOS>"))
    tok.train(TRAINING_TEXT)
    return tok


def recount_merges(text: str, n_merges: int) -> list[tuple[str, str]]:
    """Slow reference: recount all pairs before each merge; ties go to the smallest pair."""
    words = [list(piece) for piece in pretokenize(text)]
    merges: list[tuple[str, str]] = []
    while len(merges) < n_merges:
        counts = Counter(pair for word in words for pair in pairwise(word))
        best = min(counts, key=lambda pair: (-counts[pair], pair), default=None)
        if best is None or counts[best] < 2:
            break
        merges.append(best)
        for w, word in enumerate(words):
            i = 0
            while i + 1 < len(word):
                if (word[i], word[i + 1]) == best:
                    word[i:i + 2] = [word[i] + word[i + 1]]
                i += 1
            words[w] = word
    return merges


@settings(deadline=None, derandomize=True, max_examples=50)
@given(st.text(max_size=200))
def test_pretokenize_pieces_join_back_to_any_text(text: str) -> None:
    pieces = pretokenize(text)
    assert "".join(pieces) == text
    assert all(pieces)


@settings(deadline=None, derandomize=True, max_examples=50)
@given(st.text(max_size=200))
def test_char_round_trip_on_its_own_text(text: str) -> None:
    tok = CharTokenizer(special_tokens=("<BOS>",))
    tok.build_vocab(text)
    ids = tok.encode(text)
    assert len(ids) == len(text)
    assert tok.unk_id not in ids
    assert tok.decode(ids) == text
    assert tok.decode(ids, skip_special=True) == text


@settings(deadline=None, derandomize=True, max_examples=50)
@given(covered_text)
def test_bpe_round_trip_on_text_from_the_training_alphabet(text: str) -> None:
    tok = trained_bpe()
    ids = tok.encode(text)
    assert tok.unk_id not in ids
    assert all(0 <= i < tok.vocab_size for i in ids)
    assert len(ids) <= len(text)
    assert tok.decode(ids) == text
    assert tok.decode(ids, skip_special=True) == text


@settings(deadline=None, derandomize=True, max_examples=50)
@given(small_text, st.integers(0, 30))
def test_bpe_trained_on_any_text_matches_the_recount_reference(text: str, room: int) -> None:
    corpus = text * 3                           # repeats make pairs that occur more than once
    size = 1 + len(set(corpus)) + room          # UNK + characters + room for merges
    tok = BPETokenizer(vocab_size=size)
    tok.train(corpus)
    assert tok.vocab_size <= size
    full = tok.vocab_size == size               # when not full, training must have run dry
    assert tok.merges == recount_merges(corpus, len(tok.merges) + (0 if full else 1))
    assert tok.decode(tok.encode(corpus)) == corpus
    assert tok.decode(tok.encode(text)) == text
