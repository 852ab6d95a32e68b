"""WaveGAN (Donahue, McAuley & Puckette, "Adversarial Audio Synthesis", ICLR 2019).

Raw waveforms (N, C, L) in [-1, 1], with ``L = 16 * 4**k`` (1024, 4096, 16384, 65536).

G: a dense layer lifts z to (width * 2**(k-1), 16) feature maps (capped); ``k``
transposed 1-D convolutions with kernel 25 and stride 4 (DCGAN's 5x5 stride-2 kernels
flattened to one dimension and made longer, the paper's section 3.1) each multiply the
length by 4 and halve the channels, with ReLU between them and tanh at the end. There is
no batch normalisation (the paper found it unnecessary).

D mirrors G: ``k`` strided convolutions (kernel 25, stride 4) with LeakyReLU(0.2), each
but the last followed by **phase shuffle** (section 3.3): every example's feature maps
are shifted by a random whole number of samples in [-n, n] (n = 2), the gap filled by
reflection. Transposed convolutions leave periodic "checkerboard" artifacts at fixed
phases that D could otherwise use to tell fake audio from real; shuffling the phase takes
that cue away. A dense layer maps the last (16 x channels) maps to one logit.

The paper trains with WGAN-GP (lambda 10, 5 D updates per G update, Adam 1e-4,
betas (0.5, 0.9)) and width 64; ``width`` scales the model for a CPU.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from torch import nn

from ganforge.core.registry import MODELS
from ganforge.models.base import Generator

Tensor = torch.Tensor
KERNEL, STRIDE = 25, 4
BASE_LENGTH = 16


def plan_length(length: int) -> int:
    """Return ``k`` with ``length == 16 * 4**k`` (k >= 1).

    Raises:
        ValueError: the length is not of that form.
    """
    k, r = 0, length
    while r > BASE_LENGTH and r % STRIDE == 0:
        r //= STRIDE
        k += 1
    if r != BASE_LENGTH or k < 1:
        raise ValueError(
            f"WaveGAN needs clip lengths 16*4^k (1024, 4096, 16384, 65536), not {length}; "
            "set data.resolution to one of those"
        )
    return k


def phase_shuffle(x: Tensor, n: int, shifts: Tensor | None = None) -> Tensor:
    """Shift each example of (N, C, T) by its own whole number of samples in [-n, n].

    ``out[i, :, t] = x[i, :, t - s_i]`` where ``s_i`` is drawn uniformly from [-n, n];
    positions that fall outside [0, T) read the reflected signal (``reflect`` padding), so
    no zeros are introduced.

    Args:
        x: (N, C, T) feature maps, T > n.
        n: maximum shift (the paper's n = 2).
        shifts: optional (N,) int64 shifts (for tests); drawn from the global torch RNG
            otherwise (which the trainer checkpoints, so resume stays exact).

    Returns:
        (N, C, T), same dtype and device.
    """
    if n == 0:
        return x
    N, C, T = x.shape
    if shifts is None:
        shifts = torch.randint(-n, n + 1, (N,), device=x.device)
    padded = nn.functional.pad(x, (n, n), mode="reflect")
    idx = torch.arange(T, device=x.device)[None, :] + n - shifts.to(x.device)[:, None]
    return padded.gather(2, idx[:, None, :].expand(N, C, T))


class PhaseShuffle(nn.Module):
    """:func:`phase_shuffle` in training mode; identity in eval mode."""

    def __init__(self, n: int = 2) -> None:
        super().__init__()
        self.n = int(n)

    def forward(self, x: Tensor) -> Tensor:
        return phase_shuffle(x, self.n) if self.training else x

    def extra_repr(self) -> str:
        return f"n={self.n}"


def _channels(width: int, k: int, max_channels: int) -> list[int]:
    """Channel counts from the widest (first G layer / last D layer) to ``width``."""
    return [min(width * 2 ** (k - 1 - i), max_channels) for i in range(k)]


class WaveGANGenerator(Generator):
    """z (N, z_dim) -> waveforms (N, C, L) in [-1, 1].

    Attributes:
        sample_rate: samples per second used when writing WAV files.
        sample_suffixes: file types ``ganforge sample --out`` hands to :meth:`write_samples`.
    """

    sample_suffixes = (".wav", ".png")

    def __init__(
        self,
        z_dim: int,
        out_shape: tuple[int, ...],
        width: int = 16,
        max_channels: int = 1024,
        sample_rate: int = 0,
    ) -> None:
        super().__init__(z_dim, out_shape)
        c_out, length = out_shape
        k = plan_length(length)
        chans = _channels(width, k, max_channels)
        self.sample_rate = int(sample_rate) or int(round(length * 125 / 128))
        self.fc = nn.Linear(z_dim, chans[0] * BASE_LENGTH)
        layers: list[nn.Module] = []
        for i in range(k):
            c_in = chans[i]
            last = i == k - 1
            c_next = c_out if last else chans[i + 1]
            # padding 11 + output_padding 1 make each layer exactly 4x longer
            layers.append(
                nn.ConvTranspose1d(c_in, c_next, KERNEL, STRIDE, padding=11, output_padding=1)
            )
            layers.append(nn.Tanh() if last else nn.ReLU())
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        h = torch.relu(self.fc(z)).view(len(z), -1, BASE_LENGTH)
        return self.net(h)

    def write_samples(self, x: Tensor, path: Path) -> Path:
        """Write waveforms (N, C, L) so a person can listen to and look at them.

        * ``path`` ending in ``.png`` (the trainer's sample files): a grid of up to 16
          log-magnitude spectrograms at ``path`` and, beside it, ``path.with_suffix(".wav")``
          holding the first 8 clips one after another with 0.25 s of silence between.
        * ``.wav`` (``ganforge sample --out a.wav``): one file per clip, ``a.wav`` when
          N == 1, else ``a_0.wav`` ... ``a_{N-1}.wav`` (indices zero-padded to one width).

        Returns:
            ``path`` (the grid, or the first WAV file written).
        """
        from ganforge.core.imaging import save_spectrogram_grid
        from ganforge.data.audio import write_wav

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        clips = x.detach().float().cpu().mean(1).numpy()  # mono (N, L)
        if path.suffix.lower() == ".wav":
            if len(clips) == 1:
                return write_wav(path, clips[0], self.sample_rate)
            digits = len(str(len(clips) - 1))
            paths = [
                write_wav(path.with_name(f"{path.stem}_{i:0{digits}d}.wav"), c, self.sample_rate)
                for i, c in enumerate(clips)
            ]
            return paths[0]
        import numpy as np

        gap = np.zeros(self.sample_rate // 4, dtype=clips.dtype)
        reel = np.concatenate([np.concatenate([c, gap]) for c in clips[:8]])
        write_wav(path.with_suffix(".wav"), reel, self.sample_rate)
        return save_spectrogram_grid(clips[:16], path, self.sample_rate)


class WaveGANDiscriminator(nn.Module):
    """Waveforms (N, C, L) -> logits (N,)."""

    def __init__(
        self,
        in_shape: tuple[int, ...],
        width: int = 16,
        max_channels: int = 1024,
        shuffle: int = 2,
    ) -> None:
        super().__init__()
        c_in, length = in_shape
        k = plan_length(length)
        chans = _channels(width, k, max_channels)[::-1]  # narrow -> wide
        layers: list[nn.Module] = []
        prev = c_in
        for i, c in enumerate(chans):
            layers.append(nn.Conv1d(prev, c, KERNEL, STRIDE, padding=11))
            layers.append(nn.LeakyReLU(0.2))
            if i < k - 1 and shuffle > 0:
                layers.append(PhaseShuffle(shuffle))
            prev = c
        self.net = nn.Sequential(*layers)
        self.fc = nn.Linear(prev * BASE_LENGTH, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(self.net(x).flatten(1)).squeeze(1)


@MODELS.register("wavegan", help="WaveGAN: 1-D transposed convs, phase shuffle (Donahue 2019)")
def build_wavegan(
    *,
    z_dim: int,
    out_shape: tuple[int, ...],
    width: int = 16,
    d_width: int = 0,
    max_channels: int = 1024,
    phase_shuffle: int = 2,
    sample_rate: int = 0,
) -> tuple[WaveGANGenerator, WaveGANDiscriminator]:
    """Build WaveGAN's G and D for clips of shape ``(C, L)``.

    Args:
        z_dim: latent size (100 in the paper).
        out_shape: ``(channels, L)`` with ``L = 16 * 4**k``.
        width: G's narrowest channel count (the paper's d = 64); the widest is
            ``width * 2**(k-1)``.
        d_width: D's narrowest channel count (0 = ``width``).
        max_channels: cap on any layer's channels.
        phase_shuffle: D's phase-shuffle radius n (0 disables it).
        sample_rate: Hz of written WAV files (0 = ``L * 125 / 128``: 1.024 s clips).
    """
    if len(out_shape) != 2:
        raise ValueError(f"wavegan needs audio items (channels, L), got shape {out_shape}")
    if width < 1 or math.isnan(width):
        raise ValueError(f"width must be >= 1, got {width}")
    G = WaveGANGenerator(z_dim, out_shape, width, max_channels, sample_rate)
    D = WaveGANDiscriminator(out_shape, d_width or width, max_channels, phase_shuffle)
    return G, D
