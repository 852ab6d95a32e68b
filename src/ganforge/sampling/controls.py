"""Controls of coded and class-conditional generators: traversals and per-class sampling.

Works with any generator whose latent is ``[noise | codes]``
(:class:`~ganforge.models.infogan.CodedLatents`: InfoGAN's ``cat0``/``cont0``... codes,
the conditional GAN's ``class`` code). Used by ``ganforge sample --traverse CODE`` and
``--class K``; :mod:`ganforge.metrics.codes` scores them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

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


def traverse(
    G: Generator, code: str, *, n_rows: int = 10, n_cols: int = 10, seed: int = 0
) -> Tensor:
    """Traversal images (n_rows * columns, C, H, W) in [-1, 1]; see :func:`traversal_latents`."""
    return G.generate(traversal_latents(G, code, n_rows=n_rows, n_cols=n_cols, seed=seed))


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
