"""Read and write the IDX format that MNIST and its relatives (Fashion-MNIST, KMNIST) use.

An IDX file is a 4-byte magic number (two zero bytes, a type code, the number of
dimensions), one big-endian uint32 per dimension, then the values in C order, big-endian.
Files ending in ``.gz`` (or starting with the gzip signature) are decompressed on the fly.
"""

from __future__ import annotations

import gzip
import math
import os
import zlib
from pathlib import Path

import numpy as np

from tinytorch.core.errors import DTypeError, SerializationError, ShapeError, explain
from tinytorch.core.serialization import atomic_write_bytes

# IDX type code -> big-endian NumPy dtype
_CODE_TO_DTYPE: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_KIND_TO_CODE = {(dt.kind, dt.itemsize): code for code, dt in _CODE_TO_DTYPE.items()}
_GZIP_SIGNATURE = b"\x1f\x8b"


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file (optionally gzip-compressed) into a native-endian NumPy array.

    Raises:
        SerializationError: the file is missing, not IDX, truncated, or has bytes left over.

    Example:
        >>> import tempfile, numpy as np
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     write_idx(folder + "/labels-idx1-ubyte.gz", np.array([3, 1, 4], dtype=np.uint8))
        ...     read_idx(folder + "/labels-idx1-ubyte.gz")
        array([3, 1, 4], dtype=uint8)
    """
    source = Path(path)
    payload = _read_bytes(source)
    if len(payload) < 4:
        raise _bad_file(source, f"it holds only {len(payload)} bytes, less than the 4-byte "
                                "magic number", "the file is truncated or empty")
    if payload[0] != 0 or payload[1] != 0:
        raise _bad_file(source, f"its magic number is 0x{payload[:4].hex()}, which does not "
                                "start with two zero bytes", "this is not an IDX file")
    code, ndim = payload[2], payload[3]
    if code not in _CODE_TO_DTYPE:
        known = ", ".join(f"0x{c:02X}" for c in _CODE_TO_DTYPE)
        raise _bad_file(source, f"its type code is 0x{code:02X}",
                        f"IDX type codes are {known}; the file is not IDX or is damaged")
    if ndim == 0:
        raise _bad_file(source, "its magic number declares 0 dimensions",
                        "an IDX array has at least one dimension")
    header = 4 + 4 * ndim
    if len(payload) < header:
        raise _bad_file(source, f"its header needs {header} bytes for {ndim} dimensions but the "
                                f"file holds {len(payload)}", "the file is truncated")
    shape = tuple(int(d) for d in np.frombuffer(payload, dtype=">u4", count=ndim, offset=4))
    dtype = _CODE_TO_DTYPE[code]
    expected = math.prod(shape) * dtype.itemsize  # Python ints: no overflow
    actual = len(payload) - header
    if actual != expected:
        problem = "is truncated" if actual < expected else "has extra bytes at the end"
        raise _bad_file(source, f"its header declares shape {shape} of {dtype.name} "
                                f"({expected} data bytes) but it holds {actual} data bytes",
                        f"the file {problem}")
    values = np.frombuffer(payload, dtype=dtype, offset=header).reshape(shape)
    return values.astype(dtype.newbyteorder("="))  # a writable, native-endian copy


def write_idx(path: str | os.PathLike[str], array: np.ndarray) -> None:
    """Write ``array`` as an IDX file, gzip-compressed when ``path`` ends in ``.gz``; atomic.

    Raises:
        DTypeError: the dtype has no IDX type code (IDX knows uint8, int8, int16, int32,
            float32 and float64).
        ShapeError: the array is 0-dimensional or has more than 255 dimensions.
    """
    values = np.asarray(array)
    code = _KIND_TO_CODE.get((values.dtype.kind, values.dtype.itemsize))
    if code is None:
        raise DTypeError(explain(
            what=f"cannot write an array of dtype {values.dtype} as IDX",
            why="IDX stores only uint8, int8, int16, int32, float32 and float64",
            fix="cast first, e.g. array.astype(np.int32) or array.astype(np.uint8)",
        ))
    if not 1 <= values.ndim <= 255:
        raise ShapeError(explain(
            what=f"cannot write a {values.ndim}-dimensional array (shape {values.shape}) as IDX",
            why="an IDX file stores between 1 and 255 dimensions",
            fix="reshape the array, e.g. np.atleast_1d(array)",
        ))
    header = bytes([0, 0, code, values.ndim]) + np.asarray(values.shape, dtype=">u4").tobytes()
    payload = header + values.astype(_CODE_TO_DTYPE[code]).tobytes()
    if str(path).endswith(".gz"):
        payload = gzip.compress(payload, mtime=0)  # mtime=0: same array, same bytes
    atomic_write_bytes(path, payload)


def _read_bytes(source: Path) -> bytes:
    """The file's content, decompressed if it is gzip."""
    if not source.is_file():
        raise SerializationError(explain(
            what=f"no IDX file at {str(source)!r}",
            why="read_idx can only read an existing file",
            fix="check the path (MNIST files are named like train-images-idx3-ubyte[.gz])",
        ))
    raw = source.read_bytes()
    if not raw.startswith(_GZIP_SIGNATURE):
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        raise _bad_file(source, f"its gzip stream cannot be decompressed ({exc})",
                        "the download was cut short or the file is damaged") from exc


def _bad_file(source: Path, what: str, why: str) -> SerializationError:
    """The error for an IDX file that exists but cannot be used."""
    return SerializationError(explain(
        what=f"{str(source)!r} is not a valid IDX file: {what}",
        why=why,
        fix="download the file again, or check that the path points to the right file",
    ))
