"""Data sets from files: image folders, ``.npz``/``.npy`` arrays, MNIST IDX, CIFAR batches.

:func:`load_path` is what :func:`ganforge.data.load_data` calls when ``DataConfig.spec``
is not a built-in name. What a path holds is decided by its content (magic bytes), not
only by its name, so a renamed ``train-images-idx3-ubyte`` or ``data_batch_1`` still loads.

Formats and the choices made for them:

* **Folder of images** (recursive; ``.png .jpg .jpeg .bmp .webp .gif .tif .tiff``).
  Centre-cropped to the output's aspect and resized with Lanczos (antialiased) to
  ``cfg.resolution`` (64 when 0) square, or ``cfg.resolution x cfg.width`` (height x
  width) when ``cfg.width`` is set, as StyleGAN2-ADA's ``dataset_tool.py`` does.
  Transparent images (RGBA, LA, palette with transparency) are composited on **white**;
  16-bit images are scaled by the 16-bit range (``v * 255 / 65535``), never clipped;
  GIFs give their first frame; JPEG EXIF orientation is applied. ``cfg.channels == 0``
  gives 1 channel when every image is grayscale and 3 otherwise. When the folder's
  visible children are all folders (at least two), they are classes: ``y`` is the index
  of the sorted folder name. Hidden files and folders (``.DS_Store``) are ignored, as
  are files with other extensions; files that fail to decode are skipped, listed in
  :attr:`TensorData.skipped` and reported with a :class:`SkippedFilesWarning`.
* **Arrays** (``.npy``; ``.npz`` with key ``x``, ``images`` or ``arr_0`` and optional
  labels ``y`` or ``labels``), always loaded with ``allow_pickle=False``. 2-D arrays
  (N, D) are point data, returned as float32 unchanged. 3-D arrays are (N, H, W)
  grayscale. 4-D arrays are NHWC when the last axis is 1, 3 or 4 and axis 1 is not,
  NCHW in the mirror case, and an error otherwise. Value ranges: uint8 is [0, 255];
  floats are read as [0, 1] if all values lie there, else [-1, 1], else [0, 255]
  (so a [-1, 1] array with no negative value is read as [0, 1]); other ranges fail.
* **MNIST IDX** (LeCun's format, optionally gzipped): magic ``0x00000803`` images,
  ``0x00000801`` labels. A labels file beside the images
  (``train-images-idx3-ubyte`` -> ``train-labels-idx1-ubyte``) supplies ``y``.
* **CIFAR-10/100 python batches** (Krizhevsky 2009): a ``data_batch_N``/``test_batch``
  file, or the ``cifar-10-batches-py`` folder (all ``data_batch_*``). They are pickles,
  so they are read with :class:`NumpyOnlyUnpickler`, which can build numpy arrays and
  nothing else: a pickle that names any other global (``os.system``...) is rejected
  before anything runs.
"""

from __future__ import annotations

import gzip
import importlib
import io
import logging
import os
import pickle
import re
import struct
import warnings
import zipfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageOps

from ganforge.core.config import DataConfig
from ganforge.core.registry import DATASETS
from ganforge.data.base import TensorData
from ganforge.data.transforms import crop_box, to_model_range

logger = logging.getLogger("ganforge.data")

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".webp", ".gif", ".tif", ".tiff"})
# Only these decoders may run on user files: a file named .png that is really, say, an
# EPS (which PIL would hand to Ghostscript) is skipped instead of decoded.
PIL_FORMATS = ("PNG", "JPEG", "BMP", "WEBP", "GIF", "TIFF")  # JPEG also opens MPO
DEFAULT_FOLDER_RESOLUTION = 64
PROGRESS_MIN_FILES = 500  # a progress bar below this would flash by
WARN_LIST = 5  # skipped files named in the warning (all are in TensorData.skipped)

ACCEPTED_SPECS = (
    "a folder of images (.png .jpg .jpeg .bmp .webp .gif .tif; class sub-folders give "
    "labels), an .npz/.npy array, an MNIST IDX file (train-images-idx3-ubyte[.gz]), a "
    "CIFAR-10 python batch (data_batch_1, test_batch) or the cifar-10-batches-py folder"
)


class DataError(ValueError):
    """A data spec or file cannot be loaded; the message names the file and the fix."""


class SkippedFilesWarning(UserWarning):
    """Some files of an image folder could not be decoded and were left out."""


def load_path(cfg: DataConfig) -> TensorData:
    """Load the file or folder at ``cfg.spec`` (see the module docstring for formats).

    Args:
        cfg: ``spec`` is the path; ``resolution``/``channels`` shape images (0 keeps the
            source's, except image folders, which default to 64 pixels); ``labels``
            keeps class labels when the source has them.

    Returns:
        TensorData with images (N, C, H, W) float32 in [-1, 1] or points (N, D).

    Raises:
        DataError: missing path, unknown file type, or a malformed file.
    """
    if not cfg.spec.strip():  # Path("") is the current folder: never load that by accident
        raise DataError(_spec_error(cfg.spec, "empty"))
    path = Path(cfg.spec).expanduser()
    if not path.exists():
        raise DataError(_spec_error(cfg.spec, "no such built-in data set, file or folder"))
    if path.is_dir():
        if _cifar_batches_in(path):
            return load_cifar(path, cfg)
        return load_image_folder(path, cfg)
    kind = sniff(path)
    loaders: dict[str, Callable[[Path, DataConfig], TensorData]] = {
        "npy": load_array_file,
        "npz": load_array_file,
        "idx": load_idx,
        "pickle": load_cifar,
    }
    if kind in loaders:
        return loaders[kind](path, cfg)
    if kind == "image":
        raise DataError(
            f"{path} is a single image; point --data at the folder that holds the images "
            f"({path.parent})"
        )
    raise DataError(_spec_error(cfg.spec, "unrecognised file type"))


def _spec_error(spec: str, problem: str) -> str:
    msg = f"data spec {spec!r}: {problem}."
    if spec and os.sep not in spec and "/" not in spec and "." not in spec:  # a name?
        msg = DATASETS.unknown_message(spec) + "."
    return (
        f"{msg} A data spec is a built-in name ({', '.join(DATASETS.names())}) or a path "
        f"to {ACCEPTED_SPECS}."
    )


# ----------------------------------------------------------------------------- sniffing

_IDX_DTYPES = {0x08: "u1", 0x09: "i1", 0x0B: "i2", 0x0C: "i4", 0x0D: "f4", 0x0E: "f8"}
_IMAGE_MAGIC = (b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"BM", b"II*\x00", b"MM\x00*")


def _looks_like_idx(head: bytes) -> bool:
    return len(head) >= 4 and head[0] == head[1] == 0 and head[2] in _IDX_DTYPES and head[3] > 0


def sniff(path: Path) -> str:
    """Guess a file's kind from its first bytes: 'npy', 'npz', 'idx', 'pickle', 'image'
    or 'unknown'."""
    with open(path, "rb") as f:
        head = f.read(16)
    if head.startswith(b"\x93NUMPY"):
        return "npy"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "npz"
    if head.startswith(b"\x1f\x8b"):
        try:
            with gzip.open(path, "rb") as f:
                head = f.read(4)
        except (OSError, EOFError):
            return "unknown"
        return "idx" if _looks_like_idx(head) else "unknown"
    if _looks_like_idx(head):
        return "idx"
    if head[:1] == b"\x80":  # pickle protocol 2+ (CIFAR's python batches use protocol 2)
        return "pickle"
    if head.startswith(_IMAGE_MAGIC) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP"):
        return "image"
    return "unknown"


# ------------------------------------------------------------------------- image folders


def _visible(entries: list[os.DirEntry]) -> list[os.DirEntry]:
    return [e for e in entries if not e.name.startswith(".")]


def _is_dir(entry: os.DirEntry, unreadable: list[tuple[str, str]]) -> bool | None:
    """Whether ``entry`` is a folder; None (and a line in ``unreadable``) when it cannot be
    told: a symlink loop, a permission error, an I/O error."""
    try:
        return entry.is_dir()
    except OSError as e:
        unreadable.append((entry.path, f"{type(e).__name__}: {e.strerror or e}"))
        return None


def _walk_images(folder: Path, ignored: list[str], unreadable: list[tuple[str, str]]) -> list[Path]:
    """Image files under ``folder`` (recursive, sorted, hidden entries skipped); other
    files are appended to ``ignored``, entries that cannot be read to ``unreadable``."""
    found: list[Path] = []

    def on_error(e: OSError) -> None:
        unreadable.append((str(e.filename or folder), f"{type(e).__name__}: {e.strerror or e}"))

    for dirpath, dirnames, filenames in os.walk(folder, onerror=on_error):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            p = Path(dirpath) / name
            (found if p.suffix.lower() in IMAGE_EXTENSIONS else ignored).append(str(p))
    return [Path(p) for p in found]


def scan_image_folder(
    root: Path,
) -> tuple[list[Path], list[int] | None, list[str], list[str], list[tuple[str, str]]]:
    """Find the images of a folder and its class structure.

    Returns:
        (files, labels or None, class names, ignored non-image files, unreadable entries
        with the reason). Classes exist when ``root`` holds at least two readable
        sub-folders and no image of its own; other files beside the sub-folders (a
        README, a licence, a CSV of credits) are ignored, as folders as shared usually
        carry one.
    """
    unreadable: list[tuple[str, str]] = []
    with os.scandir(root) as it:
        entries = sorted(_visible(list(it)), key=lambda e: e.name)
    kinds = [(e, _is_dir(e, unreadable)) for e in entries]
    folders = [e for e, is_dir in kinds if is_dir]
    loose = [e for e, is_dir in kinds if is_dir is False]
    loose_images = [e for e in loose if Path(e.name).suffix.lower() in IMAGE_EXTENSIONS]
    ignored: list[str] = []
    if len(folders) >= 2 and not loose_images:
        ignored += [e.path for e in loose]
        files: list[Path] = []
        labels: list[int] = []
        for k, child in enumerate(folders):
            sub = _walk_images(Path(child.path), ignored, unreadable)
            files += sub
            labels += [k] * len(sub)
        return files, labels, [c.name for c in folders], ignored, unreadable
    return _walk_images(root, ignored, unreadable), None, [], ignored, unreadable


@dataclass(frozen=True)
class FolderSurvey:
    """What an image folder holds, read from file headers only (no pixels decoded).

    Attributes:
        files: image files found (by extension).
        short_side, aspect: median shorter side in pixels and median width / height of
            the files surveyed.
        color: whether any surveyed image has colour.
        class_names: the class sub-folders' names (empty when the folder has no classes).
        surveyed: how many files' headers were read (a seeded sample of at most 500).
    """

    files: int
    short_side: int
    aspect: float
    color: bool
    class_names: tuple[str, ...]
    surveyed: int


def survey_image_folder(root: Path, sample: int = 500) -> FolderSurvey:
    """Sizes, colour and classes of an image folder from the headers of a seeded sample of
    its files — milliseconds, so a run can be fitted to its data before loading it."""
    files, _, classes, _, _ = scan_image_folder(root)
    if not files:
        raise DataError(
            f"{root}: no image files found (looked recursively for "
            f"{' '.join(sorted(IMAGE_EXTENSIONS))})"
        )
    rng = np.random.default_rng(0)
    picked = [files[i] for i in sorted(rng.permutation(len(files))[:sample])]
    shorts, aspects, color = [], [], False
    for path in picked:
        try:
            with Image.open(path) as im:
                w, h = im.size
                color = color or im.mode not in ("1", "L", "LA", "I", "I;16", "F")
        except Exception:  # noqa: BLE001 - an unreadable file is skipped at loading time
            continue
        if w > 0 and h > 0:
            shorts.append(min(w, h))
            aspects.append(w / h)
    if not shorts:
        raise DataError(f"{root}: none of the {len(picked)} surveyed image files could be read")
    return FolderSurvey(
        files=len(files),
        short_side=int(np.median(shorts)),
        aspect=float(np.median(aspects)),
        color=color,
        class_names=tuple(classes),
        surveyed=len(shorts),
    )


def _scale_to_uint8(arr: np.ndarray) -> np.ndarray:
    """Integer or float pixels of a 16/32-bit or float image -> uint8 by value range.

    16-bit ranges are mapped by the type's range (0..65535 -> 0..255) so that images
    keep their relative brightness; only values that fit neither 8 nor 16 bits (32-bit
    TIFFs, float images outside [0, 1]) are stretched per image from min to max.
    """
    if arr.dtype == np.uint16 or arr.dtype.str.endswith("u2"):
        return ((arr.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    a = arr.astype(np.float64)
    lo, hi = (float(a.min()), float(a.max())) if a.size else (0.0, 0.0)
    if np.issubdtype(arr.dtype, np.integer):
        if lo >= 0 and hi <= 255:
            return a.astype(np.uint8)
        if lo >= 0 and hi <= 65535:
            return np.rint(a * (255 / 65535)).astype(np.uint8)
    elif lo >= 0 and hi <= 1:
        return np.rint(a * 255).astype(np.uint8)
    span = hi - lo if hi > lo else 1.0
    return np.rint((a - lo) * (255 / span)).astype(np.uint8)


def _on_white(im: Image.Image, mode: str) -> Image.Image:
    """Composite an image with alpha onto white, giving ``mode`` ('L' or 'RGB')."""
    rgba = im.convert("LA" if mode == "L" else "RGBA")
    bg = Image.new(mode, im.size, 255 if mode == "L" else (255, 255, 255))
    bg.paste(rgba.convert(mode), mask=rgba.getchannel("A"))
    return bg


def to_l_or_rgb(im: Image.Image) -> tuple[Image.Image, bool]:
    """Any PIL mode -> ('L' or 'RGB' image, is_grayscale).

    Alpha is composited on white; 16-bit and 32-bit modes are scaled, not clipped
    (PIL's own ``convert('L')`` clips 'I;16' at 255, turning most pixels white).
    """
    mode = im.mode
    if mode == "L":
        return im, True
    if mode == "1":
        return im.convert("L"), True
    if mode in ("LA", "La"):
        return _on_white(im, "L"), True
    if mode.startswith("I") or mode == "F":  # I, I;16, I;16B, I;16L, I;16N, F
        return Image.fromarray(_scale_to_uint8(np.asarray(im))), True
    if mode in ("P", "PA"):
        has_alpha = mode == "PA" or "transparency" in im.info
        im = _on_white(im, "RGB") if has_alpha else im.convert("RGB")
        arr = np.asarray(im)
        # a palette of grays (common in GIFs) is a grayscale image
        gray = bool((arr[..., 0] == arr[..., 1]).all() and (arr[..., 1] == arr[..., 2]).all())
        return (im.convert("L"), True) if gray else (im, False)
    if mode in ("RGBA", "RGBa"):
        return _on_white(im, "RGB"), False
    if mode == "RGB":
        return im, False
    return im.convert("RGB"), False  # CMYK, YCbCr, LAB, HSV, RGBX


def _open(path: Path, draft_size: int = 0) -> tuple[Image.Image, bool]:
    """Open and fully decode one image file as ('L' or 'RGB', is_grayscale): EXIF
    orientation applied, alpha composited on white, palettes and 16-bit modes converted
    (:func:`to_l_or_rgb`). ``draft_size`` lets JPEG decode at a reduced size >= it."""
    with Image.open(path, formats=PIL_FORMATS) as im:
        if draft_size and im.format in ("JPEG", "MPO"):
            # DCT-domain downscaling: decodes at 1/2, 1/4 or 1/8 size while staying
            # >= the target, several times faster for large photos
            im.draft(im.mode, (draft_size, draft_size))
        if im.getexif().get(0x0112, 1) != 1:  # EXIF orientation: camera photos
            im = ImageOps.exif_transpose(im)
        im.load()
        return to_l_or_rgb(im)


def read_image(path: str | Path) -> torch.Tensor:
    """One image file at its own size: uint8 (C, H, W), C = 1 (grey) or 3 (RGB) — the
    decoding every loader shares (image folders, translation pairs, projection targets)."""
    im, _ = _open(Path(path))
    arr = np.asarray(im)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    return torch.from_numpy(arr.copy()).permute(2, 0, 1).contiguous()


def decode_image(
    path: Path, resolution: int, channels: int = 0, width: int = 0
) -> tuple[np.ndarray, bool]:
    """Decode one file to uint8 (R, W) grayscale or (R, W, 3) RGB, centre-cropped to the
    output's aspect and Lanczos-resized to ``resolution x width``.

    Args:
        path: image file (PNG, JPEG, BMP, WebP, GIF first frame, TIFF).
        resolution: output height R.
        channels: 1 forces grayscale (PIL luma), 3 forces RGB, 0 keeps the file's.
        width: output width W (0: square, W = R).

    Returns:
        (pixels, is_grayscale). Raises whatever the decoder raises on a bad file.
    """
    out_w = width or resolution
    im, gray = _open(path, draft_size=max(resolution, out_w))
    if channels == 1 and not gray:
        im, gray = im.convert("L"), True
    w, h = im.size
    top, left, ch, cw = crop_box(h, w, resolution, out_w)
    if (ch, cw) != (h, w):
        # a real crop, not resize(box=...): the resampling filter would otherwise read
        # pixels beyond the box and bleed the cut-off borders into the edges
        im = im.crop((left, top, left + cw, top + ch))
    if (ch, cw) != (resolution, out_w):
        im = im.resize((out_w, resolution), Image.Resampling.LANCZOS, reducing_gap=3.0)
    return np.asarray(im), gray


def _decode_or_reason(args: tuple[Path, int, int, int]) -> tuple[np.ndarray | None, bool, str]:
    path, resolution, channels, width = args
    try:
        arr, gray = decode_image(path, resolution, channels, width)
        return arr, gray, ""
    except Exception as e:  # noqa: BLE001 - any decoder failure means "skip this file"
        return None, False, f"{type(e).__name__}: {e}"


def _decode_all(
    files: list[Path], resolution: int, channels: int, desc: str, width: int = 0
) -> list[Any]:
    """Decode in threads: PIL releases the GIL in its decoders and resamplers."""
    jobs = [(p, resolution, channels, width) for p in files]
    workers = min(8, os.cpu_count() or 1)
    if len(files) < 16 or workers == 1:
        it = map(_decode_or_reason, jobs)
        return list(_progress(it, len(files), desc))
    with ThreadPoolExecutor(workers) as pool:
        return list(_progress(pool.map(_decode_or_reason, jobs), len(files), desc))


def _progress(it: Any, total: int, desc: str) -> Any:
    if total <= PROGRESS_MIN_FILES:
        return it
    from tqdm.auto import tqdm

    return tqdm(it, total=total, desc=desc, unit="img", dynamic_ncols=True, leave=False)


def load_image_folder(root: Path, cfg: DataConfig) -> TensorData:
    """A folder of images (recursive) -> (N, C, R, W) in [-1, 1] (W = R unless
    ``cfg.width``); see the module docstring.

    Raises:
        DataError: the folder holds no image files, or none of them decodes.
    """
    resolution = cfg.resolution or DEFAULT_FOLDER_RESOLUTION
    width = cfg.width or resolution
    Image.init()  # registers every plugin, so PIL_FORMATS names are all known
    files, labels, classes, ignored, unreadable = scan_image_folder(root)
    if not files:
        extra = f"; ignored {len(ignored)} other files, e.g. {ignored[0]}" if ignored else ""
        raise DataError(
            f"{root}: no image files found (looked recursively for "
            f"{' '.join(sorted(IMAGE_EXTENSIONS))}){extra}"
        )
    results = _decode_all(files, resolution, cfg.channels, f"decoding {root.name}", width)
    skipped = [(str(p), r[2]) for p, r in zip(files, results, strict=True) if r[0] is None]
    skipped += unreadable
    keep = [i for i, r in enumerate(results) if r[0] is not None]
    if not keep:
        raise DataError(
            f"{root}: none of the {len(files)} image files could be decoded; first: "
            + "; ".join(f"{p} ({r})" for p, r in skipped[:WARN_LIST])
        )
    if skipped:
        names = ", ".join(f"{Path(p).name} ({r})" for p, r in skipped[:WARN_LIST])
        more = f" and {len(skipped) - WARN_LIST} more" if len(skipped) > WARN_LIST else ""
        other = f"; also ignored {len(ignored)} non-image files" if ignored else ""
        warnings.warn(
            f"{root}: skipped {len(skipped)} files or folders that could not be read or "
            f"decoded: {names}{more} (all listed in TensorData.skipped){other}",
            SkippedFilesWarning,
            stacklevel=4,  # the caller of load_data
        )
    if ignored:
        logger.info("%s: ignored %d files without an image extension", root, len(ignored))

    all_gray = all(results[i][1] for i in keep)
    channels = cfg.channels or (1 if all_gray else 3)
    out = np.empty((len(keep), channels, resolution, width), dtype=np.uint8)
    for j, i in enumerate(keep):
        arr = results[i][0]
        out[j] = arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)  # gray broadcasts
        results[i] = None  # free as we go
    x = to_model_range(torch.from_numpy(out))
    y = None
    if labels is not None and cfg.labels:
        y = torch.tensor([labels[i] for i in keep], dtype=torch.int64)
    names = list(classes) if y is not None else []
    return TensorData(x, y, str(root), len(names), skipped, class_names=names)


# ---------------------------------------------------------------------------- arrays


def _layout_to_nchw(x: np.ndarray, where: str) -> tuple[np.ndarray, str]:
    """(N, H, W), NHWC or NCHW -> NCHW, by the rule in the module docstring."""
    if x.ndim == 3:
        return x[:, None], "NHW"
    chan = (1, 3, 4)
    last, first = x.shape[3] in chan, x.shape[1] in chan
    if last and not first:
        return x.transpose(0, 3, 1, 2), "NHWC"
    if first and not last:
        return x, "NCHW"
    why = "both axis 1 and axis 3" if last else "neither axis 1 nor axis 3"
    raise DataError(
        f"{where}: cannot tell the layout of an array of shape {tuple(x.shape)}: {why} "
        f"could be the channel axis (1, 3 or 4 channels). ganforge reads NHWC when only "
        f"the last axis is 1/3/4 and NCHW when only axis 1 is. Fix: transpose to NHWC "
        f"(np.save(path, x.transpose(0, 2, 3, 1)) if it is NCHW) and save it again."
    )


def _to_unit_range(x: np.ndarray, where: str) -> tuple[np.ndarray | torch.Tensor, str]:
    """Pixels -> uint8 tensor in [0, 255] or float32 array in [0, 1], and the range read."""
    if x.dtype == np.uint8:
        return torch.from_numpy(np.ascontiguousarray(x)), "uint8 [0, 255]"
    if x.dtype == np.bool_:
        return x.astype(np.float32), "bool {0, 1}"
    if x.size == 0:
        raise DataError(f"{where}: the array is empty (shape {x.shape})")
    if np.issubdtype(x.dtype, np.integer):
        lo, hi = int(x.min()), int(x.max())
        if lo >= 0 and hi <= 255:
            return torch.from_numpy(x.astype(np.uint8)), f"{x.dtype} [0, 255]"
        if lo >= 0 and hi <= 65535:
            return (x / 65535).astype(np.float32), f"{x.dtype} [0, 65535]"
        raise DataError(f"{where}: integer pixels span [{lo}, {hi}]; expected 0..255 or 0..65535")
    if not np.issubdtype(x.dtype, np.floating):
        raise DataError(f"{where}: unsupported dtype {x.dtype}; use uint8 or float")
    if not np.isfinite(x).all():
        raise DataError(f"{where}: the array holds NaN or infinite values")
    lo, hi, tol = float(x.min()), float(x.max()), 1e-3
    if lo >= -tol and hi <= 1 + tol:
        return np.clip(x, 0, 1, dtype=np.float32), "float [0, 1]"
    if lo >= -1 - tol and hi <= 1 + tol:
        return np.clip((x + 1) / 2, 0, 1, dtype=np.float32), "float [-1, 1]"
    if lo >= -tol and hi <= 255 + tol:
        return np.clip(x / 255, 0, 1, dtype=np.float32), "float [0, 255]"
    raise DataError(
        f"{where}: float pixels span [{lo:g}, {hi:g}]; ganforge reads [0, 1], [-1, 1] or "
        f"[0, 255]. Rescale the array into one of those and save it again."
    )


def array_to_data(
    x: np.ndarray, y: np.ndarray | None, cfg: DataConfig, name: str, num_classes: int = 0
) -> TensorData:
    """An in-memory array -> TensorData (points, or images via layout/range detection).

    Args:
        x: (N, D) points, (N, H, W) grayscale, or (N, H, W, C) / (N, C, H, W) images.
        y: (N,) integer labels or None.
        cfg: resolution/channels/labels as in :func:`load_path`.
        name: shown in messages and stored as ``TensorData.name``.
        num_classes: known class count; 0 means ``max(y) + 1``.
    """
    if x.ndim == 2:  # point data (like ring8): kept as given
        if not np.issubdtype(x.dtype, np.number) or not np.isfinite(x).all():
            raise DataError(f"{name}: 2-D point data must be finite numbers (dtype {x.dtype})")
        pts = torch.from_numpy(np.asarray(x, dtype=np.float32))
        return _with_labels(TensorData(pts, name=name), y, cfg, num_classes)
    if x.ndim not in (3, 4):
        raise DataError(
            f"{name}: array of shape {tuple(x.shape)}; expected (N, D) points, (N, H, W) "
            f"grayscale or (N, H, W, C) / (N, C, H, W) images"
        )
    x, layout = _layout_to_nchw(x, name)
    pixels, value_range = _to_unit_range(x, name)
    logger.info("%s: read as %s %s, %s", name, layout, tuple(x.shape), value_range)
    if isinstance(pixels, np.ndarray):
        pixels = torch.from_numpy(pixels)
    images = to_model_range(pixels, cfg.resolution, cfg.channels, cfg.width)
    return _with_labels(TensorData(images, name=name), y, cfg, num_classes)


def _with_labels(
    data: TensorData, y: np.ndarray | None, cfg: DataConfig, num_classes: int
) -> TensorData:
    if y is None or not cfg.labels:
        return data
    y = np.asarray(y)
    if y.ndim != 1 or len(y) != len(data.x):
        raise DataError(f"{data.name}: labels of shape {y.shape} for {len(data.x)} items")
    if not np.issubdtype(y.dtype, np.number) or (y != np.rint(y)).any() or (y < 0).any():
        raise DataError(f"{data.name}: labels must be non-negative integers (dtype {y.dtype})")
    labels = torch.from_numpy(y.astype(np.int64))
    n = max(num_classes, int(labels.max()) + 1 if len(labels) else 0)
    return TensorData(data.x, labels, data.name, n, data.skipped)


def load_array_file(path: Path, cfg: DataConfig) -> TensorData:
    """``.npy`` (images or points) or ``.npz`` (key x/images/arr_0, labels y/labels)."""
    try:
        loaded = np.load(path, allow_pickle=False)
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as e:
        raise DataError(
            f"{path}: cannot read as a numpy array ({e}); object arrays are refused on "
            f"purpose (they need pickle) — save plain numeric arrays"
        ) from e
    if isinstance(loaded, np.ndarray):
        return array_to_data(loaded, None, cfg, str(path))
    with loaded:
        keys = list(loaded.keys())
        x_key = next((k for k in ("x", "images", "arr_0") if k in keys), None)
        if x_key is None:
            raise DataError(
                f"{path}: no image array in the .npz; expected key 'x', 'images' or "
                f"'arr_0', found {keys}. Save with np.savez(path, x=images, y=labels)."
            )
        y_key = next((k for k in ("y", "labels") if k in keys), None)
        try:
            x = loaded[x_key]
            y = loaded[y_key] if y_key else None
        except ValueError as e:
            raise DataError(f"{path}: {e} (object arrays are refused: they need pickle)") from e
    return array_to_data(x, y, cfg, str(path))


# ---------------------------------------------------------------------------- MNIST IDX


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (LeCun et al.'s MNIST format), plain or gzipped.

    Header: two zero bytes, a dtype code (0x08 = uint8 ...), the number of dimensions,
    then each dimension as a big-endian uint32; the data follow, big-endian.

    Raises:
        DataError: bad magic number, or a file shorter/longer than its header says.
    """
    try:
        with open(path, "rb") as f:
            raw = f.read()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except (OSError, EOFError) as e:
        raise DataError(f"{path}: cannot read the (gzipped?) IDX file: {e}") from e
    if not _looks_like_idx(raw[:4]):
        magic = int.from_bytes(raw[:4].ljust(4, b"\0"), "big")
        raise DataError(
            f"{path}: not an IDX file (magic number 0x{magic:08x}; MNIST images start with "
            f"0x00000803 and labels with 0x00000801)"
        )
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path}: truncated IDX header ({len(raw)} bytes)")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = np.dtype(_IDX_DTYPES[raw[2]]).newbyteorder(">")
    count = int(np.prod(dims, dtype=np.int64))
    expected = header + count * dtype.itemsize
    if len(raw) != expected:
        state = "truncated" if len(raw) < expected else "longer than its header says"
        raise DataError(
            f"{path}: IDX file is {state}: header says shape {dims} ({expected} bytes) "
            f"but the file has {len(raw)} bytes. Download it again."
        )
    data = np.frombuffer(raw, dtype=dtype, count=count, offset=header).reshape(dims)
    return data.astype(dtype.newbyteorder("="))


def idx_labels_path(images: Path) -> Path | None:
    """The labels file beside an IDX images file (``train-images-idx3-ubyte[.gz]`` ->
    ``train-labels-idx1-ubyte[.gz]``), or None."""
    name = images.name.replace("images", "labels").replace("idx3", "idx1")
    if name == images.name:
        return None
    base = name[:-3] if name.endswith(".gz") else name
    for cand in (name, base, base + ".gz"):
        p = images.with_name(cand)
        if p.is_file():
            return p
    return None


def load_idx(path: Path, cfg: DataConfig) -> TensorData:
    """MNIST-style IDX images (N, H, W) (+ labels from the file beside them)."""
    x = read_idx(path)
    if x.ndim == 1:
        raise DataError(
            f"{path} is an IDX labels file (1-D, magic 0x00000801); point at the images "
            f"file, e.g. train-images-idx3-ubyte — its labels are found beside it"
        )
    y = None
    labels_path = idx_labels_path(path)
    if labels_path is not None and cfg.labels:
        y = read_idx(labels_path)
        if y.ndim != 1 or len(y) != len(x):
            raise DataError(
                f"{labels_path}: {y.shape} labels do not match the {len(x)} images of {path}"
            )
    return array_to_data(x, y, cfg, str(path), num_classes=10 if y is not None else 0)


# ---------------------------------------------------------------------------- CIFAR


def _latin1_encode(text: str, encoding: str = "latin1", errors: str = "strict") -> bytes:
    """Stands in for ``_codecs.encode``: Python 3 writes ``bytes`` at pickle protocol 2
    as ``_codecs.encode(str, 'latin1')``. Only that exact use is allowed."""
    if not isinstance(text, str) or encoding.lower().replace("-", "") != "latin1":
        raise pickle.UnpicklingError(f"_codecs.encode with {encoding!r} is not allowed")
    return text.encode("latin1", errors)


@lru_cache(maxsize=1)
def _allowed_globals() -> dict[tuple[str, str], Any]:
    try:  # numpy >= 2 moved the module; old pickles still name numpy.core
        multiarray = importlib.import_module("numpy._core.multiarray")
    except ImportError:  # pragma: no cover - numpy 1.x
        multiarray = importlib.import_module("numpy.core.multiarray")
    return {
        ("numpy.core.multiarray", "_reconstruct"): multiarray._reconstruct,
        ("numpy._core.multiarray", "_reconstruct"): multiarray._reconstruct,
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("_codecs", "encode"): _latin1_encode,
    }


class NumpyOnlyUnpickler(pickle.Unpickler):
    """An unpickler that can rebuild numpy arrays, dicts, lists, strings and numbers, and
    nothing else: every other global a pickle names (``os.system``, ``builtins.eval``...)
    raises ``UnpicklingError`` before it can be called (Python docs, "Restricting
    Globals")."""

    def find_class(self, module: str, name: str) -> Any:
        obj = _allowed_globals().get((module, name))
        if obj is None:
            raise pickle.UnpicklingError(f"global {module}.{name} is not allowed")
        return obj


def restricted_unpickle(data: bytes) -> Any:
    """Unpickle ``data`` with :class:`NumpyOnlyUnpickler`; Python 2 strings stay bytes."""
    return NumpyOnlyUnpickler(io.BytesIO(data), encoding="bytes").load()


def read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray | None, int]:
    """One CIFAR-10/100 python batch -> (uint8 (N, 3, 32, 32), labels (N,) or None, classes).

    Raises:
        DataError: the pickle names a forbidden global, or is not a CIFAR batch.
    """
    try:
        obj = restricted_unpickle(path.read_bytes())
    except pickle.UnpicklingError as e:
        raise DataError(
            f"{path}: refused to unpickle ({e}). A CIFAR batch holds only numpy arrays, "
            f"lists and strings, so this file is not one, or it has been tampered with; "
            f"ganforge never runs code from a data file."
        ) from e
    except Exception as e:  # noqa: BLE001 - truncated/garbled pickles raise many types
        raise DataError(f"{path}: not a readable CIFAR python batch ({e!r})") from e
    if not isinstance(obj, dict):
        raise DataError(f"{path}: a pickle of {type(obj).__name__}, not a CIFAR batch dict")
    d = {(k.decode("latin1") if isinstance(k, bytes) else k): v for k, v in obj.items()}
    data = d.get("data")
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim not in (2, 4):
        raise DataError(f"{path}: no uint8 'data' array of shape (N, 3072); keys are {sorted(d)}")
    n = len(data)
    if data.size != n * 3 * 32 * 32:
        raise DataError(f"{path}: 'data' has shape {data.shape}, expected (N, 3072)")
    x = data.reshape(n, 3, 32, 32)  # rows are 1024 R, 1024 G, 1024 B values (CHW)
    for key, classes in (("labels", 10), ("fine_labels", 100)):
        if key in d:
            y = np.asarray(d[key], dtype=np.int64)
            if y.shape != (n,):
                raise DataError(f"{path}: {len(y)} labels for {n} images")
            return x, y, classes
    return x, None, 0


def _cifar_batches_in(folder: Path) -> list[Path]:
    pat = re.compile(r"data_batch_(\d+)$")
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := pat.match(p.name))]
    return [p for _, p in sorted(found)]


def load_cifar(path: Path, cfg: DataConfig) -> TensorData:
    """A CIFAR python batch file, or a folder whose ``data_batch_*`` are all loaded."""
    batches = _cifar_batches_in(path) if path.is_dir() else [path]
    parts = [read_cifar_batch(p) for p in batches]
    x = np.concatenate([p[0] for p in parts])
    has_y = all(p[1] is not None for p in parts)
    y = np.concatenate([p[1] for p in parts]) if has_y else None
    images = to_model_range(torch.from_numpy(x), cfg.resolution, cfg.channels, cfg.width)
    data = TensorData(images, name=str(path))
    return _with_labels(data, y, cfg, max(p[2] for p in parts) if has_y else 0)
