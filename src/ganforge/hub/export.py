"""Export a trained generator for use without the run folder.

* ``safetensors``: ``generator.safetensors`` (G_ema's weights) + ``config.json`` (the run
  config, item shape, step) — loadable with :func:`ganforge.load` (diffusers'
  ``save_pretrained`` layout; no pickle anywhere).
* ``onnx``: ``generator.onnx`` mapping latents ``z`` (N, z_dim) to samples (N, *out_shape)
  with a dynamic batch axis, for inference outside Python/PyTorch.

Image-to-image translators (pix2pix, CycleGAN) export to the same two files with
``"kind": "translation"`` in config.json
(:func:`ganforge.apps.translation.export_translator`); they load with
``load_translator``, and :func:`load_exported` refuses them with a message that says so.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import torch

from ganforge.core.checkpoint import CheckpointError
from ganforge.core.config import ConfigError, TrainConfig, from_dict, to_dict
from ganforge.models.base import Generator

EXPORT_FORMAT = "ganforge-generator"
EXPORT_VERSION = 1
WEIGHTS_NAME, CONFIG_NAME, ONNX_NAME = "generator.safetensors", "config.json", "generator.onnx"


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def is_exported_dir(path: str | Path) -> bool:
    p = Path(path)
    return (p / WEIGHTS_NAME).is_file() and (p / CONFIG_NAME).is_file()


def translation_hint(where: str) -> str:
    """How to use translation model ``where`` (a path or ``zoo:NAME``), for errors raised
    when it is loaded as a noise->image generator."""
    return (
        f"{where} is an image-to-image translation model, not a noise->image generator: "
        f"translate images with `ganforge translate apply {where} IMAGE --out OUT.png`, or "
        "in Python with ganforge.apps.translation.load_translator("
        f"{where!r})"
    )


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def export_safetensors(
    G: Generator, out_dir: str | Path, *, dtype: str = "fp32", meta: dict[str, Any] | None = None
) -> Path:
    """Write ``generator.safetensors`` + ``config.json`` for ``G`` (which must carry
    ``G.config``, as generators from :func:`ganforge.load` do).

    Args:
        dtype: ``fp32`` or ``fp16`` (halves the file; weights are cast back on load).
        meta: extra JSON-able fields stored in config.json (e.g. measured metrics).
    """
    cfg: TrainConfig = G.config  # type: ignore[attr-defined]
    info = {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "config": to_dict(cfg),
        "out_shape": list(G.out_shape),
        "step": int(getattr(G, "step", 0)),
        "dtype": dtype,
        **(meta or {}),
    }
    return write_export(out_dir, G.state_dict(), info, dtype)


def write_export(
    out_dir: str | Path, state: dict[str, torch.Tensor], info: dict[str, Any], dtype: str
) -> Path:
    """Write ``state`` (floating tensors cast to ``dtype``, fp32 or fp16) as
    ``generator.safetensors`` and ``info`` as ``config.json`` into ``out_dir``, both
    atomically; shared by generator and translator exports."""
    from safetensors.torch import save

    casts = {"fp32": torch.float32, "fp16": torch.float16}
    if dtype not in casts:
        raise ValueError(f"dtype must be fp32 or fp16, got {dtype!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cast = casts[dtype]
    tensors = {
        k: (v.to(cast) if v.is_floating_point() else v).contiguous().cpu() for k, v in state.items()
    }
    _atomic_write_bytes(out / WEIGHTS_NAME, save(tensors))
    _atomic_write_bytes(out / CONFIG_NAME, json.dumps(info, indent=2).encode())
    return out


def load_exported(path: str | Path, *, name: str | None = None) -> Generator:
    """Rebuild a generator from an exported folder (eval mode, fp32 weights).

    Args:
        path: folder holding ``generator.safetensors`` and ``config.json``.
        name: how to call it in errors (e.g. ``zoo:NAME``); default the path.

    Raises:
        CheckpointError: the folder holds an image-to-image translator (the message names
            ``ganforge translate apply`` and ``load_translator``).
        CheckpointError: config.json is not a ganforge export, or a file is not readable.
    """
    from ganforge.models import build_models

    p = Path(path)
    info = read_export_info(p)
    if info.get("kind") == "translation":
        raise CheckpointError(translation_hint(name or str(path)))
    if info.get("format") != EXPORT_FORMAT:
        raise CheckpointError(f"{p / CONFIG_NAME} is not a ganforge generator export")
    try:
        cfg = from_dict(TrainConfig, info["config"])
        out_shape = tuple(int(s) for s in info["out_shape"])
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"{p / CONFIG_NAME}: invalid export description: {e}") from None
    try:
        G, _ = build_models(cfg.model, out_shape)
    except ConfigError as e:
        raise CheckpointError(f"{p / CONFIG_NAME}: {e}") from None
    state = read_weights(p / WEIGHTS_NAME)
    try:
        G.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
    except RuntimeError as e:
        first = str(e).splitlines()[0]
        raise CheckpointError(f"{p / WEIGHTS_NAME} does not fit its config.json: {first}") from None
    G.eval().requires_grad_(False)
    G.config = cfg
    G.step = int(info.get("step", 0))
    return G


def read_export_info(folder: Path) -> dict[str, Any]:
    """``config.json`` of an exported folder as a dict; a clear error when it is not JSON."""
    path = folder / CONFIG_NAME
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as e:
        raise CheckpointError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(info, dict):
        raise CheckpointError(f"{path}: expected a JSON object, got {type(info).__name__}")
    return info


def read_weights(path: Path) -> dict[str, torch.Tensor]:
    """The tensors of a safetensors file; a clear error when it is truncated or corrupt."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"{path}: not a readable safetensors file ({e})") from None


def export_onnx(G: Generator, out_dir: str | Path, *, opset: int = 17) -> Path:
    """Write ``generator.onnx`` (input ``z`` (N, z_dim) -> output ``x`` (N, *out_shape))."""
    try:
        import onnx  # noqa: F401
    except ImportError:
        raise ConfigError(
            "ONNX export needs the onnx package: pip install 'ganforge[onnx]' (or pip install "
            "onnx); the safetensors export (--format safetensors) needs nothing more"
        ) from None
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / ONNX_NAME
    tmp = out / f".{ONNX_NAME}.tmp"
    z = G.make_z(2, seed=0).to(G.device)
    torch.onnx.export(
        G,
        (z,),
        str(tmp),
        input_names=["z"],
        output_names=["x"],
        dynamic_axes={"z": {0: "batch"}, "x": {0: "batch"}},
        opset_version=opset,
        dynamo=False,
    )
    os.replace(tmp, path)
    return path
