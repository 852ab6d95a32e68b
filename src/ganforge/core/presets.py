"""Named presets: small TOML files shipped inside the package (``ganforge/configs``)."""

from __future__ import annotations

from pathlib import Path

from ganforge.core.config import TrainConfig, load_toml
from ganforge.core.registry import Registry

PRESET_DIR = Path(__file__).resolve().parent.parent / "configs"
PRESETS: Registry[Path] = Registry("preset")
DEFAULT_PRESET = "dcgan-mnist"

for _path in sorted(PRESET_DIR.glob("*.toml")):
    _first = _path.read_text(encoding="utf-8").splitlines()[0].lstrip("# ").strip()
    PRESETS.add(_path.stem, _path, help=_first)


def load_preset_or_file(name_or_path: str) -> tuple[str, TrainConfig]:
    """Return ``(run_name, config)`` for a preset name or a TOML file path."""
    p = Path(name_or_path)
    if name_or_path.endswith(".toml") or p.is_file():
        return p.stem, load_toml(p)
    return name_or_path, load_toml(PRESETS.get(name_or_path))
