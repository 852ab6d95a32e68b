"""Audio data: the built-in ``tones`` set and folders of WAV files, as waveforms (N, 1, L).

Clip length and sample rate. ``DataConfig.resolution`` is the clip length ``L`` in
samples (0 means :data:`DEFAULT_LENGTH` = 4096, which trains on a laptop CPU). Every
clip lasts 1.024 s, so the sample rate follows from ``L``: ``rate = L * 125 / 128`` —
16384 samples at 16 kHz as in WaveGAN (Donahue et al. 2019), 4096 at 4 kHz, 8192 at
8 kHz. Waveforms are float32 in [-1, 1].

* ``tones`` (built-in, synthesised from a fixed seed, no download): 2,000 clips, 400 of
  each of five classes with random parameters — ``sine`` (a pure tone with attack and
  release), ``harmonic`` (a sawtooth-like tone, up to 8 harmonics with 1/k amplitudes),
  ``chirp`` (an exponential sweep between two frequencies), ``noise_hit`` (a decaying
  burst of filtered white noise, snare-like) and ``kick`` (a decaying sine whose pitch
  falls, bass-drum-like). Onsets, lengths, pitches and levels are random, so a model has
  to learn timing and timbre, not one waveform per class. Labels are the class index.
* A **folder of WAV files** (recursive, ``.wav``/``.wave``): RIFF PCM 8/16/24/32-bit or
  IEEE float 32/64-bit, also in WAVE_FORMAT_EXTENSIBLE. Channels are averaged to mono,
  the signal is resampled to the target rate with a polyphase filter
  (``scipy.signal.resample_poly``), then the first ``L`` samples are kept (longer files are
  cropped) or zeros are appended (shorter files are padded). Files that cannot be read
  are skipped and counted in :attr:`TensorData.skipped` with the reason. When all
  visible children of the folder are folders (at least two), they are classes.
"""

from __future__ import annotations

import functools
import math
import os
import struct
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ganforge.core.config import DataConfig
from ganforge.core.registry import DATASETS
from ganforge.data.base import TensorData

DEFAULT_LENGTH = 4096
TONE_CLASSES = ("sine", "harmonic", "chirp", "noise_hit", "kick")
TONES_PER_CLASS = 400
WAV_EXTENSIONS = frozenset({".wav", ".wave"})


@dataclass
class AudioData(TensorData):
    """:class:`TensorData` of waveforms (N, C, L) float32 in [-1, 1], plus their rate.

    Attributes:
        sample_rate: samples per second of ``x``.
        class_names: names of the label values, when there are labels.
    """

    sample_rate: int = 0
    class_names: tuple[str, ...] = ()


def clip_length(cfg: DataConfig) -> int:
    """The clip length ``L`` a config asks for (``resolution``, 0 -> 4096)."""
    length = cfg.resolution or DEFAULT_LENGTH
    if length < 64:
        raise ValueError(f"data.resolution={length} is too short for audio; use 4096 or 16384")
    return int(length)


def rate_for_length(length: int) -> int:
    """Sample rate that makes ``length`` samples last 1.024 s (16384 -> 16000 Hz)."""
    return int(round(length * 125 / 128))


# ----------------------------------------------------------------------- tones set


def _envelope(t: np.ndarray, onset: float, dur: float, attack: float, release: float) -> np.ndarray:
    """Piecewise-linear attack/sustain/release envelope, zero outside [onset, onset+dur]."""
    rel = t - onset
    up = np.clip(rel / attack, 0.0, 1.0)
    down = np.clip((dur - rel) / release, 0.0, 1.0)
    return np.where((rel >= 0) & (rel <= dur), np.minimum(up, down), 0.0)


def synth_tone(kind: str, length: int, rate: int, rng: np.random.Generator) -> np.ndarray:
    """One clip (length,) float64 of class ``kind`` (see the module docstring).

    Frequencies stay below 0.45 * rate, so clips at 4 kHz do not alias.
    """
    t = np.arange(length) / rate
    total = length / rate
    nyq = 0.45 * rate
    amp = rng.uniform(0.3, 0.9)
    if kind in ("sine", "harmonic"):
        f0 = math.exp(rng.uniform(math.log(150), math.log(min(1200, nyq))))
        if kind == "harmonic":
            f0 = math.exp(rng.uniform(math.log(100), math.log(400)))
        dur = rng.uniform(0.35, 0.8) * total
        onset = rng.uniform(0, total - dur)
        env = _envelope(t, onset, dur, rng.uniform(0.005, 0.05), rng.uniform(0.02, 0.1))
        phase = rng.uniform(0, 2 * np.pi)
        if kind == "sine":
            wave = np.sin(2 * np.pi * f0 * t + phase)
        else:
            n_harm = max(2, min(8, int(nyq // f0)))
            k = np.arange(1, n_harm + 1)[:, None]
            wave = (np.sin(2 * np.pi * f0 * k * t + phase * k) / k).sum(0)
            wave /= np.abs(wave).max() + 1e-12
        return amp * env * wave
    if kind == "chirp":
        lo, hi = math.log(150), math.log(min(1500, nyq))
        f_a = math.exp(rng.uniform(lo, hi))
        f_b = f_a * math.exp(rng.choice([-1, 1]) * rng.uniform(math.log(2), math.log(4)))
        f_b = float(np.clip(f_b, 100, min(1500, nyq)))
        dur = rng.uniform(0.5, 0.9) * total
        onset = rng.uniform(0, total - dur)
        rel = np.clip(t - onset, 0, dur)
        # exponential sweep: f(t) = f_a * (f_b/f_a)^(t/dur); phase is its integral
        k = math.log(f_b / f_a) / dur
        phase = 2 * np.pi * f_a * (np.expm1(k * rel) / k if abs(k) > 1e-9 else rel)
        env = _envelope(t, onset, dur, 0.01, 0.05)
        return amp * env * np.sin(phase)
    if kind == "noise_hit":
        onset = rng.uniform(0, 0.6 * total)
        tau = rng.uniform(0.02, 0.08)
        rel = t - onset
        env = np.where(rel >= 0, np.exp(-np.maximum(rel, 0) / tau), 0.0)
        from scipy.signal import lfilter

        a = rng.uniform(0.0, 0.8)  # one-pole low-pass: brightness varies from hit to hit
        noise = lfilter([1 - a], [1, -a], rng.standard_normal(length))
        return amp * env * noise / (np.abs(noise).max() + 1e-12)
    if kind == "kick":
        onset = rng.uniform(0, 0.6 * total)
        f_start, f_end = rng.uniform(150, 250), rng.uniform(40, 70)
        tau_f, tau_a = rng.uniform(0.02, 0.06), rng.uniform(0.06, 0.2)
        rel = np.maximum(t - onset, 0)
        # f(t) = f_end + (f_start - f_end) e^{-t/tau_f}; phase is its integral
        phase = 2 * np.pi * (f_end * rel + (f_start - f_end) * tau_f * (1 - np.exp(-rel / tau_f)))
        env = np.where(t >= onset, np.exp(-rel / tau_a), 0.0)
        return amp * env * np.sin(phase)
    raise ValueError(f"unknown tone class {kind!r}; valid: {', '.join(TONE_CLASSES)}")


def synth_tones(
    length: int = DEFAULT_LENGTH, per_class: int = TONES_PER_CLASS, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """The ``tones`` clips: float32 (5 * per_class, 1, length) in [-1, 1] and labels int64.

    Classes are interleaved (0, 1, 2, 3, 4, 0, ...) so any prefix is balanced. ``seed=0``
    is the training set; the metrics use ``seed=1`` as held-out data. Synthesis takes
    about a second, so results are cached per process (callers get copies).
    """
    x, y = _synth_tones_cached(int(length), int(per_class), int(seed))
    return x.copy(), y.copy()


@functools.lru_cache(maxsize=4)
def _synth_tones_cached(length: int, per_class: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rate = rate_for_length(length)
    rng = np.random.default_rng(seed)
    n = per_class * len(TONE_CLASSES)
    x = np.empty((n, 1, length), dtype=np.float32)
    y = np.arange(n, dtype=np.int64) % len(TONE_CLASSES)
    for i in range(n):
        x[i, 0] = synth_tone(TONE_CLASSES[y[i]], length, rate, rng)
    return np.clip(x, -1.0, 1.0), y


@DATASETS.register(
    "tones",
    help="2,000 synthesised 1 s clips: sine, harmonic, chirp, noise hit, kick (L=resolution)",
)
def load_tones(cfg: DataConfig) -> AudioData:
    length = clip_length(cfg)
    x, y = synth_tones(length)
    return AudioData(
        torch.from_numpy(x),
        torch.from_numpy(y) if cfg.labels else None,
        "tones",
        len(TONE_CLASSES) if cfg.labels else 0,
        sample_rate=rate_for_length(length),
        class_names=TONE_CLASSES if cfg.labels else (),
    )


# ----------------------------------------------------------------------- WAV files


class WavError(ValueError):
    """A file is not a WAV file this reader can decode; the message says why."""


def read_wav(path: str | Path) -> tuple[np.ndarray, int]:
    """Decode a RIFF/WAVE file into float64 (frames, channels) in [-1, 1] and its rate.

    Supports PCM 8-bit (unsigned), 16/24/32-bit (signed) and IEEE float 32/64-bit, plain
    or WAVE_FORMAT_EXTENSIBLE. The stdlib ``wave`` module reads only PCM, so the chunks
    are parsed here.

    Raises:
        WavError: not RIFF/WAVE, a missing/short ``fmt``/``data`` chunk, an unsupported
            encoding, or no samples.
    """
    data = Path(path).read_bytes()
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise WavError("not a RIFF/WAVE file")
    pos, fmt, payload = 12, None, None
    while pos + 8 <= len(data):
        cid, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        body = data[pos + 8 : pos + 8 + size]
        if cid == b"fmt ":
            if len(body) < 16:
                raise WavError("fmt chunk is too short")
            fmt = struct.unpack("<HHIIHH", body[:16]) + (body,)
        elif cid == b"data":
            payload = body  # a truncated data chunk keeps the frames that are there
            break
        pos += 8 + size + (size & 1)  # chunks are word-aligned
    if fmt is None or payload is None:
        raise WavError("missing fmt or data chunk")
    tag, channels, rate, _, _, bits, body = fmt
    if tag == 0xFFFE and len(body) >= 26:  # WAVE_FORMAT_EXTENSIBLE: real tag in SubFormat
        tag = struct.unpack("<H", body[24:26])[0]
    if channels < 1 or rate < 1:
        raise WavError(f"invalid header: {channels} channels at {rate} Hz")
    width = bits // 8
    if tag == 1 and bits in (8, 16, 24, 32):
        n = len(payload) // (width * channels) * channels
        raw = np.frombuffer(payload[: n * width], dtype=np.uint8)
        if bits == 8:
            x = (raw.astype(np.float64) - 128.0) / 128.0
        elif bits == 24:
            b = raw.reshape(-1, 3).astype(np.int32)
            v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
            v = np.where(v >= 1 << 23, v - (1 << 24), v)
            x = v / float(1 << 23)
        else:
            x = np.frombuffer(raw.tobytes(), dtype=f"<i{width}") / float(1 << (bits - 1))
    elif tag == 3 and bits in (32, 64):
        n = len(payload) // (width * channels) * channels
        x = np.frombuffer(payload[: n * width], dtype=f"<f{width}").astype(np.float64)
    else:
        raise WavError(f"unsupported encoding (format tag {tag}, {bits} bits); use PCM or float")
    if x.size == 0:
        raise WavError("no audio samples")
    return np.clip(x.reshape(-1, channels), -1.0, 1.0), int(rate)


def fit_clip(x: np.ndarray, rate: int, target_rate: int, length: int) -> np.ndarray:
    """Mono-mix (frames, channels), resample to ``target_rate``, crop or zero-pad to
    ``length``. Returns float32 (length,)."""
    from scipy.signal import resample_poly

    mono = x.mean(axis=1) if x.ndim == 2 else x
    if rate != target_rate:
        g = math.gcd(int(rate), int(target_rate))
        mono = resample_poly(mono, target_rate // g, rate // g)
    out = np.zeros(length, dtype=np.float32)
    k = min(length, len(mono))
    out[:k] = mono[:k]
    return np.clip(out, -1.0, 1.0)


def _scan_wavs(root: Path) -> tuple[list[Path], list[int] | None, list[str]]:
    """WAV files under ``root`` (sorted, hidden entries skipped) and class labels when
    ``root``'s visible children are two or more folders and nothing else."""
    children = sorted(
        (e for e in os.scandir(root) if not e.name.startswith(".")), key=lambda e: e.name
    )
    classes = [e.name for e in children if e.is_dir()]
    use_classes = len(classes) >= 2 and len(classes) == len(children)
    files: list[Path] = []
    labels: list[int] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            p = Path(dirpath) / name
            if name.startswith(".") or p.suffix.lower() not in WAV_EXTENSIONS:
                continue
            files.append(p)
            if use_classes:
                labels.append(classes.index(p.relative_to(root).parts[0]))
    return files, (labels if use_classes else None), (classes if use_classes else [])


def load_audio_folder(path: str | Path, cfg: DataConfig) -> AudioData:
    """Load every WAV file under ``path`` as clips (N, 1, L) at ``rate_for_length(L)``.

    Args:
        path: a folder (searched recursively for ``.wav``/``.wave``).
        cfg: ``resolution`` is the clip length L (0 -> 4096); ``labels`` keeps class
            labels from sub-folder names.

    Returns:
        AudioData; unreadable files are listed in ``skipped`` (and a warning is issued).

    Raises:
        ValueError: the folder holds no WAV file, or none could be read.
    """
    from ganforge.data.files import DataError, SkippedFilesWarning

    root = Path(path)
    length = clip_length(cfg)
    rate = rate_for_length(length)
    files, labels, classes = _scan_wavs(root)
    if not files:
        raise DataError(f"{root}: no .wav files found (searched sub-folders too)")
    clips, ys, skipped = [], [], []
    for i, f in enumerate(files):
        try:
            x, r = read_wav(f)
        except (OSError, WavError, ValueError) as e:
            skipped.append((str(f), str(e)))
            continue
        clips.append(fit_clip(x, r, rate, length))
        if labels is not None:
            ys.append(labels[i])
    if not clips:
        raise DataError(
            f"{root}: none of the {len(files)} .wav files could be read "
            f"(first: {skipped[0][0]}: {skipped[0][1]})"
        )
    if skipped:
        warnings.warn(
            f"{root}: skipped {len(skipped)} unreadable WAV file(s), e.g. "
            f"{skipped[0][0]} ({skipped[0][1]})",
            SkippedFilesWarning,
            stacklevel=2,
        )
    keep = cfg.labels and labels is not None
    return AudioData(
        torch.from_numpy(np.stack(clips)[:, None]),
        torch.tensor(ys, dtype=torch.int64) if keep else None,
        str(root),
        len(classes) if keep else 0,
        skipped,
        sample_rate=rate,
        class_names=tuple(classes) if keep else (),
    )


def is_audio_folder(path: str | Path) -> bool:
    """True when ``path`` is a folder holding at least one WAV file and no image file
    (the routing rule for :func:`ganforge.data.load_data`)."""
    from ganforge.data.files import IMAGE_EXTENSIONS

    root = Path(path)
    if not root.is_dir():
        return False
    has_wav = False
    for _, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for name in filenames:
            ext = os.path.splitext(name)[1].lower()
            if ext in IMAGE_EXTENSIONS:
                return False
            has_wav = has_wav or ext in WAV_EXTENSIONS
    return has_wav


def write_wav(path: str | Path, x: np.ndarray, rate: int) -> Path:
    """Write mono float samples (T,) in [-1, 1] as 16-bit PCM WAV (stdlib ``wave``)."""
    import wave

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pcm = (np.clip(np.asarray(x, dtype=np.float64), -1, 1) * 32767).round().astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(int(rate))
        w.writeframes(pcm.tobytes())
    return path
