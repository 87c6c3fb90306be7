"""Imports point down the layers of STYLE.md 1.2, so the architecture cannot quietly rot.

Each module-level import inside ``tinytorch`` must name a module of a lower layer (or an
earlier module of the same layer, in course order). ``autograd``'s one sanctioned upward
import lives inside a function and is therefore not module-level.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "tinytorch"

# Lowest first. A module may import only modules that appear before it in this list.
ORDER = [
    "core.errors", "core.broadcasting", "core.rng", "core.buffers", "core.windows", "core.progress",
    "core.dtypes",  # compat-tensor: PyTorch dtype/device names (NumPy only)
    "core.autograd", "core.ops",
    "core.tensor_methods", "core.inplace",  # compat-tensor: mixins Tensor inherits
    "core.tensor", "core.functions",  # compat-tensor: top-level PyTorch functions
    "core.tying",  # compat-nn: weight-tying layouts
    "core.init", "core.activations", "core.layers",
    "core.losses", "core.dataloader", "core.optimizers",
    "core.schedulers",  # compat-nn: learning-rate schedules
    "core.serialization",
    "core.state_io",  # compat-tensor: tinytorch.save/load
    "core.training",
    "core.spatial",
    "core.tokenization", "core.embeddings", "core.attention", "core.transformer",
    "core.transformers", "perf", "text", "models", "nn", "optim", "data", "capstone",
    "olympics", "bench", "milestones", "cli",
    "utils", "__main__",  # utils.data is a face over core; __main__ runs the cli
]
# serialization is a NumPy-only utility (L0 in spirit) that layers and tokenizers need
EXCEPTIONS = {("core.layers", "core.serialization"), ("core.tokenization", "core.serialization"),
              ("core.optimizers", "core.serialization")}


def rank(module: str) -> int | None:
    best = None
    for i, name in enumerate(ORDER):
        if module == name or module.startswith(name + "."):
            best = i
    return best


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(p for p in parts if p != "__init__")


def module_level_imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    found = []
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("tinytorch"):
            found.append(node.module.removeprefix("tinytorch").lstrip("."))
            found.extend(f"{node.module.removeprefix('tinytorch.')}.{alias.name}"
                         for alias in node.names)
        elif isinstance(node, ast.Import):
            found.extend(a.name.removeprefix("tinytorch.") for a in node.names
                         if a.name.startswith("tinytorch"))
    return [f for f in found if f]


def test_every_import_points_down() -> None:
    violations = []
    for path in sorted(PACKAGE.rglob("*.py")):
        me = module_name(path)
        my_rank = rank(me)
        if my_rank is None:
            continue
        for imported in module_level_imports(path):
            their_rank = rank(imported)
            if their_rank is None or (me, ORDER[their_rank]) in EXCEPTIONS:
                continue
            same_package = ORDER[their_rank] == ORDER[my_rank]
            if their_rank > my_rank or (same_package and me.startswith("core.") and
                                        imported.count(".") == 1 and imported != me and
                                        not me.startswith("core.ops")):
                violations.append(f"{me} imports {imported}")
    assert not violations, "imports that point up a layer:\n" + "\n".join(violations)


def test_core_never_imports_perf_or_higher() -> None:
    for path in sorted((PACKAGE / "core").rglob("*.py")):
        for imported in module_level_imports(path):
            assert not imported.startswith(("perf", "nn", "optim", "data", "milestones", "cli")), (
                f"{module_name(path)} imports {imported}")


def test_core_package_init_is_empty_of_imports() -> None:
    assert module_level_imports(PACKAGE / "core" / "__init__.py") == []
