"""Controls of coded and class-conditional generators: traversals, per-class sampling and
per-class evaluation.

Works with any generator whose latent is ``[noise | codes]``
(:class:`~ganforge.models.infogan.CodedLatents`: InfoGAN's ``cat0``/``cont0``... codes,
the conditional GAN's ``class`` code). Used by ``ganforge sample --traverse CODE`` and
``--class K`` and by ``benchmarks/infogan_accuracy.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ganforge.models.base import Generator

Tensor = torch.Tensor

#: Continuous codes are traversed over [-SPAN, SPAN]: twice the prior's range, as the
#: paper's figure 2 does (it shows the codes extrapolate).
SPAN = 2.0


def _codes_of(G: Generator) -> list[Any]:
    layout = getattr(G, "code_layout", None)
    if not layout:
        raise ValueError(
            f"{type(G).__name__} has no latent codes; --traverse works with the infogan "
            "and cgan families"
        )
    return layout


def traversal_columns(G: Generator, code: str, n_cols: int = 10) -> int:
    """Number of columns of a traversal grid: the categories of a categorical code, else
    ``n_cols`` steps of a continuous one."""
    _codes_of(G)
    spec = G.code(code)  # type: ignore[attr-defined]
    return spec.dim if spec.kind == "categorical" else int(n_cols)


def traversal_latents(
    G: Generator,
    code: str,
    *,
    n_rows: int = 10,
    n_cols: int = 10,
    seed: int = 0,
    span: float = SPAN,
) -> Tensor:
    """Latents for a grid whose rows vary one code and keep everything else fixed.

    Row ``r`` holds one draw of the noise and of the other codes; its columns take the
    code's values in order: every category of a categorical code (``n_cols`` is ignored),
    or ``n_cols`` evenly spaced values in ``[-span, span]`` of a continuous code.

    Returns:
        (n_rows * columns, z_dim) float32, row-major.
    """
    _codes_of(G)
    spec = G.code(code)  # type: ignore[attr-defined]
    cols = traversal_columns(G, code, n_cols)
    base = G.make_z(n_rows, seed=seed)  # (n_rows, z_dim)
    z = base.repeat_interleave(cols, dim=0)
    if spec.kind == "categorical":
        z[:, spec.start : spec.stop] = torch.eye(spec.dim).repeat(n_rows, 1)
    else:
        z[:, spec.start] = torch.linspace(-span, span, cols).repeat(n_rows)
    return z


@torch.no_grad()
def generate(G: Generator, z: Tensor, batch_size: int = 256) -> Tensor:
    """G on latents ``z`` (N, z_dim) in batches; (N, *out_shape) float on the CPU."""
    outs = [G(z[i : i + batch_size].to(G.device)).float().cpu() for i in range(0, len(z), 256)]
    return torch.cat(outs) if outs else torch.empty(0, *G.out_shape)


def traverse(
    G: Generator, code: str, *, n_rows: int = 10, n_cols: int = 10, seed: int = 0
) -> Tensor:
    """Traversal images (n_rows * columns, C, H, W) in [-1, 1]; see :func:`traversal_latents`."""
    return generate(G, traversal_latents(G, code, n_rows=n_rows, n_cols=n_cols, seed=seed))


def sample_class(G: Generator, n: int, class_id: int, *, seed: int | None = 0) -> Tensor:
    """``n`` samples of class ``class_id`` from a class-conditional G (``cgan``).

    Raises:
        ValueError: G is not class-conditional, or the class is out of range.
    """
    if hasattr(G, "sample_class"):
        return G.sample_class(n, int(class_id), seed=seed)
    raise ValueError(
        f"{type(G).__name__} is not class-conditional; --class needs a 'cgan' model "
        "(for InfoGAN, whose categories are learned without labels, use --traverse cat0)"
    )


def sample_with_controls(
    G: Generator,
    n: int,
    seed: int = 0,
    traverse: str | None = None,
    class_id: int | None = None,
) -> Tensor:
    """What ``ganforge sample`` writes: plain samples, a traversal, or one class.

    Args:
        G: the generator.
        n: number of samples; for a traversal, the number of rows is ``max(1, n // cols)``
            (so ``-n 100`` gives 10 rows of 10).
        seed: seeds the noise.
        traverse: a code name (``cat0``, ``cont1``, ``class`` ...) to vary along rows.
        class_id: generate only this class (conditional models).

    Returns:
        (N, *out_shape) in [-1, 1]; for a traversal N = rows * :func:`traversal_columns`
        and the grid should have that many columns (see :func:`write_controlled_samples`).
    """
    if traverse is not None and class_id is not None:
        raise ValueError("give --traverse or --class, not both")
    if traverse is not None:
        cols = traversal_columns(G, traverse)
        return globals()["traverse"](G, traverse, n_rows=max(1, n // cols), seed=seed)
    if class_id is not None:
        return sample_class(G, n, class_id, seed=seed)
    return G.sample(n, seed=seed)


def write_controlled_samples(
    G: Generator,
    out: str | Path,
    n: int = 100,
    seed: int = 0,
    traverse: str | None = None,
    class_id: int | None = None,
) -> Path:
    """Write :func:`sample_with_controls` as a PNG grid (one traversal per row)."""
    from ganforge.core.imaging import save_grid

    x = sample_with_controls(G, n, seed, traverse=traverse, class_id=class_id)
    nrow = traversal_columns(G, traverse) if traverse is not None else None
    if x.dim() != 4:
        raise ValueError("controlled samples are images; write them to a .png")
    return save_grid(x, out, nrow=nrow)


# --------------------------------------------------------------------------- evaluation


@torch.no_grad()
def predict_labels(classifier: nn.Module, x: Tensor, batch_size: int = 500) -> Tensor:
    """Arg-max predictions (N,) of ``classifier`` (images in [-1, 1] -> logits) in eval mode."""
    was = classifier.training
    classifier.eval()
    dev = next(classifier.parameters()).device
    preds = [
        classifier(x[i : i + batch_size].to(dev)).argmax(1).cpu()
        for i in range(0, len(x), batch_size)
    ]
    classifier.train(was)
    return torch.cat(preds) if preds else torch.empty(0, dtype=torch.long)


def categorical_code_accuracy(
    G: Generator,
    classifier: nn.Module,
    *,
    code: str = "cat0",
    n_per_value: int = 500,
    seed: int = 0,
    num_classes: int | None = None,
) -> dict[str, Any]:
    """How well a learned categorical code matches the classifier's classes (InfoGAN's
    unsupervised classification, paper section 7.1).

    For every value ``k`` of ``code``, ``n_per_value`` images are generated with the rest
    of the latent random; the classifier labels them. The one-to-one map code value ->
    class maximising agreement (Hungarian method, ``scipy.optimize.linear_sum_assignment``)
    gives the accuracy: the share of images whose predicted class is their code value's.

    Returns:
        ``{"acc": float, "mapping": [class of value 0, ...], "confusion": (K, C) list}``.
    """
    from scipy.optimize import linear_sum_assignment

    spec = G.code(code)  # type: ignore[attr-defined]
    if spec.kind != "categorical":
        raise ValueError(f"code {code!r} is continuous; the matching needs a categorical code")
    k = spec.dim
    preds = []
    for v in range(k):
        z = G.make_latents(n_per_value, seed=seed * 1000 + v, codes={code: v})  # type: ignore[attr-defined]
        preds.append(predict_labels(classifier, generate(G, z)))
    n_cls = int(num_classes or max(k, int(max(int(p.max()) for p in preds)) + 1))
    conf = np.zeros((k, n_cls), dtype=np.int64)
    for v, p in enumerate(preds):
        conf[v] = np.bincount(p.numpy(), minlength=n_cls)[:n_cls]
    rows, cols = linear_sum_assignment(-conf)
    mapping = [-1] * k
    for r, c in zip(rows, cols, strict=True):
        mapping[int(r)] = int(c)
    acc = float(conf[rows, cols].sum() / conf.sum())
    return {"acc": acc, "mapping": mapping, "confusion": conf.tolist()}


def per_class_accuracy(
    G: Generator,
    classifier: nn.Module,
    *,
    classes: list[int] | None = None,
    n_per_class: int = 200,
    seed: int = 0,
) -> dict[str, Any]:
    """The classifier's accuracy on generated images of each requested class (cgan).

    Returns:
        ``{"per_class": {k: acc}, "mean": float, "min": float}``.
    """
    ks = list(range(G.num_classes)) if classes is None else [int(c) for c in classes]  # type: ignore[attr-defined]
    res = {}
    for k in ks:
        x = sample_class(G, n_per_class, k, seed=seed * 1000 + k)
        res[k] = float((predict_labels(classifier, x) == k).float().mean())
    vals = list(res.values())
    return {"per_class": res, "mean": float(np.mean(vals)), "min": float(np.min(vals))}


def intra_class_fid(
    G: Generator,
    real_x: Tensor,
    real_y: Tensor,
    *,
    classes: list[int] | None = None,
    n_per_class: int = 500,
    seed: int = 0,
    features: Any = None,
) -> dict[int, float]:
    """FID between generated and real images of each class (Miyato & Koyama's intra-FID).

    Args:
        G: a class-conditional generator.
        real_x, real_y: real images (N, C, H, W) in [-1, 1] and their labels (N,).
        classes: classes to measure (default all).
        n_per_class: generated images per class.
        seed: seeds the generated images.
        features: images -> (N, D) features; default the shipped LeNet's 84-d features
            (``ganforge.metrics.lenet``, 28x28 digits), i.e. per-class ``fid_lenet``.

    Returns:
        ``{class: fid}``. ``ganforge.metrics`` is imported lazily so that the rest of this
        module works without it.
    """
    try:
        from ganforge.metrics.fid import fid
    except ImportError as e:
        raise ValueError("intra-class FID needs ganforge.metrics.fid") from e
    if features is None:
        from ganforge.metrics.lenet import load_lenet

        features = load_lenet().features
    ks = list(range(G.num_classes)) if classes is None else [int(c) for c in classes]  # type: ignore[attr-defined]
    out = {}
    with torch.no_grad():
        for k in ks:
            real_k = real_x[real_y == k]
            if len(real_k) < 2:
                raise ValueError(f"need at least 2 real images of class {k}, got {len(real_k)}")
            fake_k = sample_class(G, n_per_class, k, seed=seed * 1000 + k)
            out[k] = float(fid(features(real_k), features(fake_k)))
    return out
