"""Train the tones classifier behind the audio metrics and write its weights.

    python scripts/train_audio_classifier.py            # ~1 min on 2 CPU cores
    python scripts/train_audio_classifier.py --out other.safetensors --epochs 5

Data: the built-in ``tones`` training clips (seed 0) at 4096 samples, plus the same
clips synthesised at 16384 samples and resampled to 4096 (so 16 kHz generators are
judged by a classifier that has seen 16 kHz material). Augmentation: random gain
(x0.5 to x1.5) and faint noise, so the classifier keys on timbre and pitch contour, not
level. Accuracy is measured on held-out clips (seed 1) at both lengths and printed; the
weights are stored as float16 safetensors (about 125 kB). Deterministic: fixed seeds and
two threads.
"""

from __future__ import annotations

import argparse
import time

import torch

from ganforge.data.audio import synth_tones
from ganforge.metrics.modality import (
    CLASSIFIER_WEIGHTS,
    AudioClassifier,
    to_classifier_rate,
)


def tones_at(length: int, per_class: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    x, y = synth_tones(length, per_class, seed=seed)
    return to_classifier_rate(torch.from_numpy(x)), torch.from_numpy(y)


@torch.no_grad()
def accuracy(model: AudioClassifier, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    return float((model(x).argmax(1) == y).float().mean())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default=str(CLASSIFIER_WEIGHTS))
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--per-class", type=int, default=400)
    args = p.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)

    t0 = time.perf_counter()
    xa, ya = tones_at(4096, args.per_class, seed=0)
    xb, yb = tones_at(16384, args.per_class, seed=0)
    x, y = torch.cat([xa, xb]), torch.cat([ya, yb])
    test = {L: tones_at(L, 200, seed=1) for L in (4096, 16384)}

    model = AudioClassifier()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for epoch in range(args.epochs):
        model.train()
        perm = torch.randperm(len(x), generator=gen)
        total = 0.0
        for i in range(0, len(x), 64):
            idx = perm[i : i + 64]
            xb_ = x[idx] * (0.5 + torch.rand(len(idx), 1, 1, generator=gen))
            xb_ = xb_ + 0.003 * torch.randn(xb_.shape, generator=gen)
            loss = torch.nn.functional.cross_entropy(model(xb_.clamp(-1, 1)), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        accs = {L: accuracy(model, *test[L]) for L in test}
        print(
            f"epoch {epoch + 1}: loss {total / len(x):.4f}, held-out accuracy "
            + ", ".join(f"L={L}: {a:.4f}" for L, a in accs.items())
        )

    from safetensors.torch import save_file

    state = {k: v.detach().half().contiguous() for k, v in model.state_dict().items()}
    save_file(state, args.out, metadata={"accuracy": str(accs), "data": "tones seed 0"})
    # the shipped weights are float16: report the accuracy they give
    model.load_state_dict({k: v.float() for k, v in state.items()})
    final = {L: accuracy(model, *test[L]) for L in test}
    print(f"wrote {args.out}; float16 held-out accuracy {final} ({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
