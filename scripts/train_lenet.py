"""Train the shipped LeNet (ganforge/weights/lenet_mnist.safetensors) on mnist5k.

Deterministic: fixed seeds, one thread, deterministic algorithms, so the same torch
version on the same CPU reproduces the weights bit for bit (checked: two runs give
identical tensors; the file bytes can differ because safetensors writes the metadata
keys in arbitrary order). The first 100 digits of each
class (in mnist5k order, 1,000 in all) are held out; the rest (4,000) train the network
with random shifts of up to 2 pixels (generated digits are rarely perfectly centred).

    python scripts/train_lenet.py [--out PATH] [--epochs 30]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from ganforge.core.config import DataConfig
from ganforge.data import load_data
from ganforge.metrics.lenet import WEIGHTS_PATH, LeNet

HOLDOUT_PER_CLASS = 100


def split(y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices (train, holdout): the first 100 of each class are held out."""
    hold = torch.cat([torch.nonzero(y == c).flatten()[:HOLDOUT_PER_CLASS] for c in range(10)])
    mask = torch.ones(len(y), dtype=torch.bool)
    mask[hold] = False
    return torch.nonzero(mask).flatten(), hold.sort().values


def shift(x: torch.Tensor, gen: torch.Generator, max_shift: int = 2) -> torch.Tensor:
    """Translate each image by an integer offset in [-2, 2]^2, filling with background -1."""
    n = len(x)
    pad = F.pad(x, (max_shift,) * 4, value=-1.0)
    dx = torch.randint(0, 2 * max_shift + 1, (n,), generator=gen)
    dy = torch.randint(0, 2 * max_shift + 1, (n,), generator=gen)
    h, w = x.shape[-2:]
    return torch.stack([pad[i, :, dy[i] : dy[i] + h, dx[i] : dx[i] + w] for i in range(n)])


@torch.no_grad()
def accuracy(model: LeNet, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    return float((model(x).argmax(1) == y).double().mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--out", default=str(WEIGHTS_PATH))
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    torch.manual_seed(args.seed)
    data = load_data(DataConfig(spec="mnist5k"))
    x, y = data.x, data.y
    assert y is not None
    tr, ho = split(y)
    model = LeNet()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.epochs)
    gen = torch.Generator().manual_seed(args.seed)
    t0 = time.time()
    for epoch in range(args.epochs):
        model.train()
        perm = tr[torch.randperm(len(tr), generator=gen)]
        for i in range(0, len(perm), 64):
            idx = perm[i : i + 64]
            loss = F.cross_entropy(model(shift(x[idx], gen)), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        sched.step()
        if (epoch + 1) % 5 == 0:
            print(f"epoch {epoch + 1}: holdout accuracy {accuracy(model, x[ho], y[ho]):.4f}")
    acc = accuracy(model, x[ho], y[ho])
    train_acc = accuracy(model, x[tr], y[tr])
    meta = {
        "arch": "lenet",
        "input_range": "pm1",
        "dataset": "mnist5k",
        "holdout": json.dumps({"rule": "first 100 per class in mnist5k order", "n": len(ho)}),
        "holdout_accuracy": f"{acc:.4f}",
        "train_accuracy": f"{train_acc:.4f}",
        "recipe": json.dumps(
            {
                "epochs": args.epochs,
                "batch": 64,
                "optimizer": "adam 1e-3 cosine",
                "augment": "shift +-2 px",
                "seed": args.seed,
                "torch": torch.__version__,
            }
        ),
    }
    from safetensors.torch import save_file

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    sd = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(sd, str(out), metadata=meta)
    print(
        f"holdout accuracy {acc:.4f} (n={len(ho)}), train {train_acc:.4f}; "
        f"{time.time() - t0:.0f} s; wrote {out} ({out.stat().st_size / 1024:.0f} KB)"
    )


if __name__ == "__main__":
    main()
