"""``tinytorch.save(obj, path)`` / ``tinytorch.load(path)``: state dicts in the no-pickle format.

``obj`` is a tree of dicts, lists and tuples whose leaves are tensors, arrays, numbers, strings,
booleans or None: a model's ``state_dict()``, an optimizer's, a checkpoint of both. The arrays
go into a ``.npz`` archive and the tree into its JSON metadata (``core/serialization.py``), so
the file can never run code, is written atomically, and is the same whatever its extension
(``model.pt`` included). A real PyTorch file (a pickle, or PyTorch's zip of pickles) is refused
with the way to convert it.

Example:
    >>> import tempfile, os
    >>> from tinytorch.core.tensor import Tensor
    >>> path = os.path.join(tempfile.mkdtemp(), "state.pt")
    >>> save({"w": Tensor([1.0, 2.0]), "step": 3}, path)
    >>> state = load(path)
    >>> state["w"].tolist(), state["step"]
    ([1.0, 2.0], 3)
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from tinytorch.core.dtypes import check_device
from tinytorch.core.errors import SerializationError, explain
from tinytorch.core.serialization import load_arrays, save_arrays
from tinytorch.core.tensor import Tensor

FORMAT = "tinytorch.save/1"
_PICKLE_PROTOCOL_BYTE = b"\x80"


def save(obj: Any, f: str | os.PathLike[str]) -> None:
    """Write ``obj`` (a tree of tensors, arrays and plain values) to ``f``, atomically.

    Raises:
        SerializationError: a leaf is not a tensor, array, number, string, bool or None, or
            ``f`` is not a path.
    """
    if not isinstance(f, (str, os.PathLike)):
        raise SerializationError(explain(
            what=f"save() got a {type(f).__name__} to write to",
            why="tinytorch writes files atomically (a temporary file renamed over the target), "
                "which needs a path",
            fix="pass a file path such as 'model.pt'",
        ))
    arrays: dict[str, np.ndarray] = {}
    tree = _encode(obj, arrays, "obj")
    save_arrays(f, arrays, {"format": FORMAT, "tree": tree})


def load(f: str | os.PathLike[str], map_location: Any = None, weights_only: bool = True,
         **_: Any) -> Any:
    """Read what ``save`` wrote: tensors come back as tensors, arrays as arrays.

    ``weights_only`` is accepted for PyTorch code; loading never runs code either way.
    ``map_location`` may name the CPU (or be a function, which is ignored): there is no other
    device. A plain ``.npz`` written by tinytorch's model ``save`` loads as a dict of arrays.

    Raises:
        SerializationError: the file is missing, corrupt, or a PyTorch pickle file.
    """
    if map_location is not None and not callable(map_location) and not isinstance(
            map_location, dict):
        check_device(map_location)
    _refuse_pytorch_file(Path(f))
    arrays, metadata = load_arrays(f)
    if metadata.get("format") != FORMAT:
        return arrays
    return _decode(metadata["tree"], arrays)


# --- the tree: JSON nodes with arrays stored beside them ---------------------------------------


def _encode(obj: Any, arrays: dict[str, np.ndarray], where: str) -> Any:
    if isinstance(obj, (Tensor, np.ndarray, np.generic)):
        name = f"a{len(arrays)}"
        arrays[name] = np.array(getattr(obj, "data", obj))
        return {"array": name, "tensor": isinstance(obj, Tensor)}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, dict):
        return {"dict": [[_encode_key(k, where), _encode(v, arrays, f"{where}[{k!r}]")]
                         for k, v in obj.items()]}
    if isinstance(obj, (list, tuple)):
        items = [_encode(v, arrays, f"{where}[{i}]") for i, v in enumerate(obj)]
        return {"tuple" if isinstance(obj, tuple) else "list": items}
    raise SerializationError(explain(
        what=f"save() cannot store {where}, a {type(obj).__name__}",
        why="the file holds only tensors, arrays, numbers, strings, booleans and None, nested "
            "in dicts, lists and tuples (no pickle, so no arbitrary objects)",
        fix="save the object's state_dict() rather than the object itself",
    ))


def _encode_key(key: Any, where: str) -> Any:
    if isinstance(key, (str, int)) and not isinstance(key, bool):
        return key
    raise SerializationError(explain(
        what=f"save() cannot store the dict key {key!r} in {where}",
        why="dict keys must be strings or integers to be written as JSON",
        fix="use string keys",
    ))


def _decode(node: Any, arrays: dict[str, np.ndarray]) -> Any:
    if not isinstance(node, dict):
        return node
    if "array" in node:
        array = arrays[node["array"]]
        return Tensor._from_op(array, None) if node["tensor"] else array
    if "dict" in node:
        return {key: _decode(value, arrays) for key, value in node["dict"]}
    if "tuple" in node:
        return tuple(_decode(v, arrays) for v in node["tuple"])
    return [_decode(v, arrays) for v in node["list"]]


# --- PyTorch's own files --------------------------------------------------------------------------


def _refuse_pytorch_file(path: Path) -> None:
    """Refuse, with a conversion recipe, a file ``torch.save`` wrote (a pickle or a zip of one)."""
    if not path.is_file():
        return  # load_arrays words the missing-file error
    with open(path, "rb") as handle:
        head = handle.read(1)
    is_torch = head == _PICKLE_PROTOCOL_BYTE
    if not is_torch and zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            is_torch = any(n.endswith("data.pkl") for n in archive.namelist())
    if is_torch:
        raise SerializationError(explain(
            what=f"{str(path)!r} is a PyTorch file (a pickle written by torch.save)",
            why="tinytorch never unpickles: a pickle can run arbitrary code when it is loaded",
            fix="convert it once with PyTorch installed: `sd = torch.load(path); "
                "np.savez('weights.npz', **{k: v.numpy() for k, v in sd.items()})`, then "
                "tinytorch.load('weights.npz') gives the arrays (mind Linear's (in, out) "
                "weight layout: transpose 2-D Linear weights)",
        ))
