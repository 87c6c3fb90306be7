"""Download a file safely: stream to a temporary file, check it, then rename it into place.

A download that fails half way, or whose SHA-256 does not match, leaves nothing behind,
so a later load never reads a corrupt file.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import tempfile
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from tinytorch.core.errors import TinyTorchError, explain

_CHUNK = 1 << 20  # 1 MiB: big enough to be fast, small enough to keep memory flat
_SHA256 = re.compile(r"[0-9a-f]{64}")


class DownloadError(TinyTorchError, OSError):
    """A file could not be downloaded, or arrived corrupt."""


def download(
    url: str,
    dest: str | os.PathLike[str],
    sha256: str | None = None,
    timeout: float = 30.0,
) -> Path:
    """Fetch ``url`` into the file ``dest``; the file appears only if the whole download is good.

    Args:
        url: an ``http://``, ``https://`` or ``file://`` URL.
        dest: path of the file to create (its folder is created if needed).
        sha256: expected hex SHA-256 of the file; checked when given.
        timeout: seconds to wait for the server on each network operation.

    Returns:
        ``dest`` as a ``Path``.

    Raises:
        DownloadError: the server could not be reached or answered with an error, the body was
            shorter than announced, or the checksum did not match. No file is left at ``dest``
            (an older file already there is kept).
    """
    expected = _normalize_sha256(sha256)
    target = Path(dest)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            digest, received, announced = _stream(url, handle, timeout)
            handle.flush()
            os.fsync(handle.fileno())
        if announced is not None and received != announced:
            raise DownloadError(explain(
                what=f"{url} sent {received} bytes but announced {announced}",
                why="the connection was cut before the whole file arrived",
                fix="try again, or use another mirror",
            ))
        if expected is not None and digest != expected:
            raise DownloadError(explain(
                what=f"{url} has SHA-256 {digest}, expected {expected}",
                why="the downloaded file is corrupt or is not the file that was asked for; "
                    "it was deleted",
                fix="try again or use another mirror; check the checksum if you typed it",
            ))
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return target


def download_from_mirrors(
    name: str,
    urls: Sequence[str],
    dest_dir: Path,
    sha256: str | None = None,
    timeout: float = 30.0,
) -> tuple[Path | None, list[str]]:
    """Try ``base_url + name`` for each base URL in order; keep the first good download.

    Returns:
        ``(path, failures)``: the downloaded file (None if every mirror failed) and one line per
        failed attempt, naming the URL and the reason.
    """
    failures: list[str] = []
    for base in urls:
        url = base if base.endswith(name) else base.rstrip("/") + "/" + name
        try:
            return download(url, dest_dir / name, sha256=sha256, timeout=timeout), failures
        except DownloadError as exc:
            failures.append(str(exc).splitlines()[0])  # the "what" line names the URL
    return None, failures


def _stream(url: str, handle: IO[bytes], timeout: float) -> tuple[str, int, int | None]:
    """Copy the body at ``url`` into ``handle``; return (sha256 hex, bytes received, announced)."""
    # A fresh opener per call reads the proxy settings of this moment, not of the first call.
    opener = urllib.request.build_opener()
    digest = hashlib.sha256()
    received = 0
    try:
        with opener.open(url, timeout=timeout) as response:
            length = response.headers.get("Content-Length") if response.headers else None
            announced = int(length) if length and length.isdigit() else None
            while chunk := response.read(_CHUNK):
                handle.write(chunk)
                digest.update(chunk)
                received += len(chunk)
    except urllib.error.HTTPError as exc:
        exc.close()  # an HTTPError holds the open response; close it or the socket leaks
        raise DownloadError(explain(
            what=f"{url} answered HTTP {exc.code} ({exc.reason})",
            why="the server does not have the file at that address",
            fix="check the URL, or pass other mirrors with urls=[...]",
        )) from None
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        raise DownloadError(explain(
            what=f"could not download {url} ({reason})",
            why="the server is unreachable, too slow, or the URL is malformed",
            fix="check your network and the URL, or pass other mirrors with urls=[...]",
        )) from exc
    return digest.hexdigest(), received, announced


def _normalize_sha256(sha256: str | None) -> str | None:
    """Return the checksum in lower-case hex, or raise if it cannot be a SHA-256."""
    if sha256 is None:
        return None
    value = sha256.strip().lower()
    if not _SHA256.fullmatch(value):
        raise TinyTorchError(explain(
            what=f"sha256={sha256!r} is not a SHA-256 checksum",
            why="a SHA-256 checksum is 64 hexadecimal characters",
            fix="pass the checksum printed by `sha256sum FILE`, or sha256=None to skip the check",
        ))
    return value
