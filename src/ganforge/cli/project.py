"""``ganforge project RUN IMAGE``: find the latent (W for StyleGAN, z otherwise) whose image
is closest to a given one, and write target | reconstruction side by side plus the latent
(:mod:`ganforge.sampling.projection`)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction, help_text: str) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "project",
        help=help_text,
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("run", help="run folder, checkpoint file or zoo:NAME")
    p.add_argument("image", help="target image file (PNG, JPEG ...), resized to G's resolution")
    p.add_argument("--steps", type=int, default=500, help="optimisation steps (default 500)")
    p.add_argument("--lr", type=float, default=0.05, help="Adam learning rate (default 0.05)")
    p.add_argument("--seed", type=int, default=0, help="seed of the starting latents")
    p.add_argument(
        "--out",
        help="side-by-side PNG (target | reconstruction); the latent goes to the same name "
        "with .npy (default: IMAGE_projected.png next to the image)",
    )
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Run a projection from parsed arguments; prints where the outputs went."""
    import numpy as np
    import torch

    from ganforge.core.imaging import save_grid
    from ganforge.hub.load import load_generator
    from ganforge.models.base import StyleBased
    from ganforge.sampling.projection import load_target_image, project

    G = load_generator(args.run)
    target = load_target_image(args.image, G.out_shape)
    latent, recon, hist = project(
        G, target, steps=args.steps, lr=args.lr, seed=args.seed, progress=not args.no_progress
    )
    img = Path(args.image)
    out = Path(args.out) if args.out else img.with_name(f"{img.stem}_projected.png")
    if out.suffix.lower() != ".png":
        raise ValueError(f"--out must end in .png, got {out.name}")
    save_grid(torch.cat([target, recon.clamp(-1, 1)]), out, nrow=2)
    npy = out.with_suffix(".npy")
    np.save(npy, latent.numpy())
    kind = "w" if isinstance(G, StyleBased) else "z"
    print(f"MSE {hist[0]:.4f} -> {hist[-1]:.4f} after {args.steps} steps")
    print(f"wrote {out} (target | reconstruction) and {npy} ({kind}, shape {tuple(latent.shape)})")
    return 0
