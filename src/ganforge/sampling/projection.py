"""Projection: find the latent from which a trained generator reproduces a given image.

For StyleGAN generators (attributes ``mapping``, ``synthesis`` and ``w_avg``) one ``w``
is optimised, broadcast to every style input, starting from ``w_avg`` with the noise
inputs held constant — the StyleGAN2 projector's choice (Karras et al. 2020, section
5; stylegan2-ada ``projector.py``), minus its LPIPS term and noise regularisation:
W is far better conditioned than Z, and starting at its mean starts at a typical image.
Every other generator has ``z`` optimised; the search starts from the best of a few
random latents, since a single start often lands in a poor basin (Lipton & Tripathi
2017, "Precise recovery of latent vectors from generative adversarial networks").
The objective is pixel MSE in [-1, 1], minimised with Adam.

``ganforge project RUN IMAGE --out PATH`` writes the target and the reconstruction side
by side (PNG) and the latent as ``.npy`` beside it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ganforge.models.base import Generator, StyleBased
from ganforge.training.fused_adam import FusedAdam

Tensor = torch.Tensor

__all__ = ["project", "load_target_image"]


def load_target_image(path: str | Path, shape: tuple[int, ...]) -> Tensor:
    """Read an image file as a (1, C, H, W) float tensor in [-1, 1] for a G of ``shape``.

    The image is centre-cropped to G's aspect (square, or 1:2 for 64x128 ...) and
    Lanczos-resized to H x W (as the image-folder loader does); colour images become
    grayscale for C=1 generators (PIL luma), grayscale ones are repeated for C=3.

    Raises:
        FileNotFoundError: no such file.
        ValueError: G does not generate images, or the file cannot be decoded.
    """
    from ganforge.data.files import decode_image

    if len(shape) != 3:
        raise ValueError(f"projection needs an image generator, this one makes {shape} items")
    c, h, w = shape
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"no such image: {p}")
    try:
        arr, gray = decode_image(p, h, channels=1 if c == 1 else 0, width=w)
    except Exception as e:  # PIL raises many types for unreadable files
        raise ValueError(f"cannot decode {p} as an image: {e}") from e
    x = torch.from_numpy(np.asarray(arr, dtype=np.float32)) / 127.5 - 1
    x = x[None] if gray else x.permute(2, 0, 1)
    if x.shape[0] != c:
        if x.shape[0] == 1 and c == 3:
            x = x.repeat(3, 1, 1)
        else:
            raise ValueError(f"{p}: {x.shape[0]} channels, the generator makes {c}")
    return x[None].contiguous()


def _initial_latent(G: Generator, target: Tensor, seed: int, n_starts: int) -> Tensor:
    if isinstance(G, StyleBased):
        return G.w_avg.detach().clone().float()[None]  # (1, w_dim)
    cands = G.make_z(n_starts, seed=seed).to(target.device)
    with torch.no_grad():
        errs = ((G(cands).float() - target) ** 2).flatten(1).mean(1)
    return cands[int(errs.argmin())][None].clone()


def _render(G: Generator, latent: Tensor) -> Tensor:
    if isinstance(G, StyleBased):
        ws = latent[:, None, :].expand(-1, G.num_ws, -1)
        return G.synthesis(ws, noise_mode="const")
    return G(latent)


def project(
    G: Generator,
    image: Tensor,
    *,
    steps: int = 500,
    lr: float = 0.05,
    seed: int = 0,
    n_starts: int = 16,
    progress: bool = True,
) -> tuple[Tensor, Tensor, list[float]]:
    """Optimise a latent so that G reproduces ``image`` (pixel MSE, Adam).

    Args:
        G: a trained image generator; used in eval mode, its weights are not changed.
        image: target (C, H, W) or (1, C, H, W) in [-1, 1], G's output shape.
        steps: Adam steps.
        lr: Adam learning rate (a step of ~0.05 per coordinate suits unit-scale latents).
        seed: seeds the random starting latents (z projection).
        n_starts: random latents tried before optimising; the closest one is refined.
        progress: show a tqdm progress bar.

    Returns:
        ``(latent, reconstruction, loss_history)``: the latent is (1, z_dim) — or
        (1, w_dim) ``w`` for StyleGAN, used for every style input — on the CPU; the
        reconstruction (1, C, H, W) in G's range; ``loss_history[i]`` the MSE before
        step ``i`` (``steps + 1`` values, the last one of the returned latent).
    """
    if image.dim() == 3:
        image = image[None]
    if tuple(image.shape[1:]) != tuple(G.out_shape):
        raise ValueError(
            f"image of shape {tuple(image.shape[1:])} but G generates {tuple(G.out_shape)}; "
            "load it with load_target_image(path, G.out_shape)"
        )
    was_training = G.training
    flags = [p.requires_grad for p in G.parameters()]
    G.eval().requires_grad_(False)
    target = image.to(G.device).float()
    history: list[float] = []
    try:
        latent = _initial_latent(G, target, seed, max(1, n_starts)).requires_grad_(True)
        opt = FusedAdam([latent], lr=lr)  # Adam's update without torch.optim's 1.5 s import
        steps_iter: Any = range(steps)
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = steps_iter = tqdm(steps_iter, desc="project", unit="step", dynamic_ncols=True)
        for _ in steps_iter:
            loss = F.mse_loss(_render(G, latent).float(), target)
            history.append(float(loss.detach()))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if bar is not None:
                bar.set_postfix(mse=f"{history[-1]:.4f}", refresh=False)
        with torch.no_grad():
            recon = _render(G, latent).float()
            history.append(float(F.mse_loss(recon, target)))
    finally:
        G.train(was_training)
        for p, f in zip(G.parameters(), flags, strict=True):
            p.requires_grad_(f)
    return latent.detach().cpu(), recon.cpu(), history
