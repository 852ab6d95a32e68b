"""Data for image-to-image translation: paired and unpaired folders, side-by-side A|B files,
and synthetic tasks on mnist5k whose true mapping is known, so quality is a number.

Data SPEC (``load_translation_data``):

* ``mnist-edges``: digit -> its edges (morphological gradient of the binarised digit).
* ``mnist-color``: grey digit -> the digit painted in its class's colour (ten fixed hues).
* a folder with ``A/`` and ``B/`` holding files with matching names (paired; pix2pix);
* a folder of side-by-side images, A on the left half and B on the right (the layout the
  pix2pix data sets — facades, maps, edges2shoes — are distributed in); a ``train/``
  subfolder is used when present, ``val/`` or ``test/`` become the held-out set;
* a folder with ``trainA/`` and ``trainB/`` (unpaired; CycleGAN), optional ``testA/`` and
  ``testB/`` as held-out images.

The synthetic tasks hold out the last 50 digits of every class (500 images): mnist5k is
sorted by label, so "the last 500" would be all nines.
"""

from __future__ import annotations

import colorsys
import functools
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ganforge.data.files import IMAGE_EXTENSIONS, read_image
from ganforge.data.transforms import to_model_range

SYNTHETIC_TASKS = ("mnist-edges", "mnist-color")
HELD_OUT_PER_CLASS = 50

__all__ = [
    "TranslationData",
    "load_translation_data",
    "load_paired_folder",
    "load_side_by_side_folder",
    "load_unpaired_folder",
    "synthetic_task",
    "mnist_edges",
    "mnist_color",
    "DIGIT_COLORS",
    "list_images",
    "SYNTHETIC_TASKS",
]


@dataclass
class TranslationData:
    """Two image domains held in memory, float (N, C, R, R) in [-1, 1].

    Attributes:
        a: domain-A training images (N_A, C_A, R, R).
        b: domain-B training images (N_B, C_B, R, R); ``b[i]`` is the target of ``a[i]``
            when ``paired``, else unrelated to it (N_A may differ from N_B).
        paired: whether ``a[i]`` and ``b[i]`` correspond (pix2pix needs this).
        name: the SPEC it came from.
        a_test: held-out domain-A images, or None.
        b_test: held-out domain-B images; for the synthetic tasks and paired folders the
            true translation of ``a_test`` (so errors can be measured), else None or
            unpaired test images.
        test_paired: whether ``b_test[i]`` is the true image for ``a_test[i]``.
        skipped: files that could not be read, ``(path, reason)``.
    """

    a: torch.Tensor
    b: torch.Tensor
    paired: bool
    name: str = ""
    a_test: torch.Tensor | None = None
    b_test: torch.Tensor | None = None
    test_paired: bool = False
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.paired and len(self.a) != len(self.b):
            raise ValueError(f"{self.name}: paired data with {len(self.a)} A and {len(self.b)} B")
        if len(self.a) == 0 or len(self.b) == 0:
            raise ValueError(f"{self.name}: a domain is empty ({len(self.a)} A, {len(self.b)} B)")

    @property
    def channels(self) -> tuple[int, int]:
        return int(self.a.shape[1]), int(self.b.shape[1])

    @property
    def resolution(self) -> int:
        return int(self.a.shape[-1])


# ----------------------------------------------------------------------------- synthetic
def _held_out_mask(labels: np.ndarray) -> np.ndarray:
    """True for the last ``HELD_OUT_PER_CLASS`` items of each class, in data order."""
    mask = np.zeros(len(labels), dtype=bool)
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        mask[idx[-HELD_OUT_PER_CLASS:]] = True
    return mask


def mnist_edges(x: torch.Tensor) -> torch.Tensor:
    """True mapping of ``mnist-edges``: (N, 1, H, W) digits in [-1, 1] -> binary edge maps.

    The digit is binarised at mid-grey; its 3x3 morphological gradient (dilation minus
    erosion) marks pixels on either side of the stroke boundary. Output in {-1, 1}.
    """
    ink = (x > 0).float()
    dilated = F.max_pool2d(ink, 3, 1, 1)
    eroded = -F.max_pool2d(-ink, 3, 1, 1)
    return (dilated - eroded) * 2 - 1


def _digit_palette() -> torch.Tensor:
    rgb = [colorsys.hsv_to_rgb(k / 10, 1.0, 1.0) for k in range(10)]
    return torch.tensor(rgb, dtype=torch.float32)


DIGIT_COLORS = _digit_palette()
"""(10, 3) RGB in [0, 1]: digit k is painted with hue k/10 at full saturation and value."""


def mnist_color(x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """True mapping of ``mnist-color``: (N, 1, H, W) grey digits in [-1, 1] and (N,) labels
    -> (N, 3, H, W) in [-1, 1]: intensity times the class colour, on black.

    The network never sees the label; it must recognise the digit to pick the colour.
    """
    intensity = (x + 1) / 2
    colour = DIGIT_COLORS[labels].to(x.dtype)[:, :, None, None]
    return intensity * colour * 2 - 1


@functools.lru_cache(maxsize=1)
def _mnist5k() -> tuple[torch.Tensor, torch.Tensor]:
    """mnist5k as (5000, 1, 28, 28) in [-1, 1] and labels, decoded once per process (the
    CSV parse takes seconds); callers index into it and never modify it in place."""
    from ganforge.data.builtin import mnist5k_arrays

    x_np, y_np = mnist5k_arrays()
    return to_model_range(torch.from_numpy(x_np)[:, None]), torch.from_numpy(y_np)


def synthetic_task(name: str, *, paired: bool = True, seed: int = 0) -> TranslationData:
    """Build ``mnist-edges`` or ``mnist-color`` from mnist5k (4,500 train, 500 held out).

    When ``paired`` is False (CycleGAN), the training B images are the true translations of
    an independently shuffled copy of A, so no A image is shown with its own target; the
    held-out pairs stay aligned to measure the error against the true mapping.
    """
    if name not in SYNTHETIC_TASKS:
        raise ValueError(f"unknown synthetic task {name!r}; choose one of {SYNTHETIC_TASKS}")
    x, y = _mnist5k()
    y_np = y.numpy()
    b = mnist_edges(x) if name == "mnist-edges" else mnist_color(x, y)
    test = torch.from_numpy(_held_out_mask(y_np))
    a_train, b_train = x[~test], b[~test]
    if not paired:
        perm = torch.randperm(len(b_train), generator=torch.Generator().manual_seed(seed))
        b_train = b_train[perm]
    return TranslationData(
        a_train, b_train, paired, name, a_test=x[test], b_test=b[test], test_paired=True
    )


# ----------------------------------------------------------------------------- files
def list_images(folder: Path) -> list[Path]:
    """Image files directly inside ``folder``, sorted by name (hidden files skipped)."""
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith(".")
    )


def _stack(images: list[torch.Tensor], resolution: int, channels: int) -> torch.Tensor:
    """List of uint8 (C, H, W) -> float (N, C', R, R) in [-1, 1]; C' = ``channels``, or 3 if
    any image has colour, else 1 — one domain must share one channel count."""
    if not channels:
        channels = 3 if any(im.shape[0] >= 3 for im in images) else 1
    return torch.cat([to_model_range(im[None], resolution, channels) for im in images])


def _read_all(paths: list[Path], skipped: list[tuple[str, str]]) -> list[tuple[Path, torch.Tensor]]:
    out = []
    for p in paths:
        try:
            out.append((p, read_image(p)))
        except Exception as e:  # noqa: BLE001 - any decoder failure means: skip this file
            skipped.append((str(p), str(e) or type(e).__name__))
    return out


def load_paired_folder(
    root: str | Path, resolution: int = 64, channels: int = 0
) -> TranslationData:
    """``root/A/NAME.*`` paired with ``root/B/NAME.*`` (matched by file stem)."""
    root = Path(root)
    a_files = {p.stem: p for p in list_images(root / "A")}
    b_files = {p.stem: p for p in list_images(root / "B")}
    common = sorted(a_files.keys() & b_files.keys())
    if not common:
        raise ValueError(
            f"{root}: no file name appears in both A/ ({len(a_files)} images) and B/ "
            f"({len(b_files)} images); paired data needs A/x.png and B/x.png with the same name"
        )
    skipped: list[tuple[str, str]] = []
    only = sorted(a_files.keys() ^ b_files.keys())
    skipped += [(n, "no partner with the same name in the other folder") for n in only]
    a_read = dict((p.stem, im) for p, im in _read_all([a_files[n] for n in common], skipped))
    b_read = dict((p.stem, im) for p, im in _read_all([b_files[n] for n in common], skipped))
    names = [n for n in common if n in a_read and n in b_read]
    if not names:
        raise ValueError(f"{root}: none of the {len(common)} matched pairs could be read")
    a = _stack([a_read[n] for n in names], resolution, channels)
    b = _stack([b_read[n] for n in names], resolution, channels)
    return TranslationData(a, b, True, str(root), skipped=skipped)


def _split_side_by_side(
    files: list[Path], skipped: list[tuple[str, str]]
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    lefts, rights = [], []
    for p, im in _read_all(files, skipped):
        w = im.shape[-1]
        if w % 2:
            skipped.append((str(p), f"width {w} is odd; a side-by-side A|B image has even width"))
            continue
        lefts.append(im[..., : w // 2])
        rights.append(im[..., w // 2 :])
    return lefts, rights


def load_side_by_side_folder(
    root: str | Path, resolution: int = 64, channels: int = 0
) -> TranslationData:
    """Images with A in the left half and B in the right half (pix2pix's distributed layout).

    Uses ``root/train/`` when it exists (with ``root/val/`` or ``root/test/`` as held-out
    pairs), else every image directly in ``root``.
    """
    root = Path(root)
    train_dir = root / "train" if (root / "train").is_dir() else root
    skipped: list[tuple[str, str]] = []
    la, rb = _split_side_by_side(list_images(train_dir), skipped)
    if not la:
        raise ValueError(
            f"{train_dir}: no readable side-by-side A|B images (expected image files with the "
            "A half on the left and the B half on the right)"
        )
    a, b = _stack(la, resolution, channels), _stack(rb, resolution, channels)
    a_test = b_test = None
    for held in ("val", "test"):
        if train_dir is not root and (root / held).is_dir():
            ta, tb = _split_side_by_side(list_images(root / held), skipped)
            if ta:
                a_test = _stack(ta, resolution, a.shape[1])
                b_test = _stack(tb, resolution, b.shape[1])
                break
    return TranslationData(
        a, b, True, str(root), a_test, b_test, test_paired=a_test is not None, skipped=skipped
    )


def load_unpaired_folder(
    root: str | Path, resolution: int = 64, channels: int = 0
) -> TranslationData:
    """``root/trainA/`` and ``root/trainB/`` (any file names, any counts); ``testA/`` and
    ``testB/`` become held-out images when present (CycleGAN's data layout)."""
    root = Path(root)
    skipped: list[tuple[str, str]] = []
    domains = []
    for d in ("trainA", "trainB"):
        ims = [im for _, im in _read_all(list_images(root / d), skipped)]
        if not ims:
            raise ValueError(f"{root / d}: no readable images")
        domains.append(_stack(ims, resolution, channels))
    tests: list[torch.Tensor | None] = []
    for d, ref in (("testA", domains[0]), ("testB", domains[1])):
        ims = (
            [im for _, im in _read_all(list_images(root / d), skipped)]
            if (root / d).is_dir()
            else []
        )
        tests.append(_stack(ims, resolution, ref.shape[1]) if ims else None)
    return TranslationData(
        domains[0], domains[1], False, str(root), tests[0], tests[1], skipped=skipped
    )


def load_translation_data(
    spec: str, *, paired: bool, resolution: int = 0, channels: int = 0, seed: int = 0
) -> TranslationData:
    """Resolve a data SPEC (see the module docstring) into :class:`TranslationData`.

    Args:
        spec: synthetic task name or folder path.
        paired: the method needs pairs (pix2pix); False (CycleGAN) also accepts paired
            folders and simply ignores the pairing.
        resolution: square side to resize folder images to; 0 means 64 for folders and
            the native 28 for the mnist tasks.
        channels: force 1 or 3 channels for folder images; 0 infers per domain.
        seed: shuffles B of the synthetic tasks when unpaired.
    """
    if spec in SYNTHETIC_TASKS:
        data = synthetic_task(spec, paired=paired, seed=seed)
        if resolution and resolution != data.resolution:
            data = _resize(data, resolution)
        return data
    root = Path(spec)
    if not root.is_dir():
        raise FileNotFoundError(
            f"translation data {spec!r} is neither a synthetic task {SYNTHETIC_TASKS} nor a folder"
        )
    res = resolution or 64
    if (root / "trainA").is_dir() and (root / "trainB").is_dir():
        if paired:
            raise ValueError(
                f"{root} holds unpaired trainA/ and trainB/; pix2pix needs paired data "
                "(A/ and B/ with matching names, or side-by-side images); use cyclegan"
            )
        return load_unpaired_folder(root, res, channels)
    if (root / "A").is_dir() and (root / "B").is_dir():
        data = load_paired_folder(root, res, channels)
    else:
        data = load_side_by_side_folder(root, res, channels)
    data.paired = paired
    return data


def _resize(data: TranslationData, resolution: int) -> TranslationData:
    def rs(x: torch.Tensor | None) -> torch.Tensor | None:
        if x is None:
            return None
        return to_model_range((x + 1) / 2, resolution)

    return TranslationData(
        rs(data.a),
        rs(data.b),
        data.paired,
        data.name,
        rs(data.a_test),
        rs(data.b_test),  # type: ignore[arg-type]
        data.test_paired,
        data.skipped,
    )
