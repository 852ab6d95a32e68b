"""Fitting a run to its data: what ``ganforge train --data DIR`` decides before training.

With no preset, an image folder gets the ``images`` preset with its resolution picked from
the images' sizes (:func:`pick_resolution`) and, when the images share a wide or tall
aspect, a non-square shape (:func:`pick_aspect`: a median width/height within 0.85-1.2x
of 2 or 4, or of 1/2 or 1/4, gives 1:2, 1:4, 2:1 or 4:1 height:width — 64x128 for 2:1
photos; :func:`fit_shape` does the same for presets); with any preset, every setting that
does not fit the data is adapted and each change is a note printed before training (and with
``--dry-run``) and logged in ``metrics.jsonl``:

* **batch size**: at most a quarter of the data (a whole batch per step, several per
  epoch), at least 8;
* **classes**: a class-conditional model takes the data's class count (the names of an
  image folder's sub-folders are kept for ``ganforge sample --class NAME``); a conditional
  model on unlabelled data is refused;
* **evaluation**: metric protocols are kept only where they mean something for the data
  (digit classifiers on digits, mode coverage on the 2-D mixtures), their extractor
  follows the data (the MNIST LeNet on 28x28 grey digits; the FID Inception on other
  images when its weights are cached, given, or may be fetched — ``GANFORGE_OFFLINE``
  unset — else the random-conv proxy), and a protocol that
  needs more samples than the data holds is measured at the data's size instead;
* **small data**: below :data:`SMALL_DATA` images, adaptive augmentation is switched on
  (ADA with DiffAugment's colour/translation/cutout, Karras et al. 2020, who report it
  helps below ~10k images).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from ganforge.core.config import TrainConfig
from ganforge.core.presets import load_preset_or_file
from ganforge.data.base import TensorData
from ganforge.data.files import FolderSurvey
from ganforge.metrics.evaluate import EXTRACTOR_SHORT, format_n, resolve_metric
from ganforge.metrics.inception import (
    find_inception_weights,
    inception_cache_path,
    inception_weights_obtainable,
    resolve_inception_weights,
)

#: Below this many images a run trains with adaptive augmentation.
SMALL_DATA = 5000
#: Image sides the own-data preset chooses from; CPU runs stop at 64 (time per step grows
#: ~4x per doubling: DCGAN-64 runs ~150 img/s on 2 cores, BENCHMARKS.md).
SIDES = (32, 64, 128, 256)
CPU_MAX_SIDE = 64
MIN_BATCH = 8
DIGIT_SETS = ("mnist5k", "stacked_mnist")
MIXTURES = ("ring8", "grid25")


@dataclass
class Fitted:
    """A config fitted to its data, the data, and what was changed (for the user)."""

    cfg: TrainConfig
    data: TensorData
    notes: list[str] = field(default_factory=list)


def pick_resolution(short_side: int, *, cuda: bool) -> int:
    """The largest of 32, 64, 128, 256 not above the images' median shorter side (so
    images are only ever scaled down), at most 64 on a CPU and at least 32."""
    cap = max(SIDES) if cuda else CPU_MAX_SIDE
    fitting = [s for s in SIDES if s <= min(short_side, cap)]
    return fitting[-1] if fitting else SIDES[0]


#: Width:height ratios the fitted shape may take besides 1 (the image models need powers
#: of two), and how far the folder's median aspect may be from one of them.
RATIOS = (2, 4)
ASPECT_TOLERANCE = (0.85, 1.2)  # 2 -> 1.7..2.4 wide, 1/2.4..1/1.7 = 0.417..0.588 tall


def pick_aspect(aspect: float) -> tuple[int, int]:
    """``(height factor, width factor)`` of the shape for images of median ``aspect``
    (width / height): ``(1, 2)`` for 1.7-2.4, ``(2, 1)`` for 0.417-0.588, ``(1, 4)`` /
    ``(4, 1)`` likewise around 4 and 1/4, else ``(1, 1)`` (square, centre-cropped)."""
    lo, hi = ASPECT_TOLERANCE
    for r in RATIOS:
        if lo * r <= aspect <= hi * r:
            return 1, r
        if lo * r <= 1 / aspect <= hi * r:
            return r, 1
    return 1, 1


def pick_shape(survey: FolderSurvey, *, cuda: bool) -> tuple[int, int, str]:
    """``(data.resolution, data.width, note)`` for an image folder: the shorter side by
    :func:`pick_resolution`, the longer one by :func:`pick_aspect` (width 0 = square)."""
    side = pick_resolution(survey.short_side, cuda=cuda)
    fh, fw = pick_aspect(survey.aspect)
    height, width = side * fh, side * fw
    why = (
        f"the largest of {', '.join(map(str, SIDES))} not above the images' median shorter "
        f"side ({survey.short_side} px, {survey.surveyed} surveyed)"
        + ("" if cuda else f", at most {CPU_MAX_SIDE} on a CPU")
    )
    if (fh, fw) == (1, 1):
        return height, 0, f"data.resolution = {side}: {why}"
    note = (
        f"data.resolution = {height}, data.width = {width} ({fh}:{fw} height:width): the "
        f"images' median width/height is {survey.aspect:.2f}, so they keep their aspect "
        f"(centre-cropped to exactly {fw}:{fh} width:height); the shorter side is {side}, "
        f"{why}"
    )
    return height, width, note


def fit_shape(
    cfg: TrainConfig, survey: FolderSurvey, *, cuda: bool
) -> tuple[TrainConfig, list[str]]:
    """A preset's image shape fitted to a folder: ``data.resolution = 0`` takes
    :func:`pick_shape`; a square preset on images of a consistent wide or tall aspect keeps
    its resolution as the shorter side and takes the aspect (a square crop would throw
    half of every 2:1 image away); a preset that sets ``data.width`` is kept."""
    d = cfg.data
    if d.resolution == 0:
        height, width, note = pick_shape(survey, cuda=cuda)
        note = note.replace("data.resolution =", "data.resolution 0 ->", 1)
    elif d.width == 0 and pick_aspect(survey.aspect) != (1, 1):
        fh, fw = pick_aspect(survey.aspect)
        height, width = d.resolution * fh, d.resolution * fw
        note = (
            f"data.resolution {d.resolution} -> {height}, data.width = {width} ({fh}:{fw} "
            f"height:width): the images' median width/height is {survey.aspect:.2f}, so they "
            f"keep their aspect; the preset's {d.resolution} px is the shorter side"
        )
    else:
        return cfg, []
    data = dataclasses.replace(d, resolution=height, width=width)
    return dataclasses.replace(cfg, data=data), [note]


def config_for_folder(
    folder: str, survey: FolderSurvey, *, cuda: bool
) -> tuple[TrainConfig, list[str]]:
    """The ``images`` preset with its shape (and model) chosen for an image folder."""
    _, cfg = load_preset_or_file("images")
    height, width, note = pick_shape(survey, cuda=cuda)
    data = dataclasses.replace(cfg.data, spec=folder, resolution=height, width=width)
    return dataclasses.replace(cfg, data=data), [note]


def _is_folder(spec: str) -> bool:
    return Path(spec).expanduser().is_dir()


def fit_to_data(cfg: TrainConfig, data: TensorData, *, fetch_weights: bool = False) -> Fitted:
    """Adapt ``cfg`` to ``data`` (see the module docstring); notes say what changed.

    ``fetch_weights``: when the fitted metrics need the FID Inception and its weights are
    not at hand, fetch them now — before training, so that a machine without network
    access learns it at the start (the metrics fall back to the random-conv proxy, with a
    note) rather than losing the end-of-run evaluation.
    """
    notes: list[str] = []
    n = len(data)
    # batch size
    limit = max(MIN_BATCH, n // 4)
    if cfg.batch_size > limit:
        new = 1 << (limit.bit_length() - 1)  # a power of two: the presets' sizes are
        if new > n:
            raise ValueError(f"{data.name} holds {n} items, too few to train on (need {MIN_BATCH})")
        notes.append(f"batch_size {cfg.batch_size} -> {new}: the data holds only {n} items")
        cfg = dataclasses.replace(cfg, batch_size=new)
    # classes
    if cfg.model.name == "cgan":
        want = cfg.model.args.get("num_classes", 10)
        if not data.num_classes:
            raise ValueError(
                f"model 'cgan' is class-conditional but {data.name} has no labels; use a "
                "folder with one sub-folder per class, or another preset"
            )
        if data.num_classes != want:
            names = f" ({', '.join(data.class_names)})" if data.class_names else ""
            notes.append(
                f"model.args.num_classes {want} -> {data.num_classes}: the data's classes{names}"
            )
            args = {**cfg.model.args, "num_classes": data.num_classes}
            cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, args=args))
        if data.class_names and tuple(data.class_names) != cfg.data.class_names:
            names = tuple(data.class_names)
            cfg = dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, class_names=names))
    # small data
    if data.is_image and n < SMALL_DATA and not (cfg.tricks.ada or cfg.tricks.diffaugment):
        notes.append(f"tricks.ada = true: {n} images is small data (below {SMALL_DATA:,})")
        cfg = dataclasses.replace(cfg, tricks=dataclasses.replace(cfg.tricks, ada=True))
    # evaluation
    metrics, eval_notes = fitting_metrics(list(cfg.eval.metrics), data, fetch=fetch_weights)
    notes += eval_notes
    best = cfg.eval.best if cfg.eval.best in metrics else ""
    if cfg.eval.best and not best and metrics:
        best = next((m for m in metrics if m.startswith(("fid", "kid"))), "")
    if tuple(metrics) != cfg.eval.metrics or best != cfg.eval.best:
        cfg = dataclasses.replace(
            cfg, eval=dataclasses.replace(cfg.eval, metrics=tuple(metrics), best=best)
        )
    return Fitted(cfg, data, notes)


def photo_extractor(inception: str = "inception") -> str:
    """``inception`` (or the given Inception protocol) when the FID Inception weights are
    at hand or may be fetched into the cache, else ``randconv``."""
    return inception if inception_weights_obtainable() else "randconv"


def fitting_metrics(
    names: list[str], data: TensorData, *, fetch: bool = False
) -> tuple[list[str], list[str]]:
    """The protocols of ``names`` that fit ``data`` (see the module docstring), with notes;
    ``fetch``: see :func:`fit_to_data`."""
    spec = data.name
    digits = spec in DIGIT_SETS
    out: list[str] = []
    notes: list[str] = []
    for name in names:
        m = resolve_metric(name, item_shape=data.item_shape)
        if m.kind == "classes" and not digits:
            notes.append(f"eval: dropped {name} (it classifies MNIST digits; {spec} is not them)")
            continue
        if m.kind == "modes2d" and spec not in MIXTURES:
            notes.append(f"eval: dropped {name} (mode coverage of the 2-D mixtures only)")
            continue
        if m.kind in ("classes", "modes2d"):
            out.append(name)
            continue
        ext = next((s for s, full in EXTRACTOR_SHORT.items() if full == m.extractor), "raw")
        if ext == "lenet" and not digits:
            ext = photo_extractor()
        elif ext.startswith("inception"):
            ext = photo_extractor(ext)
        count = min(m.n, len(data))
        fitted = f"{m.kind}{format_n(count)}_{ext}"
        if fitted != name:
            why = []
            if count < m.n:
                why.append(f"the data holds {len(data)} items, not {m.n:,}")
            if name.split("_")[-1] == "lenet" and ext != "lenet":
                why.append("the MNIST LeNet's features mean nothing for these images")
            if ext == "randconv" and not name.endswith("_randconv"):
                why.append(
                    "the FID Inception weights are neither given (GANFORGE_INCEPTION_WEIGHTS) "
                    f"nor cached ({inception_cache_path()}) and GANFORGE_OFFLINE forbids "
                    "fetching them, so the random-conv proxy, not comparable with published FID"
                )
            notes.append(f"eval: {name} -> {fitted} ({'; '.join(why)})")
        out.append(fitted)
    needs_inception = any("_inception" in m for m in out)
    if needs_inception and find_inception_weights() is None:  # obtainable: fetch it
        if not fetch:
            notes.append(
                "eval: the FID Inception weights (pytorch-fid's file, about 92 MB) will be "
                f"fetched once into {inception_cache_path()} before training "
                "(GANFORGE_OFFLINE=1 and GANFORGE_INCEPTION_WEIGHTS=FILE avoid the download)"
            )
        else:
            try:
                resolve_inception_weights(progress=True)
            except FileNotFoundError as e:
                proxy = [m.split("_", 1)[0] + "_randconv" if "_inception" in m else m for m in out]
                notes.append(
                    f"eval: {', '.join(out)} -> {', '.join(proxy)} (the FID Inception weights "
                    f"could not be fetched, so the random-conv proxy, not comparable with "
                    f"published FID: {e})"
                )
                out = proxy
    return list(dict.fromkeys(out)), notes
