"""Differentiable augmentation for training GANs on small data sets.

* :func:`diff_augment` — DiffAugment (Zhao, Liu, Lin, Zhu & Han, NeurIPS 2020): the same
  random, differentiable transforms are applied to real *and* generated images every time
  D sees them (in D's step and in G's step), so D cannot memorise the few real images and
  G still receives gradients through the transform. Policies, as in the paper:
  ``color`` (brightness, saturation, contrast), ``translation`` (up to 1/8 of the image
  size, zero padding) and ``cutout`` (one square of half the image size).
* :class:`AdaptiveAugment` — the adaptive augmentation probability of ADA (Karras et al.,
  NeurIPS 2020, "Training Generative Adversarial Networks with Limited Data"): each
  transform is applied per sample with probability ``p``, and ``p`` is steered by the
  overfitting heuristic ``r_t = E[sign(D(real))]`` towards a target (0.6). We use the
  DiffAugment transforms rather than ADA's 18-transform pipeline, so this is "DiffAugment
  with ADA's controller" — the combination both papers report as working.

Images are float (N, C, H, W) in [-1, 1]. Every random draw can come from a
``torch.Generator`` so an augmented run is reproducible and resumable; the generator may
live on the CPU while the images are on a GPU (numbers are drawn on the generator's
device, then moved).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

Tensor = torch.Tensor
Gen = torch.Generator | None
Op = Callable[[Tensor, Gen], Tensor]


# ----------------------------------------------------------------------------- random draws
def _rand(shape: tuple[int, ...], gen: Gen, like: Tensor) -> Tensor:
    if gen is None:
        return torch.rand(shape, device=like.device).to(like.dtype)
    return torch.rand(shape, generator=gen, device=gen.device).to(like.device, like.dtype)


def _randint(low: int, high: int, shape: tuple[int, ...], gen: Gen, like: Tensor) -> Tensor:
    if gen is None:
        return torch.randint(low, high, shape, device=like.device)
    return torch.randint(low, high, shape, generator=gen, device=gen.device).to(like.device)


# ----------------------------------------------------------------------------- transforms
def brightness(x: Tensor, gen: Gen = None) -> Tensor:
    """Add one offset in [-0.5, 0.5) per sample (a quarter of the [-1, 1] range)."""
    return x + (_rand((x.shape[0], 1, 1, 1), gen, x) - 0.5)


def saturation(x: Tensor, gen: Gen = None) -> Tensor:
    """Scale each pixel's deviation from its channel mean by a factor in [0, 2).

    A no-op on one-channel images (there is no colour to saturate).
    """
    mean = x.mean(dim=1, keepdim=True)
    return (x - mean) * (_rand((x.shape[0], 1, 1, 1), gen, x) * 2) + mean


def contrast(x: Tensor, gen: Gen = None) -> Tensor:
    """Scale each sample's deviation from its mean by a factor in [0.5, 1.5)."""
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (_rand((x.shape[0], 1, 1, 1), gen, x) + 0.5) + mean


def translation(x: Tensor, gen: Gen = None, ratio: float = 0.125) -> Tensor:
    """Shift each sample by a whole number of pixels, up to ``ratio`` of its size.

    Shifts are uniform in ``[-s, s]`` with ``s = round(ratio * size)`` on each axis;
    pixels shifted in from outside are 0 (mid-grey in [-1, 1]), as in DiffAugment.
    Implemented as a gather, so gradients flow to every pixel that stays in view.
    """
    n, c, h, w = x.shape
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    ty = _randint(-sh, sh + 1, (n,), gen, x)
    tx = _randint(-sw, sw + 1, (n,), gen, x)
    # Output pixel (i, j) reads input pixel (i - ty, j - tx).
    src_y = torch.arange(h, device=x.device)[None, :] - ty[:, None]  # (n, h)
    src_x = torch.arange(w, device=x.device)[None, :] - tx[:, None]  # (n, w)
    valid = ((src_y >= 0) & (src_y < h))[:, :, None] & ((src_x >= 0) & (src_x < w))[:, None, :]
    idx = src_y.clamp(0, h - 1)[:, :, None] * w + src_x.clamp(0, w - 1)[:, None, :]
    out = x.reshape(n, c, h * w).gather(2, idx.reshape(n, 1, h * w).expand(n, c, h * w))
    return out.reshape(n, c, h, w) * valid[:, None].to(x.dtype)


def cutout(x: Tensor, gen: Gen = None, ratio: float = 0.5) -> Tensor:
    """Zero one square of side ``round(ratio * size)`` per sample, centred anywhere.

    The centre is uniform over the image (the square is clipped at the border, so on
    average less than ``ratio**2`` of the image is erased), as in DiffAugment.
    """
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    oy = _randint(0, h + (1 - ch % 2), (n,), gen, x) - ch // 2  # top edge, may be < 0
    ox = _randint(0, w + (1 - cw % 2), (n,), gen, x) - cw // 2
    ys = torch.arange(h, device=x.device)[None, :]
    xs = torch.arange(w, device=x.device)[None, :]
    in_y = (ys >= oy[:, None]) & (ys < oy[:, None] + ch)  # (n, h)
    in_x = (xs >= ox[:, None]) & (xs < ox[:, None] + cw)  # (n, w)
    keep = ~(in_y[:, :, None] & in_x[:, None, :])
    return x * keep[:, None].to(x.dtype)


def affine_warp(
    x: Tensor, angle: Tensor, zoom: Tensor, shear: Tensor, tx: Tensor, ty: Tensor
) -> Tensor:
    """Warp images (N, C, H, W) by per-sample affine maps, bilinearly; background -1.

    Output pixel at normalised position ``p`` reads the input at
    ``R(angle) @ [[1, shear], [0, 1]] @ p / zoom + (tx, ty)`` (``affine_grid`` coordinates:
    [-1, 1] across the image, x to the right, y down). All parameters are (N,) tensors;
    angles in radians. Differentiable in ``x``.
    """
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    theta = torch.stack(
        [
            torch.stack([cos, cos * shear - sin, tx], 1),
            torch.stack([sin, sin * shear + cos, ty], 1),
        ],
        1,
    ).float()  # (N, 2, 3)
    grid = torch.nn.functional.affine_grid(theta, list(x.shape), align_corners=False)
    out = torch.nn.functional.grid_sample(
        (x + 1).float(),
        grid.to(x.device),
        mode="bilinear",
        padding_mode="zeros",
        align_corners=False,
    )
    return (out - 1).to(x.dtype)


def affine(
    x: Tensor,
    gen: Gen = None,
    rotate_deg: float = 15.0,
    scale: float = 0.1,
    shear: float = 0.2,
    shift: float = 0.1,
) -> Tensor:
    """Warp each sample by a random affine map (rotation, scale, shear, shift).

    Parameters are uniform per sample: angle in ``[-rotate_deg, rotate_deg]``, zoom in
    ``[1 - scale, 1 + scale]``, horizontal shear in ``[-shear, shear]``, shift in
    ``[-shift, shift]`` of the half-size on each axis (see :func:`affine_warp`). Used to
    make InfoGAN's Q invariant to slant and size (the self-augmentation idea of IMSAT, Hu
    et al. 2017), so a categorical code cannot be spent on them.
    """
    u = _rand((x.shape[0], 5), gen, x).float() * 2 - 1  # (N, 5) in [-1, 1)
    return affine_warp(
        x,
        u[:, 0] * (rotate_deg * torch.pi / 180.0),
        1.0 + u[:, 1] * scale,
        u[:, 2] * shear,
        u[:, 3] * shift,
        u[:, 4] * shift,
    )


AUGMENTS: dict[str, tuple[Op, ...]] = {
    "color": (brightness, saturation, contrast),
    "translation": (translation,),
    "cutout": (cutout,),
    "affine": (affine,),
}


def parse_policy(policy: str | Sequence[str]) -> list[Op]:
    """``"color,translation,cutout"`` -> the list of transforms, in order.

    Raises:
        ValueError: an unknown policy name (the message lists the valid ones).
    """
    names = policy.split(",") if isinstance(policy, str) else list(policy)
    ops: list[Op] = []
    for name in (s.strip() for s in names):
        if not name:
            continue
        if name not in AUGMENTS:
            raise ValueError(
                f"unknown augmentation {name!r} in policy {policy!r}; "
                f"valid: {', '.join(AUGMENTS)} (comma-separated)"
            )
        ops.extend(AUGMENTS[name])
    return ops


def _check_images(x: Tensor) -> None:
    if x.dim() != 4:
        raise ValueError(
            f"augmentation works on images (N, C, H, W), got shape {tuple(x.shape)}; "
            "turn augmentation off for non-image data"
        )


def diff_augment(
    x: Tensor, policy: str | Sequence[str] = "color,translation,cutout", generator: Gen = None
) -> Tensor:
    """DiffAugment: apply every transform of ``policy`` to every sample.

    Args:
        x: images (N, C, H, W) in [-1, 1] (real or generated; gradients flow through).
        policy: comma-separated names from ``color``, ``translation``, ``cutout`` and
            ``affine``; ``""`` is the identity.
        generator: RNG for the random parameters (reproducible when given).

    Returns:
        Augmented images (N, C, H, W), same dtype and device.
    """
    _check_images(x)
    for op in parse_policy(policy):
        x = op(x, generator)
    return x


class AdaptiveAugment:
    """ADA's adaptive augmentation probability around the DiffAugment transforms.

    Each transform of ``policy`` is applied independently per sample with probability
    ``p``. After every ``interval`` calls of :meth:`update` the overfitting heuristic
    ``r_t = E[sign(D(real))]`` over those calls is compared with ``target`` and ``p``
    moves by ``sign(r_t - target) * images / speed_imgs`` (clamped to [0, p_max]), where
    ``images`` is the number of real logits seen in the interval (Karras et al. 2020,
    section 3). ``r_t`` near 1 means D is confidently right on every real image — it is
    memorising them — so augmentation is increased.

    ADA uses ``speed_imgs = 500_000`` (p can go 0 -> 1 in 500k real images) for runs of
    tens of millions of images. Our small CPU runs see ~10^5 - 10^6 images, so the default
    is 100_000: at batch 64, p can traverse [0, 1] in ~1,600 steps, fast enough to react
    within a run yet slow enough to average over many batches.

    The state lives in tensors on the logits' device so that :meth:`update` and
    :meth:`__call__` never synchronise with the host; read :attr:`p`/:attr:`rt` (which
    do) only when logging, or log :meth:`stats`.

    Args:
        target: the r_t value to hold (0.6 in ADA).
        speed_imgs: real images over which p may change by 1.
        interval: adjust p every this many :meth:`update` calls (4 in ADA).
        policy: DiffAugment transforms to apply (see :func:`diff_augment`).
        p_init: initial probability.
        p_max: upper bound of p (1 in ADA; lower it if augmentations leak).
    """

    def __init__(
        self,
        target: float = 0.6,
        speed_imgs: int = 100_000,
        interval: int = 4,
        policy: str | Sequence[str] = "color,translation,cutout",
        p_init: float = 0.0,
        p_max: float = 1.0,
    ) -> None:
        if not -1.0 < target < 1.0:
            raise ValueError(f"ADA target must be in (-1, 1), got {target}")
        if speed_imgs <= 0 or interval < 1:
            raise ValueError("ADA needs speed_imgs > 0 and interval >= 1")
        if not 0.0 <= p_init <= p_max <= 1.0:
            raise ValueError(f"ADA needs 0 <= p_init <= p_max <= 1, got {p_init}, {p_max}")
        self.target = float(target)
        self.speed_imgs = int(speed_imgs)
        self.interval = int(interval)
        self.policy = policy
        self.ops = parse_policy(policy)
        self.p_max = float(p_max)
        self._p = torch.tensor(float(p_init))
        self._sum = torch.zeros(())
        self._count = 0
        self._calls = 0
        self._rt = torch.tensor(float("nan"))

    # ------------------------------------------------------------------ controller
    def _to(self, device: torch.device) -> None:
        if self._p.device != device:
            self._p, self._sum, self._rt = (t.to(device) for t in (self._p, self._sum, self._rt))

    @torch.no_grad()
    def update(self, real_logits: Tensor) -> None:
        """Accumulate ``sign(D(real))``; every ``interval`` calls, adjust ``p``.

        Args:
            real_logits: D's logits on the (augmented) real batch, any shape.
        """
        self._to(real_logits.device)
        self._sum += torch.sign(real_logits.detach().float()).sum()
        self._count += real_logits.numel()
        self._calls += 1
        if self._calls % self.interval == 0 and self._count > 0:
            self._rt = self._sum / self._count
            step = torch.sign(self._rt - self.target) * (self._count / self.speed_imgs)
            self._p = (self._p + step).clamp(0.0, self.p_max)
            self._sum.zero_()
            self._count = 0

    @property
    def p(self) -> float:
        """Current augmentation probability (synchronises with the device)."""
        return float(self._p)

    @property
    def rt(self) -> float:
        """r_t of the last completed interval (NaN before the first one)."""
        return float(self._rt)

    def stats(self) -> dict[str, Tensor]:
        """``{"ada_p": p, "ada_rt": r_t}`` as 0-dim tensors, for the engine's log dict."""
        return {"ada_p": self._p.clone(), "ada_rt": self._rt.clone()}

    # ------------------------------------------------------------------ augmentation
    def __call__(self, x: Tensor, generator: Gen = None) -> Tensor:
        """Apply each transform to each sample with probability ``p``.

        Args:
            x: images (N, C, H, W) in [-1, 1].
            generator: RNG for the per-sample decisions and transform parameters.

        Returns:
            Images (N, C, H, W); exactly ``x`` where no transform was chosen.
        """
        _check_images(x)
        p = self._p.to(x.device)
        for op in self.ops:
            chosen = _rand((x.shape[0], 1, 1, 1), generator, p) < p
            x = torch.where(chosen, op(x, generator), x)
        return x

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        """Plain numbers only, so it loads with ``torch.load(weights_only=True)``."""
        return {
            "p": float(self._p),
            "sum": float(self._sum),
            "count": self._count,
            "calls": self._calls,
            "rt": float(self._rt),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the controller exactly (p, the partial interval and the last r_t)."""
        dev = self._p.device
        self._p = torch.tensor(float(state["p"]), device=dev)
        self._sum = torch.tensor(float(state["sum"]), device=dev)
        self._count = int(state["count"])
        self._calls = int(state["calls"])
        self._rt = torch.tensor(float(state["rt"]), device=dev)
