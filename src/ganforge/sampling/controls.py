"""Controls of a generator: code traversals and per-class samples (InfoGAN, conditional
GANs), truncation and style mixing (StyleGAN), interpolation between latents (any).

Traversals work with any generator whose latent is ``[noise | codes]``
(:class:`~ganforge.models.base.LatentCodes`: InfoGAN's ``cat0``/``cont0``... codes, the
conditional GAN's ``class`` code). ``ganforge sample --traverse/--class/--truncation/
--style-mix/--interpolate`` call :func:`sample_with_controls`; Python callers get the same
images from the same functions; :mod:`ganforge.metrics.codes` scores the codes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ganforge.models.base import ClassConditional, Generator, LatentCodes, StyleBased

Tensor = torch.Tensor

#: Continuous codes are traversed over [-SPAN, SPAN]: twice the prior's range, as the
#: paper's figure 2 does (it shows the codes extrapolate).
SPAN = 2.0


def _codes_of(G: Generator) -> list[Any]:
    layout = G.code_layout if isinstance(G, LatentCodes) else None
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
    if isinstance(G, ClassConditional):
        return G.sample_class(n, int(class_id), seed=seed)
    raise ValueError(
        f"{type(G).__name__} is not class-conditional; --class needs a 'cgan' model "
        "(for InfoGAN, whose categories are learned without labels, use --traverse cat0)"
    )


def class_index(G: Generator, name_or_index: str | int) -> int:
    """A class by its index or by the name it had in the training data (the sub-folder of
    an image folder, ``data.class_names`` of the run); unknown names list the valid ones."""
    if isinstance(name_or_index, int) or str(name_or_index).lstrip("-").isdigit():
        return int(name_or_index)
    names = list(G.config.data.class_names) if G.config is not None else []
    if name_or_index in names:
        return names.index(str(name_or_index))
    valid = ", ".join(names) if names else "(this run has no class names; use 0, 1, ...)"
    raise ValueError(f"unknown class {name_or_index!r}; this run's classes: {valid}")


def _style_based(G: Generator, what: str) -> StyleBased:
    if not isinstance(G, StyleBased):
        raise ValueError(f"{what} needs a style-based generator (model 'stylegan')")
    return G


@torch.no_grad()
def style_mix(G: Generator, seed_a: int, seed_b: int, *, truncation_psi: float = 1.0) -> Tensor:
    """A strip of ``num_ws + 1`` images mixing two seeds' styles (StyleGAN, Karras et al.
    2019, figure 3): image ``k`` takes its first ``k`` styles from ``seed_a``'s latent and
    the rest from ``seed_b``'s — 0 is B's image, ``num_ws`` is A's. (num_ws + 1, C, H, W)
    in [-1, 1]."""
    Gs = _style_based(G, "style mixing")
    za, zb = G.make_z(1, seed=seed_a).to(G.device), G.make_z(1, seed=seed_b).to(G.device)
    xs = [Gs.style_mix(za, zb, k, truncation_psi=truncation_psi) for k in range(Gs.num_ws + 1)]
    return torch.cat(xs).float().cpu().clamp(-1, 1)


def interpolate(G: Generator, seed_a: int, seed_b: int, n: int) -> Tensor:
    """``n`` images (n, *out_shape) on the straight line from ``seed_a``'s latent to
    ``seed_b``'s, both ends included."""
    za, zb = G.make_z(1, seed=seed_a), G.make_z(1, seed=seed_b)
    t = torch.linspace(0, 1, n).view(-1, 1)
    z = (1 - t) * za + t * zb
    if isinstance(G, StyleBased):  # fixed noise, as every StyleGAN sample: one seed, one image
        with torch.no_grad():
            ws = G.mapping(z.to(G.device), update_w_avg=False)
            return G.synthesis(ws, noise_mode="const").float().cpu()
    return G.generate(z)


def truncated(G: Generator, n: int, truncation_psi: float, *, seed: int = 0) -> Tensor:
    """``n`` samples with W truncated towards its mean by ``truncation_psi`` (StyleGAN's
    truncation trick: below 1 trades diversity for typical, cleaner images)."""
    Gs = _style_based(G, "truncation")
    return Gs.sample(n, seed=seed, truncation_psi=truncation_psi).clamp(-1, 1)


def sample_with_controls(
    G: Generator,
    n: int,
    seed: int = 0,
    traverse: str | None = None,
    class_id: int | None = None,
    *,
    truncation: float | None = None,
    style_mix_seeds: tuple[int, int] | None = None,
    interpolate_seeds: tuple[int, int] | None = None,
) -> Tensor:
    """What ``ganforge sample`` writes: plain samples, or one control at a time.

    Args:
        G: the generator.
        n: number of samples; for a traversal, the number of rows is ``max(1, n // cols)``
            (so ``-n 100`` gives 10 rows of 10); for an interpolation, its length.
        seed: seeds the noise.
        traverse: a code name (``cat0``, ``cont1``, ``class`` ...) to vary along rows.
        class_id: generate only this class (conditional models).
        truncation: StyleGAN truncation psi (alone, or for a style-mixing strip).
        style_mix_seeds: two seeds whose styles a strip mixes (:func:`style_mix`).
        interpolate_seeds: two seeds to interpolate between (:func:`interpolate`).

    Returns:
        (N, *out_shape) in [-1, 1]; for a traversal N = rows * :func:`traversal_columns`
        and the grid should have that many columns (see :func:`write_controlled_samples`).
    """
    chosen = [traverse, class_id, style_mix_seeds, interpolate_seeds]
    if sum(c is not None for c in chosen) > 1:
        raise ValueError("give one of --traverse, --class, --style-mix, --interpolate")
    if traverse is not None:
        cols = traversal_columns(G, traverse)
        return _traverse(G, traverse, n_rows=max(1, n // cols), seed=seed)
    if class_id is not None:
        return sample_class(G, n, class_id, seed=seed)
    if style_mix_seeds is not None:
        return style_mix(G, *style_mix_seeds, truncation_psi=truncation or 1.0)
    if interpolate_seeds is not None:
        return interpolate(G, *interpolate_seeds, n)
    if truncation is not None:
        return truncated(G, n, truncation, seed=seed)
    return G.sample(n, seed=seed)


_traverse = traverse


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
