"""Which tone classes a WaveGAN draws, and how pitched its pitched tones are.

For a generator of ``tones`` clips (default: the shipped ``zoo:wavegan-tones``): the share
of 1,000 samples the tones classifier (``ganforge.metrics.modality``) puts in each class
with its mean confidence, beside the real held-out clips; then, for the clips classified
``sine`` and the real ``sine`` and ``harmonic`` clips, the overtone ratio — the spectral
energy around 2, 3 and 4 times the strongest frequency over the energy around it (real
sines ~0, real harmonic tones ~1) — which separates "G never makes harmonic tones" from
"G makes one in-between kind of pitched tone that the classifier files as sine".

    python benchmarks/audio_classes.py
    python benchmarks/audio_classes.py --generator runs/wavegan-tones
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

import ganforge
from ganforge.data.audio import TONE_CLASSES, synth_tones
from ganforge.metrics.modality import classify_audio, load_audio_classifier


def overtone_ratio(clips: np.ndarray, skip_bins: int = 20, half_width: int = 3) -> np.ndarray:
    """Per clip (N, 1, L): energy in the bins around 2f, 3f and 4f over the energy around
    f, where f is the strongest frequency above ``skip_bins`` bins (DC and rumble)."""
    spectra = np.abs(np.fft.rfft(clips[:, 0], axis=-1))
    out = np.empty(len(spectra))
    for i, s in enumerate(spectra):
        s = s.copy()
        s[:skip_bins] = 0.0
        k = int(s.argmax())

        def band(c: int, s: np.ndarray = s) -> float:
            return float(s[max(c - half_width, 0) : c + half_width + 1].sum())

        overtones = sum(band(m * k) for m in (2, 3, 4) if m * k + half_width < len(s))
        out[i] = overtones / (band(k) + 1e-12)
    return out


def class_table(clips: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Predicted class (N,) and confidence (N,) of the tones classifier."""
    p, _ = classify_audio(clips, load_audio_classifier())
    return p.argmax(1).numpy(), p.max(1).values.numpy()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--generator", default="zoo:wavegan-tones")
    ap.add_argument("-n", type=int, default=1000)
    args = ap.parse_args()
    G = ganforge.load(args.generator)
    fake = G.sample(args.n, seed=0)
    real, labels = synth_tones(fake.shape[-1], args.n // len(TONE_CLASSES), seed=1)
    pred_f, conf_f = class_table(fake)
    pred_r, conf_r = class_table(torch.from_numpy(real))
    print(f"{args.generator}: {args.n} samples; real: held-out tones\n")
    print("| class | generated share | mean confidence | real share | mean confidence |")
    print("|---|---:|---:|---:|---:|")
    for i, name in enumerate(TONE_CLASSES):
        f, r = pred_f == i, pred_r == i
        print(f"| {name} | {f.mean():.3f} | {conf_f[f].mean() if f.any() else 0:.2f} | "
              f"{r.mean():.3f} | {conf_r[r].mean() if r.any() else 0:.2f} |")  # fmt: skip
    rows = {
        "real sine": overtone_ratio(real[labels == 0]),
        "real harmonic": overtone_ratio(real[labels == 1]),
        "generated, classified sine": overtone_ratio(fake[pred_f == 0].numpy()),
        "generated, classified harmonic": overtone_ratio(fake[pred_f == 1].numpy()),
    }
    print("\n| clips | n | overtone ratio (median) | share above 0.3 |")
    print("|---|---:|---:|---:|")
    for name, r in rows.items():
        if len(r):
            print(f"| {name} | {len(r)} | {np.median(r):.3f} | {(r > 0.3).mean():.2f} |")


if __name__ == "__main__":
    main()
