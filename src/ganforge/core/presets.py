"""Named presets: small TOML files shipped inside the package (``ganforge/configs``)."""

from __future__ import annotations

from pathlib import Path

from ganforge.core.config import TrainConfig, load_toml
from ganforge.core.registry import Registry

PRESET_DIR = Path(__file__).resolve().parent.parent / "configs"
PRESETS: Registry[Path] = Registry("preset")
DEFAULT_PRESET = "mnist"


def preset_summary(text: str) -> str:
    """The leading comment block of a preset file, on one line, up to its first sentence."""
    lines = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        lines.append(line.lstrip("# ").strip())
    block = " ".join(lines)
    end = block.find(". ")
    return block if end < 0 else block[: end + 1]


for _path in sorted(PRESET_DIR.glob("*.toml")):
    PRESETS.add(_path.stem, _path, help=preset_summary(_path.read_text(encoding="utf-8")))


def load_preset_or_file(name_or_path: str) -> tuple[str, TrainConfig]:
    """Return ``(run_name, config)`` for a preset name or a TOML file path."""
    p = Path(name_or_path)
    if name_or_path.endswith(".toml") or p.is_file():
        return p.stem, load_toml(p)
    return name_or_path, load_toml(PRESETS.get(name_or_path))
