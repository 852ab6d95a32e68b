"""Quality numbers and pictures for audio and text generators.

Audio (Donahue et al. 2019 measure WaveGAN the same way, with their own classifier):

* :class:`AudioClassifier` — a small 1-D CNN trained by ``scripts/train_audio_classifier.py``
  on the built-in ``tones`` set at 4096 samples (4 kHz), weights shipped in
  ``ganforge/weights/audio_classifier.safetensors``. Clips of other lengths are resampled
  to 4096 samples first.
* ``is_tones`` — Inception-Score-like ``exp(E_x KL(p(y|x) || p(y)))`` of its softmax (1 to 5,
  higher is better); ``coverage_tones`` — the share of the 5 classes that receive at
  least 10 % of their fair share (n / 5) of argmax predictions; ``class_kl_tones`` — KL
  of the predicted-class histogram from uniform; ``fd_tones`` — the Frechet distance
  between Gaussians fitted to its 64-d pooled features of generated and held-out real
  clips (float64, as FID; lower is better).

Text (Gulrajani et al. 2017, section 6):

* ``js1`` .. ``js4`` — Jensen-Shannon divergence between the character n-gram
  distributions (n-grams taken inside each line) of generated and held-out real text,
  **in bits** (base 2), as their ``language_helpers.js_with``: 0 for identical
  distributions, 1 for disjoint supports (``base=math.e`` gives nats, max ``log 2``).
* ``word_share`` — the share of generated words (letter runs) found in the corpus's
  vocabulary.

Baselines: :func:`noise_clips` (audio) and :class:`CharNgramModel` (text).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

Tensor = torch.Tensor
CLASSIFIER_LENGTH = 4096
CLASSIFIER_WEIGHTS = (
    Path(__file__).resolve().parent.parent / "weights" / "audio_classifier.safetensors"
)
N_TONE_CLASSES = 5
COVERAGE_SHARE = 0.1


# ----------------------------------------------------------------------------- pictures


# ----------------------------------------------------------------------------- audio


class AudioClassifier(nn.Module):
    """Clips (N, 1, 4096) -> class logits (N, 5); :meth:`features` gives (N, 64).

    Four strided 1-D convolutions (kernel 9, stride 4) with LeakyReLU reduce 4096 samples
    to 16 frames of 64 channels; mean and max over time make the features independent of
    where in the clip a sound starts.
    """

    def __init__(self, n_classes: int = N_TONE_CLASSES, width: int = 16) -> None:
        super().__init__()
        chans = [1, width, 2 * width, 4 * width, 4 * width]
        layers: list[nn.Module] = []
        for a, b in zip(chans[:-1], chans[1:], strict=True):
            layers += [nn.Conv1d(a, b, 9, 4, padding=4), nn.LeakyReLU(0.2)]
        self.net = nn.Sequential(*layers)
        self.proj = nn.Linear(2 * chans[-1], chans[-1])
        self.head = nn.Linear(chans[-1], n_classes)

    def features(self, x: Tensor) -> Tensor:
        h = self.net(x)
        return torch.relu(self.proj(torch.cat([h.mean(2), h.amax(2)], 1)))

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))


def load_audio_classifier(path: str | Path = CLASSIFIER_WEIGHTS) -> AudioClassifier:
    """The shipped tones classifier (eval mode, CPU).

    Raises:
        FileNotFoundError: the weights file is missing (run
            ``python scripts/train_audio_classifier.py``).
    """
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing; create it with python scripts/train_audio_classifier.py"
        )
    model = AudioClassifier()
    model.load_state_dict({k: v.float() for k, v in load_file(str(path)).items()})
    return model.eval().requires_grad_(False)


def to_classifier_rate(x: Tensor) -> Tensor:
    """Mono-mix (N, C, L) and resample to (N, 1, 4096) (polyphase, anti-aliased)."""
    x = x.float().mean(1, keepdim=True)
    L = x.shape[-1]
    if L == CLASSIFIER_LENGTH:
        return x
    from scipy.signal import resample_poly

    g = math.gcd(L, CLASSIFIER_LENGTH)
    y = resample_poly(x.numpy(), CLASSIFIER_LENGTH // g, L // g, axis=-1)
    return torch.from_numpy(np.ascontiguousarray(y, dtype=np.float32))[..., :CLASSIFIER_LENGTH]


@torch.no_grad()
def classify_audio(
    x: Tensor, model: AudioClassifier | None = None, batch_size: int = 500
) -> tuple[Tensor, Tensor]:
    """Softmax probabilities (N, 5) and features (N, 64), float64, of clips (N, C, L)."""
    model = model or load_audio_classifier()
    probs, feats = [], []
    for i in range(0, len(x), batch_size):
        xb = to_classifier_rate(x[i : i + batch_size].cpu())
        f = model.features(xb)
        probs.append(torch.softmax(model.head(f), 1).double())
        feats.append(f.double())
    return torch.cat(probs), torch.cat(feats)


def inception_score(probs: Tensor) -> float:
    """``exp(E_x KL(p(y|x) || p(y)))`` of class probabilities (N, K); in [1, K]."""
    p = probs.double().clamp_min(1e-12)
    py = p.mean(0, keepdim=True)
    return float(torch.exp((p * (p.log() - py.log())).sum(1).mean()))


def class_coverage(probs: Tensor, share: float = COVERAGE_SHARE) -> tuple[float, float]:
    """(coverage, KL from uniform) of the argmax class histogram of (N, K) probabilities.

    A class counts as covered when it gets at least ``share * N / K`` predictions."""
    n, k = probs.shape
    counts = torch.bincount(probs.argmax(1), minlength=k).double()
    covered = float((counts >= share * n / k).double().mean())
    q = counts / n
    kl = float((q[q > 0] * (q[q > 0] * k).log()).sum())
    return covered, kl


def frechet_distance(feat_a: Tensor | np.ndarray, feat_b: Tensor | np.ndarray) -> float:
    """Frechet distance between Gaussians fitted to two feature sets (N, D), float64:
    ``|mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2))`` (Heusel et al. 2017)."""
    a = np.asarray(feat_a, dtype=np.float64)
    b = np.asarray(feat_b, dtype=np.float64)
    mu_a, mu_b = a.mean(0), b.mean(0)
    s_a, s_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    # tr((S_a S_b)^(1/2)) = sum sqrt(eig(A S_b A)) with A = S_a^(1/2): the product is
    # symmetric PSD, so eigvalsh is stable and no complex round-off appears (unlike sqrtm)
    w, v = np.linalg.eigh(s_a)
    root_a = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    eig = np.linalg.eigvalsh(root_a @ s_b @ root_a)
    tr_covmean = np.sqrt(np.clip(eig, 0, None)).sum()
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(s_a) + np.trace(s_b) - 2 * tr_covmean)


def heldout_tones(length: int, per_class: int = 200) -> Tensor:
    """Held-out real ``tones`` clips (5 * per_class, 1, length) (seed 1; training is 0)."""
    from ganforge.data.audio import synth_tones

    return torch.from_numpy(synth_tones(length, per_class, seed=1)[0])


def audio_scores(
    fake: Tensor, real: Tensor | None = None, model: AudioClassifier | None = None
) -> dict[str, float]:
    """All audio numbers for generated clips (N, C, L) against real clips (default:
    1,000 held-out ``tones`` clips of the same length)."""
    model = model or load_audio_classifier()
    if real is None:
        real = heldout_tones(fake.shape[-1])
    p_fake, f_fake = classify_audio(fake, model)
    _, f_real = classify_audio(real, model)
    coverage, kl = class_coverage(p_fake)
    return {
        "is_tones": inception_score(p_fake),
        "coverage_tones": coverage,
        "class_kl_tones": kl,
        "fd_tones": frechet_distance(f_fake, f_real),
    }


def noise_clips(n: int, length: int, seed: int = 0, std: float = 0.3) -> Tensor:
    """The trivial audio baseline: Gaussian noise (n, 1, length), clipped to [-1, 1]."""
    g = torch.Generator().manual_seed(seed)
    return (std * torch.randn(n, 1, length, generator=g)).clamp(-1, 1)


# ----------------------------------------------------------------------------- text


def ngram_counts(lines: Iterable[str], n: int) -> Counter:
    """Character n-grams counted inside each line (none spans two lines)."""
    c: Counter = Counter()
    for line in lines:
        c.update(line[i : i + n] for i in range(len(line) - n + 1))
    return c


def js_divergence(p: Counter, q: Counter, base: float = 2.0) -> float:
    """Jensen-Shannon divergence of two count tables (normalised here), in log ``base``.

    ``0.5 KL(P || M) + 0.5 KL(Q || M)`` with ``M = (P + Q) / 2``; 0 when P = Q, and
    ``log_base 2`` (1 bit) when their supports are disjoint. An empty table is the
    farthest case (1 bit), since nothing generated matches anything real.
    """
    tp, tq = sum(p.values()), sum(q.values())
    if tp == 0 or tq == 0:
        return 0.0 if tp == tq else math.log(2) / math.log(base)
    js = 0.0
    for key in set(p) | set(q):
        a, b = p.get(key, 0) / tp, q.get(key, 0) / tq
        m = 0.5 * (a + b)
        if a > 0:
            js += 0.5 * a * math.log(a / m)
        if b > 0:
            js += 0.5 * b * math.log(b / m)
    return js / math.log(base)


def ngram_jsd(fake: Sequence[str], real: Sequence[str], n: int, base: float = 2.0) -> float:
    """JS divergence of the character n-gram distributions of two sets of lines."""
    return js_divergence(ngram_counts(fake, n), ngram_counts(real, n), base)


def word_share(lines: Iterable[str], vocabulary: set[str] | frozenset[str]) -> float:
    """Share of the words in ``lines`` (lower-cased letter runs) found in ``vocabulary``
    (0 when there is no word at all)."""
    from ganforge.data.text import split_words

    words = [w for line in lines for w in split_words(line)]
    return sum(w in vocabulary for w in words) / len(words) if words else 0.0


def text_scores(
    fake: Sequence[str],
    real: Sequence[str],
    vocabulary: set[str] | frozenset[str] | None = None,
    max_n: int = 4,
) -> dict[str, float]:
    """``js1``..``js{max_n}`` (bits) against ``real`` lines, and ``word_share`` (against
    ``vocabulary``, default: the words of ``real``)."""
    from ganforge.data.text import split_words

    if vocabulary is None:
        vocabulary = {w for line in real for w in split_words(line)}
    out = {f"js{n}": ngram_jsd(fake, real, n) for n in range(1, max_n + 1)}
    out["word_share"] = word_share(fake, vocabulary)
    return out


class CharNgramModel:
    """The trivial text baseline: a character n-gram model with start/end symbols.

    Fitted by counting (no smoothing), sampled left to right until the end symbol or
    ``length`` characters.
    """

    START, END = "\x02", "\x03"

    def __init__(self, order: int = 2) -> None:
        if order < 1:
            raise ValueError(f"order must be >= 1, got {order}")
        self.order = order
        self.table: dict[str, Counter] = {}

    def fit(self, lines: Iterable[str]) -> CharNgramModel:
        k = self.order - 1
        for line in lines:
            s = self.START * k + line + self.END
            for i in range(k, len(s)):
                self.table.setdefault(s[i - k : i], Counter())[s[i]] += 1
        return self

    def sample(self, n: int, length: int, seed: int = 0) -> list[str]:
        rng = np.random.default_rng(seed)
        k = self.order - 1
        out = []
        for _ in range(n):
            ctx, line = self.START * k, ""
            while len(line) < length:
                counts = self.table.get(ctx[len(ctx) - k :] if k else "")
                if not counts:
                    break
                chars = list(counts)
                w = np.array([counts[c] for c in chars], dtype=np.float64)
                ch = chars[rng.choice(len(chars), p=w / w.sum())]
                if ch == self.END:
                    break
                line += ch
                ctx += ch
            out.append(line)
        return out


# ----------------------------------------------------------------------------- runs


def evaluate_audio(G: Any, n: int = 1000, seed: int = 0) -> dict[str, float]:
    """Audio numbers of generator ``G`` ((n, C, L) samples) against held-out ``tones``."""
    return audio_scores(G.sample(n, seed=seed))


def evaluate_text(
    G: Any, n: int = 1000, seed: int = 0, real: Sequence[str] | None = None
) -> dict[str, float]:
    """Text numbers of generator ``G`` against ``real`` lines (default: the held-out
    ``words`` lines of G's length, with the training vocabulary for ``word_share``)."""
    from ganforge.data.text import words_corpus, words_vocabulary

    fake = G.decode(G.sample(n, seed=seed))
    if real is None:
        return text_scores(fake, words_corpus(G.out_shape[-1], "heldout"), words_vocabulary())
    return text_scores(fake, real)


def baselines(kind: str, n: int = 1000, length: int = 0) -> dict[str, dict[str, float]]:
    """Floor (real vs held-out real) and trivial baseline rows for ``kind`` = ``audio``
    (tones, noise) or ``text`` (words, character bigram model)."""
    if kind == "audio":
        from ganforge.data.audio import synth_tones

        length = length or CLASSIFIER_LENGTH
        train = torch.from_numpy(synth_tones(length, n // N_TONE_CLASSES, seed=0)[0])
        return {
            "real (train) vs held-out": audio_scores(train),
            "gaussian noise": audio_scores(noise_clips(n, length)),
        }
    if kind == "text":
        from ganforge.data.text import words_corpus, words_vocabulary

        length = length or 32
        train, heldout = words_corpus(length), words_corpus(length, "heldout")
        vocab = words_vocabulary()
        rng = np.random.default_rng(0)
        real = [train[i] for i in rng.choice(len(train), n, replace=False)]
        bigram = CharNgramModel(2).fit(train).sample(n, length)
        return {
            "real (train) vs held-out": text_scores(real, heldout, vocab),
            "character bigram model": text_scores(bigram, heldout, vocab),
            "character 4-gram model": text_scores(
                CharNgramModel(4).fit(train).sample(n, length), heldout, vocab
            ),
        }
    raise ValueError(f"kind must be 'audio' or 'text', got {kind!r}")


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m ganforge.metrics.modality RUN [-n N]`` prints a run's numbers;
    ``--baselines audio|text`` prints the floor and trivial-baseline rows."""
    import argparse
    import json

    p = argparse.ArgumentParser(prog="python -m ganforge.metrics.modality")
    p.add_argument("run", nargs="?", help="run folder or checkpoint of a wavegan/textgan model")
    p.add_argument("-n", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--baselines", choices=["audio", "text"])
    p.add_argument("--length", type=int, default=0, help="clip/sequence length for baselines")
    args = p.parse_args(argv)
    if args.baselines:
        res: Any = baselines(args.baselines, args.n, args.length)
    elif args.run:
        from ganforge.hub.load import load_generator

        G = load_generator(args.run)
        fn = evaluate_text if hasattr(G, "decode") else evaluate_audio
        res = fn(G, args.n, args.seed)
    else:
        p.error("give a RUN or --baselines audio|text")
    print(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
