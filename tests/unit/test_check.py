"""``tinytorch check``: isolation, NOT IMPLEMENTED, time limits, the report, JSON and exit codes.

The checker is run against *other* packages here: a copy of this one (with or without a bug)
and a small forward-only implementation of modules 01-04 written below, as a student who has
finished module 04 would have it.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from check_helpers import REPO, Mutation, copy_package, mutate  # type: ignore[import-not-found]

from tinytorch.cli import main
from tinytorch.conformance import format_report, parse_modules, run_conformance

# A student's modules 01-04: forward passes only, plain NumPy, no autograd yet.
STUDENT_0104 = {
    "__init__.py": "",
    "core/__init__.py": "",
    "core/tensor.py": '''
        import numpy as np

        def _data(v):
            return v.data if isinstance(v, Tensor) else np.asarray(v, dtype=np.float32)

        class Tensor:
            def __init__(self, data, requires_grad=False, dtype=None):
                self.data = np.array(_data(data), dtype=dtype or np.float32)
                self.requires_grad, self.grad = requires_grad, None
            shape = property(lambda self: self.data.shape)
            ndim = property(lambda self: self.data.ndim)
            def __add__(self, o): return Tensor(self.data + _data(o))
            __radd__ = __add__
            def __sub__(self, o): return Tensor(self.data - _data(o))
            def __rsub__(self, o): return Tensor(_data(o) - self.data)
            def __mul__(self, o): return Tensor(self.data * _data(o))
            __rmul__ = __mul__
            def __truediv__(self, o): return Tensor(self.data / _data(o))
            def __rtruediv__(self, o): return Tensor(_data(o) / self.data)
            def __pow__(self, k): return Tensor(self.data ** k)
            def __neg__(self): return Tensor(-self.data)
            def __matmul__(self, o): return Tensor(self.data @ _data(o))
            def sum(self, axis=None, keepdims=False):
                return Tensor(self.data.sum(axis=axis, keepdims=keepdims))
            def mean(self, axis=None, keepdims=False):
                return Tensor(self.data.mean(axis=axis, keepdims=keepdims))
            def max(self, axis=None, keepdims=False):
                return Tensor(self.data.max(axis=axis, keepdims=keepdims))
            def reshape(self, *shape): return Tensor(self.data.reshape(*shape))
            def transpose(self, a=-2, b=-1): return Tensor(np.swapaxes(self.data, a, b))
    ''',
    "core/activations.py": '''
        import numpy as np
        from tinytorch.core.tensor import Tensor

        class _Act:
            def __call__(self, x): return Tensor(self.f(x.data))
            def parameters(self): return []
        class ReLU(_Act):
            f = staticmethod(lambda x: np.maximum(x, 0))
        class Sigmoid(_Act):
            f = staticmethod(lambda x: np.exp(-np.logaddexp(0, -x)))
        class Tanh(_Act):
            f = staticmethod(np.tanh)
        class GELU(_Act):
            f = staticmethod(lambda x: 0.5 * x * (1 + np.tanh(0.79788456 * (x + 0.044715 * x**3))))
        class Softmax(_Act):
            @staticmethod
            def f(x):
                e = np.exp(x - x.max(axis=-1, keepdims=True))
                return e / e.sum(axis=-1, keepdims=True)
    ''',
    "core/layers.py": '''
        import numpy as np
        from tinytorch.core.tensor import Tensor

        class Module:
            training = True
            def __call__(self, *a): return self.forward(*a)
            def eval(self): self.training = False
            def parameters(self): return []
        class Linear(Module):
            def __init__(self, n_in, n_out, bias=True):
                self.weight = Tensor(np.random.randn(n_in, n_out) / np.sqrt(n_in), True)
                self.bias = Tensor(np.zeros(n_out), True)
            def forward(self, x): return x @ self.weight + self.bias
            def parameters(self): return [self.weight, self.bias]
        class Sequential(Module):
            def __init__(self, *layers): self.layers = layers
            def forward(self, x):
                for layer in self.layers:
                    x = layer(x)
                return x
            def parameters(self): return [p for l in self.layers for p in l.parameters()]
        class Dropout(Module):
            def __init__(self, p=0.5): self.p = p
            def forward(self, x):
                if not self.training:
                    return x
                return x * ((np.random.rand(*x.shape) >= self.p) / (1 - self.p))
    ''',
    "core/losses.py": '''
        import numpy as np
        from tinytorch.core.tensor import Tensor

        class MSELoss:
            def __call__(self, p, t): return Tensor(np.mean((p.data - t.data) ** 2))
        class CrossEntropyLoss:
            def __call__(self, logits, t):
                z = logits.data - logits.data.max(axis=1, keepdims=True)
                logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
                return Tensor(-logp[np.arange(len(z)), t.data.astype(int)].mean())
        class BinaryCrossEntropyLoss:
            def __call__(self, p, t):
                p, t = p.data, t.data
                return Tensor(-np.mean(t * np.log(p) + (1 - t) * np.log(1 - p)))
    ''',
}


def write_package(root: Path, files: dict[str, str]) -> Path:
    for name, source in files.items():
        path = root / "tinytorch" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source).lstrip())
    return root


def statuses(report: dict) -> dict[str, str]:
    return {m["id"]: m["status"] for m in report["modules"]}


def test_a_package_with_only_modules_01_to_04_reports_the_rest_not_implemented(
        tmp_path: Path) -> None:
    root = write_package(tmp_path / "student", STUDENT_0104)
    report = run_conformance(str(root), parse_modules("all"), oracle="numeric", timeout=60)
    got = statuses(report)
    assert all(got[m] == "PASS" for m in ("01", "02", "03", "04")), format_report(report)
    assert all(got[f"{m:02d}"] == "NOT IMPLEMENTED" for m in range(5, 21)), got
    assert not report["passed"]
    autograd = next(m for m in report["modules"] if m["id"] == "06")["checks"][0]
    assert "tinytorch.core.autograd" in autograd["what"]


def test_the_students_process_never_imports_our_tinytorch(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = copy_package(tmp_path / "student")
    monkeypatch.setenv("PYTHONPATH", str(REPO))   # even with ours on the path it stays out
    report = run_conformance(str(root), ["01", "06", "13"], oracle="numeric", timeout=60)
    assert report["passed"], format_report(report)
    inside = str(root.resolve() / "tinytorch")
    assert report["tinytorch_file"] == f"{inside}/__init__.py"
    files = report["loaded_files"]
    assert len(files) > 10 and all(f.startswith(inside) for f in files), files
    assert not any("conformance" in f for f in files)   # the checks came in as _ttcheck


def test_a_hanging_check_is_stopped_and_the_run_continues(tmp_path: Path) -> None:
    root = copy_package(tmp_path / "student")
    mutate(root, Mutation("ReLU never returns", "core/activations.py",
                          "        return ops.Relu.apply(x)\n",
                          "        while True:\n            pass\n"))
    report = run_conformance(str(root), ["02", "04"], oracle="numeric", timeout=3)
    checks = report["modules"][0]["checks"]
    hung = [c for c in checks if c.get("timed_out")]
    assert [c["name"] for c in hung] == ["activation_values"], checks
    assert "within 3 s" in hung[0]["what"] and hung[0]["fix"]
    assert [c["status"] for c in checks[1:]] == ["PASS"]     # a fresh child ran the next one
    assert statuses(report) == {"02": "FAIL", "04": "PASS"}


def test_endless_recursion_and_a_dying_interpreter_are_reported(tmp_path: Path) -> None:
    root = copy_package(tmp_path / "student")
    mutate(root, Mutation("MSE recurses", "core/losses.py",
                          "        return mse_loss(predictions, targets, self.reduction)",
                          "        return self.forward(predictions, targets)"))
    mutate(root, Mutation("DataLoader exits", "core/dataloader.py",
                          "                 pin_memory: bool = False) -> None:\n",
                          "                 pin_memory: bool = False) -> None:\n"
                          "        __import__('os')._exit(3)\n"))
    report = run_conformance(str(root), ["04", "05"], oracle="numeric", timeout=30)
    loss_check = report["modules"][0]["checks"][0]
    assert loss_check["status"] == "FAIL" and "RecursionError" in loss_check["what"]
    (loader_check,) = report["modules"][1]["checks"]
    assert "exit code 3" in loader_check["what"]


def test_a_package_whose_import_kills_python_fails_every_check_once(tmp_path: Path) -> None:
    root = write_package(tmp_path / "student", {"__init__.py": "import os\nos._exit(4)\n"})
    report = run_conformance(str(root), ["01", "02"], oracle="numeric", timeout=30)
    assert "exit code 4" in report["import_error"]
    assert statuses(report) == {"01": "FAIL", "02": "FAIL"}


def test_module_selection_parses_ranges_and_rejects_nonsense() -> None:
    assert parse_modules("01-03,9") == ["01", "02", "03", "09"]
    assert parse_modules("all")[-1] == "20"
    for bad in ("0-3", "21", "x", ","):
        with pytest.raises(ValueError, match="--modules"):
            parse_modules(bad)


def test_cli_prints_the_report_writes_json_and_sets_the_exit_status(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = copy_package(tmp_path / "good")
    out = tmp_path / "report.json"
    assert main(["check", str(good), "--modules", "01-02", "--oracle", "numeric",
                 "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "01 tensor" in text and "All 2 modules pass." in text
    saved = json.loads(out.read_text())
    assert saved["passed"] and [m["id"] for m in saved["modules"]] == ["01", "02"]
    bad = copy_package(tmp_path / "bad")
    mutate(bad, Mutation("sigmoid off", "core/ops/activation.py",
                         "return grad * (out > 0)", "return grad * 0.5"))
    assert main(["check", str(bad), "--modules", "06", "--oracle", "numeric"]) == 1
    text = capsys.readouterr().out
    assert "06 autograd      FAIL" in text and "expected" in text and "fix" in text


def test_cli_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(tmp_path)]) == 2
    assert "has no tinytorch/ folder" in capsys.readouterr().err
    assert main(["check", str(REPO), "--modules", "7-99"]) == 2
    assert "--modules got" in capsys.readouterr().err
