"""Language-model workloads: a GPT training step, and text generation with and without a KV cache.

``gpt_train_step`` is the transformer milestone's unit of work: a char-level GPT (vocabulary 65,
width 128, 4 heads, 2 layers, context 64) on a batch of 16 sequences, cross-entropy over every
position, backward, and an AdamW update. Beyond its GEMMs it exercises the fused kernels
(LayerNorm, GELU, masked softmax), the head split and the optimizer.

``gpt_generate_nocache`` and ``gpt_generate_cache`` generate 64 tokens greedily from an 8-token
prompt: the first recomputes the whole context for every new token, the second prefills once and
then feeds one token at a time through a KV cache. PyTorch runs the same model, copied weight for
weight, with the same two strategies (its cache concatenates past keys and values per layer).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from benchmarks.harness import Step, Workload, optional_torch

ORDER = 30

VOCAB, WIDTH, HEADS, LAYERS = 65, 128, 4, 2
TRAIN_CONTEXT, TRAIN_BATCH, LR = 64, 16, 1e-3
GEN_CONTEXT, PROMPT_LEN, NEW_TOKENS = 128, 8, 64


def _tinytorch_model(context: int) -> Any:
    from tinytorch.core.rng import manual_seed
    from tinytorch.core.transformer import GPT

    manual_seed(0)
    return GPT(VOCAB, WIDTH, num_layers=LAYERS, num_heads=HEADS, max_seq_len=context)


def _train_batch() -> tuple[np.ndarray, np.ndarray]:
    """Token ids (B, T) and next-token targets (B, T), int64, the same for every framework."""
    rng = np.random.default_rng(0)
    text = rng.integers(0, VOCAB, size=(TRAIN_BATCH, TRAIN_CONTEXT + 1))
    return text[:, :-1], text[:, 1:]


def _prompt() -> np.ndarray:
    return np.random.default_rng(1).integers(0, VOCAB, size=(1, PROMPT_LEN))


# --- tinytorch -------------------------------------------------------------------------------


def lm_train_step(model: Any, adamw: Any, cross_entropy: Any, inputs: Any,
                  targets: Any) -> Step:
    """One language-model training step, written once for both frameworks.

    ``adamw`` and ``cross_entropy`` are the framework's AdamW class and cross-entropy function;
    ``inputs`` and ``targets`` are (B, T) ids in the framework's own array type.
    """
    optimizer = adamw(model.parameters(), lr=LR)
    flat_targets = targets.reshape(-1)

    def step() -> Any:
        optimizer.zero_grad()
        loss = cross_entropy(model(inputs).reshape(-1, VOCAB), flat_targets)   # (B*T, V)
        loss.backward()
        optimizer.step()
        return loss

    return step


def train_tinytorch() -> Step:
    """tinytorch: GPT forward, cross_entropy over (B*T, V), backward, AdamW step."""
    from tinytorch.core.losses import cross_entropy
    from tinytorch.core.optimizers import AdamW

    return lm_train_step(_tinytorch_model(TRAIN_CONTEXT), AdamW, cross_entropy, *_train_batch())


def generation_tinytorch(context: int, prompt: np.ndarray, new_tokens: int,
                         use_cache: bool) -> Step:
    """tinytorch: greedy generation of ``new_tokens`` from ``prompt`` by a GPT of ``context``."""
    model = _tinytorch_model(context)
    return lambda: model.generate(prompt, max_new_tokens=new_tokens, temperature=0,
                                  use_cache=use_cache)


def _generate_tinytorch(use_cache: bool) -> Step:
    return generation_tinytorch(GEN_CONTEXT, _prompt(), NEW_TOKENS, use_cache)


def generate_nocache_tinytorch() -> Step:
    """tinytorch: 64 greedy tokens, recomputing the whole context each time."""
    return _generate_tinytorch(use_cache=False)


def generate_cache_tinytorch() -> Step:
    """tinytorch: 64 greedy tokens with the KV cache (prefill, then one token per step)."""
    return _generate_tinytorch(use_cache=True)


# --- PyTorch ---------------------------------------------------------------------------------


def _torch_model(torch: Any, context: int) -> Any:
    """The same GPT in PyTorch, its weights copied from the tinytorch model."""
    nn, functional = torch.nn, torch.nn.functional

    class Block(nn.Module):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.ln1, self.ln2 = nn.LayerNorm(WIDTH), nn.LayerNorm(WIDTH)
            self.q, self.k, self.v = (nn.Linear(WIDTH, WIDTH) for _ in range(3))
            self.proj = nn.Linear(WIDTH, WIDTH)
            self.fc1, self.fc2 = nn.Linear(WIDTH, 4 * WIDTH), nn.Linear(4 * WIDTH, WIDTH)

        def forward(self, x: Any, cache: list[Any] | None = None) -> Any:
            b, t, e = x.shape
            h = self.ln1(x)
            q, k, v = (proj(h).view(b, t, HEADS, e // HEADS).transpose(1, 2)
                       for proj in (self.q, self.k, self.v))
            if cache is not None:                       # [keys, values] of earlier positions
                if cache:
                    k, v = torch.cat([cache[0], k], 2), torch.cat([cache[1], v], 2)
                cache[:] = [k, v]
            causal = t > 1                              # one new token may see every position
            heads = functional.scaled_dot_product_attention(q, k, v, is_causal=causal)
            x = x + self.proj(heads.transpose(1, 2).reshape(b, t, e))
            return x + self.fc2(functional.gelu(self.fc1(self.ln2(x)), approximate="tanh"))

    class TorchGPT(nn.Module):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.tok = nn.Embedding(VOCAB, WIDTH)
            self.pos = nn.Parameter(torch.zeros(context, WIDTH))
            self.blocks = nn.ModuleList([Block() for _ in range(LAYERS)])
            self.ln_f, self.head = nn.LayerNorm(WIDTH), nn.Linear(WIDTH, VOCAB)

        def forward(self, ids: Any, caches: list[list[Any]] | None = None, start: int = 0) -> Any:
            x = self.tok(ids) + self.pos[start:start + ids.shape[1]]
            for i, block in enumerate(self.blocks):
                x = block(x, None if caches is None else caches[i])
            return self.head(self.ln_f(x))

    model = TorchGPT()
    ours = _tinytorch_model(context)
    pairs = {"tok.weight": "token_embedding.weight",
             "pos": "position_embedding.position_embeddings",
             "ln_f.weight": "ln_f.weight", "ln_f.bias": "ln_f.bias",
             "head.weight": "lm_head.weight", "head.bias": "lm_head.bias"}
    for i in range(LAYERS):
        for theirs, mine in (("ln1", "ln1"), ("ln2", "ln2"), ("q", "attention.q_proj"),
                             ("k", "attention.k_proj"), ("v", "attention.v_proj"),
                             ("proj", "attention.out_proj"), ("fc1", "mlp.linear1"),
                             ("fc2", "mlp.linear2")):
            for kind in ("weight", "bias"):
                pairs[f"blocks.{i}.{theirs}.{kind}"] = f"blocks.{i}.{mine}.{kind}"
    source = dict(ours.named_parameters())
    with torch.no_grad():
        for name, param in model.named_parameters():
            value = source[pairs[name]].data
            if isinstance(dict(model.named_modules()).get(name.rsplit(".", 1)[0]), nn.Linear) \
                    and name.endswith("weight"):
                value = value.T                         # torch keeps Linear weights as (out, in)
            param.copy_(torch.from_numpy(np.ascontiguousarray(value)))
    return model


def train_torch() -> Step | None:
    """PyTorch: the same model, loss, backward and AdamW step."""
    torch = optional_torch()
    if torch is None:
        return None
    inputs, targets = (torch.from_numpy(a) for a in _train_batch())
    return lm_train_step(_torch_model(torch, TRAIN_CONTEXT), torch.optim.AdamW,
                         torch.nn.functional.cross_entropy, inputs, targets)


def greedy_torch(torch: Any, model: Any, prompt: Any, new_tokens: int, use_cache: bool) -> Any:
    """PyTorch's greedy loop: with ``use_cache``, prefill once and feed one token per step."""
    tokens = prompt
    with torch.no_grad():
        caches: list[list[Any]] | None = [[] for _ in range(LAYERS)] if use_cache else None
        logits = model(tokens, caches)
        for i in range(new_tokens):
            nxt = logits[:, -1].argmax(-1, keepdim=True)
            tokens = torch.cat([tokens, nxt], 1)
            if i == new_tokens - 1:
                break
            logits = model(nxt, caches, start=tokens.shape[1] - 1) if use_cache \
                else model(tokens)
    return tokens


def generation_torch(context: int, prompt: np.ndarray, new_tokens: int,
                     use_cache: bool) -> Step | None:
    """PyTorch: the same model and greedy loop as ``generation_tinytorch`` (None without torch)."""
    torch = optional_torch()
    if torch is None:
        return None
    model = _torch_model(torch, context).eval()
    ids = torch.from_numpy(prompt)
    return lambda: greedy_torch(torch, model, ids, new_tokens, use_cache)


def _generate_torch(use_cache: bool) -> Step | None:
    return generation_torch(GEN_CONTEXT, _prompt(), NEW_TOKENS, use_cache)


def generate_nocache_torch() -> Step | None:
    """PyTorch: the same greedy loop, recomputing the context each step."""
    return _generate_torch(use_cache=False)


def generate_cache_torch() -> Step | None:
    """PyTorch: the same greedy loop with concatenated per-layer keys and values."""
    return _generate_torch(use_cache=True)


_MODEL_TEXT = f"GPT vocab {VOCAB}, d_model {WIDTH}, {HEADS} heads, {LAYERS} layers"

WORKLOADS = [
    Workload(
        name="gpt_train_step",
        description=f"{_MODEL_TEXT}, context {TRAIN_CONTEXT}, batch {TRAIN_BATCH}: forward, "
                    "cross-entropy, backward, AdamW step",
        make_tinytorch=train_tinytorch,
        make_torch=train_torch,
        target="tinytorch/torch <= 1.3x",
        target_baseline="torch",
        target_max_ratio=1.3,
    ),
    Workload(
        name="gpt_generate_nocache",
        description=f"{_MODEL_TEXT}: {NEW_TOKENS} greedy tokens from a {PROMPT_LEN}-token "
                    "prompt, full recomputation per token",
        make_tinytorch=generate_nocache_tinytorch,
        make_torch=generate_nocache_torch,
        target="tinytorch/torch <= 1.5x",
        target_baseline="torch",
        target_max_ratio=1.5,
    ),
    Workload(
        name="gpt_generate_cache",
        description=f"{_MODEL_TEXT}: {NEW_TOKENS} greedy tokens from a {PROMPT_LEN}-token "
                    "prompt with a KV cache",
        make_tinytorch=generate_cache_tinytorch,
        make_torch=generate_cache_torch,
        target="tinytorch/torch <= 1.25x",
        target_baseline="torch",
        target_max_ratio=1.25,
    ),
]
