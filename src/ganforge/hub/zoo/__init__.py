"""The model zoo: generators trained by this project, shipped with their measured numbers.

Entries are listed in ``zoo/entries.toml`` (written by ``scripts/train_zoo.py``, which
trains each one reproducibly on CPU). An entry names an exported generator folder
(``generator.safetensors`` + ``config.json``) inside the package, its sha256, the data it
was trained on, the numbers measured for it under named protocols and the command that
reproduces it. An entry may instead (or also) give a URL; downloads are cached under
``$GANFORGE_CACHE/zoo`` (default ``~/.cache/ganforge/zoo``) and verified by hash before use.

    ganforge zoo list
    ganforge sample zoo:dcgan-mnist -n 64 --out digits.png
    G = ganforge.load("zoo:dcgan-mnist")

Image-to-image translation entries (``pix2pix-edges``) use the same folder
layout with ``"kind": "translation"`` in config.json; they load with
``ganforge.apps.translation.load_translator("zoo:NAME")`` or
``ganforge translate apply zoo:NAME IMAGE --out OUT.png``. Tabular entries
(``tabular-penguins``) hold ``"kind": "tabular"`` and the table's ``tabular.json``; they
load with ``ganforge.apps.tabular.TabularGAN.load("zoo:NAME")`` or
``ganforge sample zoo:NAME -n 100 --out rows.csv``.
"""

from __future__ import annotations

import os
import sys
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ganforge.core.cache import cache_dir
from ganforge.core.registry import Registry
from ganforge.hub.export import CONFIG_NAME, WEIGHTS_NAME, sha256_file

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ZOO_DIR = Path(__file__).parent
ENTRIES_FILE = ZOO_DIR / "entries.toml"


class ZooError(RuntimeError):
    """A zoo entry is unknown, missing or fails its hash check."""


@dataclass(frozen=True)
class ZooEntry:
    name: str
    data: str
    model: str
    sha256: str
    path: str = ""  # folder relative to the zoo package
    url: str = ""  # base URL holding generator.safetensors and config.json
    numbers: dict[str, Any] = field(default_factory=dict)
    command: str = ""
    description: str = ""


def _cache_dir() -> Path:
    return cache_dir() / "zoo"


def load_entries(path: Path = ENTRIES_FILE) -> Registry[ZooEntry]:
    reg: Registry[ZooEntry] = Registry("zoo entry", "zoo entries")
    if not path.exists():
        return reg
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    for name, e in data.get("entry", {}).items():
        reg.add(name, ZooEntry(name=name, **e), help=e.get("description", ""))
    return reg


ZOO = load_entries()


def _verify(folder: Path, entry: ZooEntry) -> Path:
    digest = sha256_file(folder / WEIGHTS_NAME)
    if digest != entry.sha256:
        raise ZooError(
            f"zoo:{entry.name}: {folder / WEIGHTS_NAME} has sha256 {digest}, "
            f"expected {entry.sha256}; delete it to download again"
        )
    return folder


def download_entry(entry: ZooEntry, cache: Path | None = None) -> Path:
    """Fetch an entry's files from its URL into the cache (atomic) and verify the hash."""
    folder = (cache or _cache_dir()) / entry.name
    if (folder / WEIGHTS_NAME).is_file():
        return _verify(folder, entry)
    folder.mkdir(parents=True, exist_ok=True)
    for fname in (CONFIG_NAME, WEIGHTS_NAME):
        url = entry.url.rstrip("/") + "/" + fname
        tmp = folder / f".{fname}.part"
        try:
            with urllib.request.urlopen(url, timeout=60) as r, open(tmp, "wb") as f:
                while block := r.read(1 << 20):
                    f.write(block)
        except OSError as e:
            raise ZooError(f"zoo:{entry.name}: cannot download {url}: {e}") from e
        os.replace(tmp, folder / fname)
    try:
        return _verify(folder, entry)
    except ZooError:
        (folder / WEIGHTS_NAME).unlink()  # never leave a file that failed its check
        raise


def resolve_zoo(name: str, registry: Registry[ZooEntry] | None = None) -> Path:
    """The local folder of zoo entry ``name`` (downloading it when only a URL is known)."""
    reg = registry or ZOO
    entry = reg.get(name)
    if entry.path:
        folder = ZOO_DIR / entry.path
        if (folder / WEIGHTS_NAME).is_file():
            return _verify(folder, entry)
    if entry.url:
        return download_entry(entry)
    raise ZooError(f"zoo:{name}: its weights are not installed and it has no URL")


def format_table(registry: Registry[ZooEntry] | None = None) -> str:
    reg = registry or ZOO
    rows = [("name", "data", "model", "numbers")]
    for n in reg.names():
        e = reg.get(n)
        nums = ", ".join(
            f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in e.numbers.items()
        )
        rows.append((n, e.data, e.model, nums))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    return "\n".join(
        f"{r[0].ljust(widths[0])}  {r[1].ljust(widths[1])}  {r[2].ljust(widths[2])}  {r[3]}"
        for r in rows
    )
