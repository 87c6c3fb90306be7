"""Each deliberate bug is caught by ``tinytorch check``, in the module where it lives.

A copy of this package gets one bug (a mutation); the checker runs only the module that should
catch it, and must report FAIL there, with the boundary, the hint's why and fix, and a message
that names what broke. These are the bugs students make at module boundaries (and several that
the upstream course shipped: an inverted mask, a wrong LayerNorm gradient, a broken KV cache).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from check_helpers import Mutation, copy_package, mutate  # type: ignore[import-not-found]

from tinytorch.conformance import run_conformance

# (mutation, the modules that must FAIL, a word a failing check's message must contain)
CASES = [
    (Mutation("transposed matmul gradient", "core/ops/linalg.py",
              "grad_b = np.matmul(np.swapaxes(a2, -1, -2), g2)            # (..., k, m)",
              "grad_b = np.swapaxes(np.matmul(np.swapaxes(a2, -1, -2), g2), -1, -2)"),
     "06", "gradient"),
    (Mutation("ReLU gradient of ones", "core/ops/activation.py",
              "return grad * (out > 0)", "return grad * np.ones_like(out)"),
     "06", "gradient of"),
    (Mutation("missing broadcast reduction", "core/autograd.py",
              "    return unbroadcast(grad, input_shape)\n", "    return grad\n"),
     "06", "broadcast"),
    (Mutation("backward overwrites instead of accumulating", "core/autograd.py",
              "leaf.grad = leaf.grad.data + grad  #", "leaf.grad = grad  #"),
     "06", "twice"),
    (Mutation("zero_grad keeps the old gradients", "core/optimizers.py",
              "            if set_to_none:\n                p.grad = None",
              "            if set_to_none:\n                continue"),
     "07", "zero_grad"),
    (Mutation("Adam without bias correction of the first moment", "core/optimizers.py",
              "work *= -lr / (1.0 - beta1 ** step)", "work *= -lr"),
     "07", "Adam"),
    (Mutation("conv weight gradient halved", "core/spatial.py",
              "grad_w = grad_w.reshape(groups * og, -1, *geom.kernel)",
              "grad_w = 0.5 * grad_w.reshape(groups * og, -1, *geom.kernel)"),
     "09", "weight"),
    (Mutation("max-pool gradient to every element", "core/spatial.py",
              "        rows = spread_along(grad, row_arg, 2, kh, sh, hp, layout)\n"
              "        return spread_along(rows, col_arg, 3, kw, sw, wp, layout)[geom.crop()]",
              "        return np.repeat(np.repeat(grad, kh, axis=2), kw, axis=3)"),
     "09", "MaxPool2d gradient"),
    (Mutation("embedding gradient drops repeated ids", "core/embeddings.py",
              "out[sorted_ids[starts]] = np.add.reduceat(grad[order], starts, axis=0)",
              "out[ids] = grad"),
     "11", "Embedding weight gradient"),
    (Mutation("causal mask inverted", "core/attention.py",
              "np.copyto(z, -np.inf, where=~mask)", "np.copyto(z, -np.inf, where=mask)"),
     "12", "future"),
    (Mutation("LayerNorm gradient without the variance term", "core/transformer.py",
              "                g -= xhat[blk] * mean_gx\n", ""),
     "13", "LayerNorm gradient of x"),
    (Mutation("KV cache off by one", "core/attention.py",
              "length = max(self._filled[layer_idx], self.seq_len)",
              "length = max(self._filled[layer_idx], self.seq_len) - 1"),
     "13,18", "cache"),
    (Mutation("int8 codes stored as float32 (the upstream course's bug)", "perf/quant_schemes.py",
              "return Tensor(quantize_affine(x, scale, zero_point), dtype=np.int8), scale, "
              "zero_point", "return Tensor(quantize_affine(x, scale, zero_point), "
              "dtype=np.float32), scale, zero_point"),
     "15", "int8"),
]


@pytest.mark.parametrize(("mutation", "module", "word"), CASES, ids=[c[0].name for c in CASES])
def test_a_mutant_fails_in_its_module_naming_the_boundary(
        mutation: Mutation, module: str, word: str, tmp_path: Path) -> None:
    root = copy_package(tmp_path / "student")
    mutate(root, mutation)
    report = run_conformance(str(root), module.split(","), oracle="numeric", timeout=120)
    for result in report["modules"]:
        failed = [c for c in result["checks"] if c["status"] == "FAIL"]
        assert result["status"] == "FAIL", f"{mutation.name} went unnoticed: {result}"
        messages = [f"{c['boundary']} | {c['what']}" for c in failed]
        assert any(word.lower() in m.lower() for m in messages), messages
        for item in failed:
            assert item["boundary"] and item["why"] and item["fix"], item


def test_the_mutations_are_at_least_ten_distinct_bugs() -> None:
    assert len({c[0].name for c in CASES}) >= 10
    assert len({(c[0].file, c[0].old) for c in CASES}) == len(CASES)
