"""Real photographs through `ganforge train --data FOLDER` with no other flag.

scikit-learn ships two real photographs (``sklearn.datasets.load_sample_images()``: a
Chinese temple and a flower, 427x640). This cuts them — and any photos given with
``--photos`` — into a folder of square crops (one sub-folder per photo, a few unreadable
files among them, as real folders have), trains the default command on it and scores the
result in the random-conv proxy space (``fid*_randconv``/``kid*_randconv``: comparable with
each other only, not with published FID) against three references measured the same way:
held-out real crops (the floor), a collapsed generator (one crop repeated) and noise.

    python benchmarks/own_photos.py                      # the default run (~20 min, 2 cores)
    python benchmarks/own_photos.py --steps 300 --crops 200   # a quick look
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

CROP = 96


def cut_crops(out: Path, n: int, extra: list[Path], seed: int = 0) -> Path:
    """``n`` random CROPxCROP crops (and their mirror images) per photo, one sub-folder
    each, plus two unreadable files."""
    from sklearn.datasets import load_sample_images

    photos = {
        Path(name).stem: np.asarray(img)
        for name, img in zip(
            load_sample_images().filenames, load_sample_images().images, strict=True
        )
    }
    for p in extra:
        photos[p.stem] = np.asarray(Image.open(p).convert("RGB"))
    rng = np.random.default_rng(seed)
    shutil.rmtree(out, ignore_errors=True)
    for name, img in photos.items():
        (out / name).mkdir(parents=True)
        h, w = img.shape[:2]
        for i in range(n):
            side = int(rng.integers(CROP, min(h, w) // 2))
            y, x = int(rng.integers(0, h - side)), int(rng.integers(0, w - side))
            crop = Image.fromarray(img[y : y + side, x : x + side]).resize(
                (CROP, CROP), Image.LANCZOS
            )
            if rng.random() < 0.5:
                crop = crop.transpose(Image.FLIP_LEFT_RIGHT)
            crop.save(out / name / f"{i:04d}{'.jpg' if i % 3 else '.png'}", quality=92)
    (out / next(iter(photos)) / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    (out / "README.txt").write_text("not an image")
    return out


def proxy_scores(fake: torch.Tensor, real: torch.Tensor) -> dict[str, float]:
    from ganforge.metrics import evaluate

    n = min(len(fake), len(real))
    res = evaluate(
        fake[:n], [f"fid{n}_randconv", f"kid{n}_randconv"], real=real[:n], progress=False
    )
    return {"fid_proxy": res[f"fid{n}_randconv"], "kid_proxy": res[f"kid{n}_randconv"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--crops", type=int, default=300, help="crops per photo")
    ap.add_argument("--photos", nargs="*", type=Path, default=[], help="more photos to cut")
    ap.add_argument("--steps", type=int, help="override the preset's steps (default: none)")
    ap.add_argument("--work", type=Path, default=Path("runs/own-photos-bench"))
    ap.add_argument("--picture", type=Path, help="copy the final samples here")
    args = ap.parse_args()
    folder = cut_crops(args.work / "photos", args.crops, args.photos)
    run = args.work / "run"
    shutil.rmtree(run, ignore_errors=True)
    cmd = [sys.executable, "-m", "ganforge", "train", "--data", str(folder), "--out", str(run)]
    if args.steps:
        cmd += ["--steps", str(args.steps)]
    t0 = time.perf_counter()
    subprocess.run(cmd + ["--no-progress"], check=True)
    seconds = time.perf_counter() - t0

    from ganforge.core.config import DataConfig
    from ganforge.data import load_data
    from ganforge.hub.load import load_generator

    G = load_generator(run)
    side = G.out_shape[-1]
    held_folder = cut_crops(args.work / "held", args.crops, args.photos, seed=1)
    held = load_data(DataConfig(spec=str(held_folder), resolution=side, labels=False)).x
    train = load_data(DataConfig(spec=str(folder), resolution=side, labels=False)).x
    n = min(len(held), len(train))
    fake = G.sample(n, seed=0).clamp(-1, 1)
    rows = {
        "held-out real crops (floor)": proxy_scores(held, train),
        "ganforge train --data (default)": proxy_scores(fake, train),
        "collapsed: one crop repeated": proxy_scores(train[:1].expand(n, -1, -1, -1), train),
        "noise": proxy_scores(torch.rand(n, *train.shape[1:]) * 2 - 1, train),
    }
    records = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    notes = next((r["notes"] for r in records if r.get("event") == "fitted_to_data"), [])
    warnings = [r["message"] for r in records if r.get("event") == "warning"]
    evals = [r for r in records if r.get("event") == "eval"]
    print(f"\nfolder: {len(train)} crops of {CROP}px from {len(list(folder.iterdir())) - 1} photos "
          f"-> {side}x{side}; wall time {seconds / 60:.1f} min")  # fmt: skip
    for note in notes:
        print(f"  fitted: {note}")
    print(f"  monitor warnings: {warnings or 'none'}")
    if evals:
        own = {k: v for k, v in evals[-1].items() if isinstance(v, float)}
        print(f"  the run's own evaluation: {own}")
    print("\n| samples | FID (random-conv proxy) | KID (proxy) |\n|---|---:|---:|")
    for name, r in rows.items():
        print(f"| {name} | {r['fid_proxy']:.2f} | {r['kid_proxy']:.4f} |")
    if args.picture:
        shutil.copy(run / "samples.png", args.picture)


if __name__ == "__main__":
    main()
