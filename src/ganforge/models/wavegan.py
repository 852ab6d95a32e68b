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
UPSAMPLE_MODES = ("transpose", "nearest", "linear")
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
        upsample: str = "transpose",
    ) -> None:
        super().__init__(z_dim, out_shape)
        if upsample not in UPSAMPLE_MODES:
            raise ValueError(
                f"upsample must be one of {', '.join(UPSAMPLE_MODES)}, got {upsample!r}"
            )
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
            if upsample == "transpose":
                # padding 11 + output_padding 1 make each layer exactly 4x longer
                layers.append(
                    nn.ConvTranspose1d(c_in, c_next, KERNEL, STRIDE, padding=11, output_padding=1)
                )
            else:
                layers.append(nn.Upsample(scale_factor=STRIDE, mode=upsample))
                layers.append(nn.Conv1d(c_in, c_next, KERNEL, padding=KERNEL // 2))
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


class SpectrogramCritic(nn.Module):
    """Waveforms (N, C, L) -> scores (N,) read from their log-magnitude spectrogram.

    The mono clip's short-time Fourier transform (Hann window ``n_fft``, hop
    ``n_fft // 4``) gives magnitudes ``|S|`` (N, n_fft/2 + 1, L/hop + 1); the critic sees
    ``log1p(|S| / floor)`` as a one-channel image, so a weak overtone 30 dB under its
    fundamental is as visible as the fundamental itself — in the waveform it is a small
    wiggle. Strided 4x4 convolutions with LeakyReLU(0.2) halve both axes until they are at
    most 8 long; a dense layer gives the score. Multi-resolution spectral discriminators
    of this kind are UnivNet's (Jang et al. 2021); SpecGAN (Donahue et al. 2019) trains on
    the same representation but has to invert it with Griffin-Lim, whereas here G stays a
    waveform model and only D reads spectrograms, so sampling needs no inversion.

    The transform runs in float32 outside autocast (FFTs have no bf16 kernels on CPU);
    ``|S|`` is ``sqrt(re^2 + im^2 + 1e-8)`` so the gradient penalty's double backward is
    finite at silent bins.

    Off by default (``spectral = 0``): beside the width-8 ``wavegan-tones`` critic it was no
    better per step at 1,000 and 2,000 steps and made a step 3.3x dearer, most of it the
    2-D convolutions' double backward (BENCHMARKS.md, "Audio: what was tried").
    """

    def __init__(
        self, in_shape: tuple[int, ...], width: int = 16, n_fft: int = 256, floor: float = 0.01
    ) -> None:
        super().__init__()
        _, length = in_shape
        if n_fft < 16 or n_fft > length:
            raise ValueError(f"spectral n_fft must be in [16, clip length {length}], got {n_fft}")
        self.n_fft, self.hop, self.floor = int(n_fft), int(n_fft) // 4, float(floor)
        self.register_buffer("window", torch.hann_window(self.n_fft), persistent=False)
        freq, frames = self.n_fft // 2 + 1, length // self.hop + 1
        layers: list[nn.Module] = []
        prev, c = 1, int(width)
        while max(freq, frames) > 8:
            layers += [nn.Conv2d(prev, c, 4, 2, 1), nn.LeakyReLU(0.2)]
            freq, frames = max(freq // 2, 1), max(frames // 2, 1)
            prev, c = c, min(c * 2, 512)
        self.net = nn.Sequential(*layers)
        self.fc = nn.Linear(prev * freq * frames, 1)

    def log_magnitude(self, x: Tensor) -> Tensor:
        """(N, C, L) -> (N, 1, n_fft/2 + 1, L/hop + 1) float32 ``log1p(|S| / floor)``."""
        with torch.autocast(x.device.type, enabled=False):
            spec = torch.stft(
                x.float().mean(1), self.n_fft, self.hop, window=self.window, return_complex=True
            )
            re_im = torch.view_as_real(spec)
            mag = torch.sqrt(re_im.square().sum(-1) + 1e-8)
            return torch.log1p(mag / self.floor)[:, None]

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(self.net(self.log_magnitude(x)).flatten(1)).squeeze(1)


class WaveGANDiscriminator(nn.Module):
    """Waveforms (N, C, L) -> logits (N,).

    With ``spectral > 0`` the score is the sum of the waveform critic's and a
    :class:`SpectrogramCritic`'s of that width (one critic to the loss and its gradient
    penalty).
    """

    def __init__(
        self,
        in_shape: tuple[int, ...],
        width: int = 16,
        max_channels: int = 1024,
        shuffle: int = 2,
        spectral: int = 0,
        spectral_fft: int = 256,
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
        self.spectral_critic = (
            SpectrogramCritic(in_shape, spectral, spectral_fft) if spectral > 0 else None
        )

    def forward(self, x: Tensor) -> Tensor:
        score = self.fc(self.net(x).flatten(1)).squeeze(1)
        if self.spectral_critic is not None:
            score = score + self.spectral_critic(x)
        return score


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
    spectral: int = 0,
    spectral_fft: int = 256,
    upsample: str = "transpose",
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
        spectral: width of D's :class:`SpectrogramCritic` branch (0: waveform critic only).
        spectral_fft: that branch's STFT window (hop = window / 4).
        upsample: how G's layers lengthen 4x: ``"transpose"`` (the paper's transposed
            convolutions) or ``"nearest"``/``"linear"`` interpolation followed by a
            kernel-25 convolution (the paper's section 3.1 alternatives). ``"linear"``
            removes the fixed-frequency stripes of transposed convolutions but on ``tones``
            G then drew clicks and low partials only (Frechet distance 6,834 against 658
            at 3,000 steps), so ``"transpose"`` stays the default.
    """
    if len(out_shape) != 2:
        raise ValueError(f"wavegan needs audio items (channels, L), got shape {out_shape}")
    if width < 1 or math.isnan(width):
        raise ValueError(f"width must be >= 1, got {width}")
    G = WaveGANGenerator(z_dim, out_shape, width, max_channels, sample_rate, upsample)
    D = WaveGANDiscriminator(
        out_shape, d_width or width, max_channels, phase_shuffle, spectral, spectral_fft
    )
    return G, D
