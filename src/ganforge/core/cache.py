"""The user cache folder and verified downloads into it.

Everything ganforge keeps between runs lives under one folder: ``$GANFORGE_CACHE`` if
set, else ``~/.cache/ganforge`` (autotune choices, real-data features, downloaded
weights). Downloads follow what the community tools do for pinned weights (torch.hub's
``download_url_to_file``, clean-fid's ``check_download_url``): stream to a temporary
file beside the target, hash while writing, compare with a pinned sha256, then rename
atomically, so an interrupted or corrupted download never looks like a good file.

``GANFORGE_OFFLINE=1`` forbids every download (the test suite sets it).
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

__all__ = [
    "cache_dir",
    "offline",
    "download",
    "file_sha256",
    "DownloadError",
    "OFFLINE_ENV",
    "CACHE_ENV",
]

CACHE_ENV = "GANFORGE_CACHE"
OFFLINE_ENV = "GANFORGE_OFFLINE"
CHUNK = 1 << 20


class DownloadError(OSError):
    """A download failed: no network, refused, too large, or the hash did not match."""


def cache_dir() -> Path:
    """``$GANFORGE_CACHE`` or ``~/.cache/ganforge`` (not created)."""
    root = os.environ.get(CACHE_ENV)
    return Path(root).expanduser() if root else Path.home() / ".cache" / "ganforge"


def offline() -> bool:
    """True when ``$GANFORGE_OFFLINE`` is set to anything but ``""``, ``0``, ``false``, ``no``."""
    return os.environ.get(OFFLINE_ENV, "").strip().lower() not in ("", "0", "false", "no")


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def download(
    url: str,
    dest: str | os.PathLike[str],
    *,
    sha256: str,
    max_bytes: int,
    progress: bool = True,
    timeout: float = 60.0,
) -> Path:
    """Fetch ``url`` to ``dest``, verified against ``sha256``; returns ``dest``.

    Args:
        url: ``https://``, ``http://`` or ``file://`` (tests stand in for the network
            with the last two).
        dest: final path; its folder is created. The bytes go to a hidden temporary file
            in the same folder first (same file system, so the rename is atomic).
        sha256: expected hex digest (lower or upper case).
        max_bytes: the download is abandoned past this size (a wrong URL can serve an
            endless or huge body; a declared Content-Length above it fails at once).
        progress: a tqdm bar in bytes.
        timeout: seconds to wait for the connection and for each read.

    Raises:
        DownloadError: offline (``$GANFORGE_OFFLINE``), unreachable, too large, or the
            hash differs (the message names the URL, the expected and the received hash).
            The temporary file is removed in every case.
    """
    dest = Path(dest)
    if offline():
        raise DownloadError(f"not downloading {url}: {OFFLINE_ENV} is set")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.part{os.getpid()}")
    h = hashlib.sha256()
    got = 0
    try:
        try:
            request = urllib.request.Request(url, headers={"User-Agent": "ganforge"})
            with urllib.request.urlopen(request, timeout=timeout) as resp, open(tmp, "wb") as f:
                declared = int(resp.headers.get("Content-Length") or 0)
                if declared > max_bytes:
                    raise DownloadError(
                        f"{url} is {declared:,} bytes, more than the {max_bytes:,} expected; "
                        "is the URL right?"
                    )
                bar = _bar(declared or None, dest.name, progress)
                try:
                    for chunk in iter(lambda: resp.read(CHUNK), b""):
                        got += len(chunk)
                        if got > max_bytes:
                            raise DownloadError(
                                f"{url} sent more than the {max_bytes:,} bytes expected; "
                                "is the URL right?"
                            )
                        h.update(chunk)
                        f.write(chunk)
                        if bar is not None:
                            bar.update(len(chunk))
                finally:
                    if bar is not None:
                        bar.close()
        except DownloadError:
            raise
        except (urllib.error.URLError, OSError, ValueError) as e:
            # URLError covers DNS, refused connections and HTTP errors; OSError timeouts
            # and resets mid-body; ValueError a malformed URL.
            raise DownloadError(f"could not download {url}: {e}") from e
        digest = h.hexdigest()
        if digest != sha256.lower():
            raise DownloadError(
                f"sha256 mismatch for {url}: expected {sha256.lower()}, got {digest} "
                f"({got:,} bytes); the file was discarded"
            )
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def _bar(total: int | None, name: str, show: bool) -> Any:  # a tqdm bar, or None
    if not show:
        return None
    from tqdm.auto import tqdm

    return tqdm(
        total=total, desc=f"downloading {name}", unit="B", unit_scale=True,
        unit_divisor=1024, dynamic_ncols=True, leave=False,
    )  # fmt: skip
