"""Milestone 05 (2017): attention learns to reverse sequences, then a TinyGPT learns to answer.

Part (a): a small GPT reads ``digits SEP`` and must write the digits in reverse order. Each
output position has to *look up* one particular input position, which is exactly what
attention does; the check is exact-sequence accuracy of greedy generation on unseen inputs.

Part (b): a character-level TinyGPT trains on the shipped question/answer corpus, with one
pair in ten held out. Its validation loss (mean cross-entropy per character, in nats) must
fall below a stated bound, and it answers a few held-out questions.

Run it alone with ``python -m tinytorch.milestones.transformer [--quick]``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import numpy as np

from tinytorch.core.autograd import no_grad
from tinytorch.core.losses import CrossEntropyLoss
from tinytorch.core.optimizers import Adam, AdamW
from tinytorch.core.progress import Progress
from tinytorch.core.rng import get_rng
from tinytorch.core.tokenization import CharTokenizer
from tinytorch.core.transformer import GPT
from tinytorch.data import load_corpus, load_qa_pairs
from tinytorch.milestones.report import (
    Check,
    MilestoneResult,
    MilestoneRun,
    cosine,
    say,
)

ID, NAME, YEAR = "05", "transformer", 2017
TITLE = "Attention is all you need"
REVERSAL_TARGET, REVERSAL_QUICK_TARGET = 0.95, 0.95  # exact-sequence accuracy
# Validation-loss bounds in nats per character (a uniform guess scores ln 73 = 4.29, a
# letter-frequency model about 3.2). Measured with GPT_SETTINGS below, seeds 0-2: the full
# run ends at 1.02-1.05 and the quick run at 1.32-1.34, so each bound leaves about 0.1 of
# headroom for other BLAS libraries and seeds.
VAL_LOSS_BOUND, VAL_LOSS_QUICK_BOUND = 1.15, 1.45
STORY = (
    "Vaswani and colleagues replaced recurrence with attention: every position looks directly "
    "at every other one it is allowed to see, in parallel. That made training fast on modern "
    "hardware and scaled into the GPT models behind today's language tools."
)
SHOWS = (
    "(a) A GPT learns to reverse digit sequences, a task that needs each output to look up one "
    "input position. Target: >= 95% of unseen sequences reversed exactly. (b) A character-level "
    "TinyGPT learns the shipped question/answer corpus; its loss on held-out pairs must fall "
    "below a stated bound, and it answers a few held-out questions."
)


@dataclass(frozen=True)
class Settings:
    """Sizes and training length of one part of the milestone."""

    embed_dim: int
    num_layers: int
    num_heads: int
    steps: int
    batch_size: int
    lr: float
    seq_len: int  # digits to reverse (a) or context window in characters (b)
    dropout: float = 0.0


# quick mode trains smaller models for fewer steps; see the bounds above for what each reaches
REVERSAL = {False: Settings(48, 2, 4, steps=200, batch_size=64, lr=3e-3, seq_len=8),
            True: Settings(32, 1, 4, steps=100, batch_size=64, lr=5e-3, seq_len=6)}
# dropout: the corpus is small (about 32,000 training characters), and without it the
# validation loss turns back up after about 700 steps while the training loss keeps falling
GPT_SETTINGS = {False: Settings(64, 2, 4, steps=1000, batch_size=32, lr=5e-3, seq_len=64,
                                dropout=0.1),
                True: Settings(48, 2, 4, steps=300, batch_size=32, lr=5e-3, seq_len=48)}
SEP = 10  # the separator token of part (a); digits are 0..9
HELD_OUT_EVERY = 10  # one question/answer pair in ten is held out for validation
SPLIT_SEED = 2017  # the held-out pairs are the same for every run, so losses are comparable


# --------------------------------------------------------------------------- (a) reversal


def reversal_batch(n: int, length: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` rows of ``digits SEP reversed-digits``: shape (n, 2 * length + 1), int64."""
    digits = rng.integers(0, 10, size=(n, length))
    separator = np.full((n, 1), SEP)
    return np.concatenate([digits, separator, digits[:, ::-1]], axis=1).astype(np.int64)


def train_reversal(quick: bool, out: TextIO) -> tuple[float, list[float]]:
    """Train the reversal GPT; return (exact-sequence accuracy on 1000 unseen rows, losses)."""
    cfg = REVERSAL[quick]
    length, rng = cfg.seq_len, get_rng()
    say(out, f"(a) reversal: {length} digits, then SEP, then the same digits reversed; "
             f"GPT(embed {cfg.embed_dim}, {cfg.num_layers} layer(s), {cfg.num_heads} heads)")
    model = GPT(SEP + 1, cfg.embed_dim, cfg.num_layers, cfg.num_heads, max_seq_len=2 * length)
    optimizer, loss_fn = Adam(model.parameters(), lr=cfg.lr), CrossEntropyLoss()
    schedule, losses = cosine(cfg.lr, cfg.steps), []
    with Progress(cfg.steps, "reverse", out) as bar:
        for step in range(cfg.steps):
            optimizer.lr = schedule(step)
            rows = reversal_batch(cfg.batch_size, length, rng)      # (B, 2L + 1)
            logits = model(rows[:, :-1])                            # (B, 2L, V)
            # only the answer is learned: positions L.. predict the reversed digits
            loss = loss_fn(logits[:, length:], rows[:, length + 1:])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(float(loss.item()))
            bar.update(1, loss=losses[-1])
    test = reversal_batch(1000, length, rng)
    written = model.generate(test[:, :length + 1], max_new_tokens=length, temperature=0)
    answers = written.data[:, length + 1:]                          # (1000, L)
    exact = float((answers == test[:, length + 1:]).all(axis=1).mean())
    for row, answer in zip(test[:3], answers[:3], strict=True):
        say(out, f"   {_digits(row[:length])} -> {_digits(answer)}  "
                 f"({'right' if (answer == row[length + 1:]).all() else 'wrong'})")
    return exact, losses


def _digits(ids: np.ndarray) -> str:
    return " ".join(str(int(i)) for i in ids)


# --------------------------------------------------------------------------- (b) TinyGPT


@dataclass
class CorpusSplit:
    """The corpus as training and validation text, one pair in ten held out (fixed choice)."""

    train_text: str
    val_text: str
    train_pairs: list[tuple[str, str]]
    held_out: list[tuple[str, str]]


def split_corpus() -> CorpusSplit:
    """Split the shipped question/answer pairs; the same split for every run and seed."""
    pairs = load_qa_pairs()
    order = np.random.default_rng(SPLIT_SEED).permutation(len(pairs))
    held = {int(i) for i in order[:len(pairs) // HELD_OUT_EVERY]}
    train = [pair for i, pair in enumerate(pairs) if i not in held]
    val = [pair for i, pair in enumerate(pairs) if i in held]
    return CorpusSplit(_as_text(train), _as_text(val), train, val)


def _as_text(pairs: list[tuple[str, str]]) -> str:
    return "".join(f"Q: {question}\nA: {reply}\n\n" for question, reply in pairs)


def windows(ids: np.ndarray, length: int) -> tuple[np.ndarray, np.ndarray]:
    """Non-overlapping (input, next-character target) windows covering ``ids``."""
    count = (len(ids) - 1) // length
    inputs = ids[:count * length].reshape(count, length)            # (count, T)
    targets = ids[1:count * length + 1].reshape(count, length)      # (count, T)
    return inputs, targets


def validation_loss(model: GPT, inputs: np.ndarray, targets: np.ndarray) -> float:
    """Mean cross-entropy per character over the validation windows (eval mode, no graph)."""
    loss_fn, total = CrossEntropyLoss(reduction="sum"), 0.0
    model.eval()
    with no_grad():
        for start in range(0, len(inputs), 64):
            total += float(loss_fn(model(inputs[start:start + 64]),
                                   targets[start:start + 64]).item())
    model.train()
    return total / targets.size


def letter_frequency_loss(train_ids: np.ndarray, val_ids: np.ndarray, vocab_size: int) -> float:
    """The validation loss of a model that knows only how often each character occurs.

    A baseline for the TinyGPT: anything below it comes from context, not letter counts.
    Counts start at one (add-one smoothing) so an unseen character does not cost infinity.
    """
    counts = np.bincount(train_ids, minlength=vocab_size) + 1.0
    log_probs = np.log(counts / counts.sum())
    return float(-log_probs[val_ids].mean())


@dataclass
class LanguageModelRun:
    """What part (b) produced: the trained model, its tokenizer, the split and the curves."""

    model: GPT
    tokenizer: CharTokenizer
    split: CorpusSplit
    history: dict[str, list[float]]
    baseline: float  # letter_frequency_loss on the same validation text

    @property
    def val_loss(self) -> float:
        """The validation loss after the last step."""
        return self.history["val_loss"][-1]


def train_tinygpt(quick: bool, out: TextIO, settings: Settings | None = None) -> LanguageModelRun:
    """Train the character-level TinyGPT on the training pairs, tracking the validation loss.

    ``settings`` replaces the milestone's own sizes (``GPT_SETTINGS[quick]``) when given.
    """
    cfg, split = settings or GPT_SETTINGS[quick], split_corpus()
    tokenizer = CharTokenizer()
    tokenizer.build_vocab(load_corpus())
    train_ids = np.array(tokenizer.encode(split.train_text), dtype=np.int64)
    val_ids = np.array(tokenizer.encode(split.val_text), dtype=np.int64)
    val_inputs, val_targets = windows(val_ids, cfg.seq_len)
    say(out, f"(b) TinyGPT: {len(train_ids)} training and {len(val_ids)} held-out characters "
             f"({len(split.held_out)} held-out pairs), vocabulary {tokenizer.vocab_size}")
    model = GPT(tokenizer.vocab_size, cfg.embed_dim, cfg.num_layers, cfg.num_heads,
                max_seq_len=cfg.seq_len, dropout=cfg.dropout)
    say(out, f"    GPT(embed {cfg.embed_dim}, {cfg.num_layers} layers, {cfg.num_heads} heads, "
             f"context {cfg.seq_len}, dropout {cfg.dropout}): {model.num_parameters():,} "
             "parameters")
    optimizer = AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.01)
    loss_fn = CrossEntropyLoss()
    schedule = cosine(cfg.lr, cfg.steps, min_fraction=0.1, warmup=50)
    rng, offsets = get_rng(), np.arange(cfg.seq_len)
    history: dict[str, list[float]] = {"train_loss": [], "val_loss": []}
    evaluate_every = max(cfg.steps // 10, 1)
    with Progress(cfg.steps, "tinygpt", out) as bar:
        for step in range(cfg.steps):
            optimizer.lr = schedule(step)
            starts = rng.integers(0, len(train_ids) - cfg.seq_len - 1, size=cfg.batch_size)
            positions = starts[:, None] + offsets                   # (B, T) random windows
            loss = loss_fn(model(train_ids[positions]), train_ids[positions + 1])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            history["train_loss"].append(float(loss.item()))
            if (step + 1) % evaluate_every == 0:
                history["val_loss"].append(validation_loss(model, val_inputs, val_targets))
            latest = {"val_loss": history["val_loss"][-1]} if history["val_loss"] else {}
            bar.update(1, loss=history["train_loss"][-1], **latest)
    if len(history["val_loss"]) * evaluate_every < cfg.steps:  # steps not a multiple of 10
        history["val_loss"].append(validation_loss(model, val_inputs, val_targets))
    baseline = letter_frequency_loss(train_ids, val_targets.reshape(-1), tokenizer.vocab_size)
    return LanguageModelRun(model, tokenizer, split, history, baseline)


def answer(model: GPT, tokenizer: CharTokenizer, question: str, max_chars: int = 60) -> str:
    """The model's greedy answer to ``question``, up to the end of its line."""
    prompt = tokenizer.encode(f"Q: {question}\nA:")[-(model.max_seq_len - 1):]
    budget = min(max_chars, model.max_seq_len - len(prompt))
    written = model.generate(np.array(prompt, dtype=np.int64), max_new_tokens=budget,
                             temperature=0)
    return tokenizer.decode(written.data[len(prompt):].tolist()).split("\n")[0].strip()


def show_answers(run: LanguageModelRun, out: TextIO, held_out: int = 3, seen: int = 2) -> int:
    """Print greedy answers to a few held-out and training questions; return held-out hits.

    Training questions show what the model memorised; held-out ones show how far it
    generalises (templates such as "The opposite of X is ..." carry over, facts do not).
    """
    hits = 0
    groups = (("held-out", run.split.held_out, held_out), ("seen", run.split.train_pairs, seen))
    for label, pairs, count in groups:
        for index in np.linspace(0, len(pairs) - 1, count).astype(int):
            question, reference = pairs[int(index)]
            reply = answer(run.model, run.tokenizer, question)
            hits += label == "held-out" and reply == reference
            say(out, f"    [{label}] Q: {question}")
            say(out, f"    {'':{len(label) + 2}} A: {reply}")
            say(out, f"    {'':{len(label) + 2}}    (reference: {reference})")
    return hits


# --------------------------------------------------------------------------- the milestone


def run(quick: bool = False, seed: int = 0, plot_dir: str | Path | None = None,
        out: TextIO | None = None) -> MilestoneResult:
    """Run both parts and check them; print as it goes.

    Args:
        quick: smaller models, fewer steps, and a looser validation-loss bound.
        seed: seeds the weights, the training batches and the test sequences.
        plot_dir: save the loss curves there as PNG (needs matplotlib).
        out: where to print; defaults to ``sys.stdout`` at call time.
    """
    session = MilestoneRun(ID, NAME, YEAR, TITLE, STORY, SHOWS, quick=quick, seed=seed,
                           plot_dir=plot_dir, out=out)
    out = session.out
    reversal_accuracy, reversal_losses = train_reversal(quick, out)
    say(out, f"    exact reversals of 1000 unseen sequences: {100.0 * reversal_accuracy:.1f}%")
    language = train_tinygpt(quick, out)
    say(out, f"    validation loss {language.val_loss:.3f} nats per character (a uniform guess "
             f"scores {np.log(language.tokenizer.vocab_size):.2f}, letter frequencies alone "
             f"{language.baseline:.2f})")
    hits = show_answers(language, out)
    checks = [
        Check("sequence reversal", "exact-sequence accuracy", reversal_accuracy,
              REVERSAL_QUICK_TARGET if quick else REVERSAL_TARGET),
        Check("TinyGPT on the corpus", "validation loss (nats/char)", language.val_loss,
              VAL_LOSS_QUICK_BOUND if quick else VAL_LOSS_BOUND, higher_is_better=False,
              unit=""),
    ]
    notes = [f"{hits} of 3 held-out answers shown match the reference exactly (not judged)"]
    curves = {"reversal_loss": reversal_losses, "gpt_train_loss": language.history["train_loss"],
              "gpt_val_loss": language.history["val_loss"]}
    return session.finish(checks, curves, notes, x_label="step")


if __name__ == "__main__":
    sys.exit(0 if run(quick="--quick" in sys.argv[1:]).passed else 1)
