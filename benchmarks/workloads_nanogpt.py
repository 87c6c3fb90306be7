"""A nanoGPT-style GPT composed by a user from tinytorch's public ops, trained beside PyTorch.

``gpt_train_step`` times the project's own ``GPT`` class. This workload asks what a *user* gets:
the model is written the way nanoGPT writes it, from ``tinytorch.nn`` layers and
``tinytorch.nn.functional`` calls only, and the very same class source builds the PyTorch twin
(``define_model``): one ``c_attn`` Linear whose output is sliced into q, k and v,
``scaled_dot_product_attention(is_causal=True)``, learned position embeddings, a bias-free
``lm_head``, and AdamW. Sizes: vocabulary 65, d_model 128, 4 heads, 2 layers, context 64,
batch 16. GELU is the tanh form on both sides (GPT-2's); the weights are not tied. PyTorch runs
the same model with the same weights, copied across.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from benchmarks.harness import Step, Workload, optional_torch
from benchmarks.workloads_gpt import lm_train_step

ORDER = 31  # right after the project's GPT rows

VOCAB, WIDTH, HEADS, LAYERS, CONTEXT, BATCH = 65, 128, 4, 2, 64, 16


def _batch() -> tuple[np.ndarray, np.ndarray]:
    """Token ids (B, T) and next-token targets (B, T), int64, the same for both frameworks."""
    text = np.random.default_rng(2).integers(0, VOCAB, size=(BATCH, CONTEXT + 1))
    return text[:, :-1], text[:, 1:]


def define_model(nn: Any, functional: Any, positions: Any) -> Any:
    """The nanoGPT class, written once against a framework's ``nn`` and ``nn.functional``.

    The same source builds the tinytorch model and its PyTorch twin, so they cannot drift
    apart; ``positions(T)`` makes the position ids in the framework's own array type.
    """

    class CausalSelfAttention(nn.Module):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.c_attn, self.c_proj = nn.Linear(WIDTH, 3 * WIDTH), nn.Linear(WIDTH, WIDTH)

        def forward(self, x: Any) -> Any:
            b, t, c = x.shape
            qkv = self.c_attn(x)
            q, k, v = (qkv[..., i * c:(i + 1) * c].reshape(b, t, HEADS, c // HEADS)
                       .transpose(1, 2) for i in range(3))
            y = functional.scaled_dot_product_attention(q, k, v, is_causal=True)
            return self.c_proj(y.transpose(1, 2).reshape(b, t, c))

    class Block(nn.Module):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.ln_1, self.ln_2 = nn.LayerNorm(WIDTH), nn.LayerNorm(WIDTH)
            self.attn = CausalSelfAttention()
            self.c_fc, self.c_proj = nn.Linear(WIDTH, 4 * WIDTH), nn.Linear(4 * WIDTH, WIDTH)

        def forward(self, x: Any) -> Any:
            x = x + self.attn(self.ln_1(x))
            return x + self.c_proj(functional.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))

    class NanoGPT(nn.Module):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.wte, self.wpe = nn.Embedding(VOCAB, WIDTH), nn.Embedding(CONTEXT, WIDTH)
            self.h = nn.ModuleList([Block() for _ in range(LAYERS)])
            self.ln_f = nn.LayerNorm(WIDTH)
            self.lm_head = nn.Linear(WIDTH, VOCAB, bias=False)

        def forward(self, idx: Any) -> Any:
            x = self.wte(idx) + self.wpe(positions(idx.shape[1]))
            for block in self.h:
                x = block(x)
            return self.lm_head(self.ln_f(x))

    return NanoGPT


def build_tinytorch_model() -> Any:
    """The composed model in tinytorch (public names only: nn, nn.functional)."""
    import tinytorch as tt
    from tinytorch import nn
    from tinytorch.nn import functional

    tt.manual_seed(0)
    return define_model(nn, functional, np.arange)()


def build_torch_model(torch: Any) -> Any:
    """The same model in PyTorch, its weights copied from the tinytorch model."""
    model = define_model(torch.nn, torch.nn.functional, torch.arange)()
    source = dict(build_tinytorch_model().named_parameters())
    linears = {name for name, m in model.named_modules() if isinstance(m, torch.nn.Linear)}
    with torch.no_grad():
        for name, param in model.named_parameters():
            value = source[name].data                # both models use the same names
            if name.rsplit(".", 1)[0] in linears and name.endswith("weight"):
                value = value.T                   # torch keeps Linear weights as (out, in)
            param.copy_(torch.from_numpy(np.ascontiguousarray(value)))
    return model


def train_tinytorch() -> Step:
    """tinytorch: the composed GPT's forward, cross-entropy, backward and AdamW step."""
    from tinytorch import optim
    from tinytorch.nn import functional

    return lm_train_step(build_tinytorch_model(), optim.AdamW, functional.cross_entropy,
                         *_batch())


def train_torch() -> Step | None:
    """PyTorch: the same model, loss, backward and AdamW step."""
    torch = optional_torch()
    if torch is None:
        return None
    inputs, targets = (torch.from_numpy(a) for a in _batch())
    return lm_train_step(build_torch_model(torch), torch.optim.AdamW,
                         torch.nn.functional.cross_entropy, inputs, targets)


WORKLOADS = [
    Workload(
        name="nanogpt_train_step",
        description=f"nanoGPT-style GPT from public ops (vocab {VOCAB}, d_model {WIDTH}, {HEADS} "
                    f"heads, {LAYERS} layers, context {CONTEXT}, batch {BATCH}), AdamW step",
        make_tinytorch=train_tinytorch,
        make_torch=train_torch,
        target="tinytorch/torch <= 1.3x",
        target_baseline="torch",
        target_max_ratio=1.3,
    ),
]
