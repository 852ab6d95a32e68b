"""Audio: WaveGAN shapes and phase shuffle, the tones set, WAV folders, samples, metrics."""

from __future__ import annotations

import dataclasses
import math
import struct
import wave

import numpy as np
import pytest
import torch

import ganforge.data.audio  # noqa: F401  (registers "tones")
import ganforge.models.wavegan  # noqa: F401  (registers "wavegan")
from ganforge.core.config import DataConfig, LossConfig, ModelConfig, OptimConfig
from ganforge.data.audio import (
    TONE_CLASSES,
    load_audio_folder,
    load_tones,
    rate_for_length,
    read_wav,
    synth_tones,
)
from ganforge.metrics.modality import (
    audio_scores,
    class_coverage,
    classify_audio,
    frechet_distance,
    heldout_tones,
    inception_score,
    noise_clips,
)
from ganforge.models.wavegan import (
    PhaseShuffle,
    SpectrogramCritic,
    build_wavegan,
    phase_shuffle,
    plan_length,
)
from tests.conftest import tiny_config


@pytest.mark.parametrize("length", [1024, 4096, 16384])
def test_wavegan_shapes_and_range(length):
    torch.manual_seed(0)
    G, D = build_wavegan(z_dim=8, out_shape=(1, length), width=2)
    x = G(torch.randn(3, 8))
    assert x.shape == (3, 1, length)
    assert x.abs().max() <= 1
    assert D(x).shape == (3,)
    assert G.sample_rate == rate_for_length(length)


@pytest.mark.parametrize("upsample", ["nearest", "linear"])
def test_wavegan_interpolating_generator_lengthens_4x_per_layer(upsample):
    G, _ = build_wavegan(z_dim=8, out_shape=(1, 1024), width=2, upsample=upsample)
    ups = [m for m in G.net if isinstance(m, torch.nn.Upsample)]
    assert len(ups) == plan_length(1024) and all(u.mode == upsample for u in ups)
    assert G(torch.randn(2, 8)).shape == (2, 1, 1024)
    with pytest.raises(ValueError, match="transpose, nearest, linear"):
        build_wavegan(z_dim=8, out_shape=(1, 1024), upsample="cubic")


def test_wavegan_rejects_bad_length():
    assert plan_length(16384) == 5 and plan_length(4096) == 4
    with pytest.raises(ValueError, match="16\\*4\\^k"):
        build_wavegan(z_dim=8, out_shape=(1, 4000))


def test_spectrogram_critic_sees_a_sine_in_its_bin():
    """A sine at bin k of a 256-point STFT peaks at row k of the log-magnitude image,
    whose value follows |S| = A * n_fft / 4 for a Hann window; silence maps to ~0 (the
    1e-8 that keeps sqrt differentiable: log1p(1e-4 / 0.01))."""
    length, n_fft, k = 4096, 256, 19
    t = torch.arange(length, dtype=torch.float64)
    sine = (0.5 * torch.sin(2 * math.pi * k * t / n_fft)).float()
    critic = SpectrogramCritic((1, length), width=4, n_fft=n_fft)
    logmag = critic.log_magnitude(torch.stack([sine, torch.zeros(length)])[:, None])
    assert logmag.shape == (2, 1, n_fft // 2 + 1, length // (n_fft // 4) + 1)
    middle = logmag[0, 0, :, 32]
    assert int(middle.argmax()) == k
    assert float(middle[k]) == pytest.approx(math.log1p(0.5 * n_fft / 4 / 0.01), rel=1e-3)
    assert float(logmag[1].abs().max()) == pytest.approx(math.log1p(0.01), rel=1e-3)


def test_spectral_wavegan_critic_sums_both_scores_and_penalty_is_finite_at_silence():
    torch.manual_seed(0)
    _, D = build_wavegan(z_dim=8, out_shape=(1, 1024), width=2, spectral=4, spectral_fft=64)
    x = torch.zeros(2, 1, 1024, requires_grad=True)  # silent bins: |S| = 0
    score = D.eval()(x)  # eval: no random phase shuffle between the two calls
    waveform_only = D.fc(D.net(x).flatten(1)).squeeze(1)
    assert torch.allclose(score, waveform_only + D.spectral_critic(x))
    (grad,) = torch.autograd.grad(score.sum(), x, create_graph=True)
    grad.square().sum().backward()
    grads = [p.grad for p in D.spectral_critic.parameters() if p.grad is not None]
    assert len(grads) >= 4 and all(torch.isfinite(g).all() for g in grads)
    with pytest.raises(ValueError, match="n_fft"):
        build_wavegan(z_dim=8, out_shape=(1, 1024), width=2, spectral=4, spectral_fft=2048)


def _reflect_shift(row: np.ndarray, s: int) -> np.ndarray:
    """out[t] = row[t - s] with reflection at both ends (reference implementation)."""
    T = len(row)
    out = np.empty_like(row)
    for t in range(T):
        j = t - s
        if j < 0:
            j = -j
        if j >= T:
            j = 2 * (T - 1) - j
        out[t] = row[j]
    return out


def test_phase_shuffle_matches_reflected_shift():
    x = torch.randn(5, 3, 11)
    shifts = torch.tensor([-2, -1, 0, 1, 2])
    y = phase_shuffle(x, 2, shifts)
    assert y.shape == x.shape
    for i, s in enumerate(shifts.tolist()):
        for c in range(3):
            np.testing.assert_array_equal(y[i, c].numpy(), _reflect_shift(x[i, c].numpy(), s))
    assert torch.equal(phase_shuffle(x, 0), x)


def test_phase_shuffle_random_shifts_cover_range_and_keep_gradients():
    torch.manual_seed(0)
    ramp = torch.arange(20.0).repeat(400, 1, 1).requires_grad_(True)  # (400, 1, 20)
    y = phase_shuffle(ramp, 2)
    # the interior sample t=10 reads ramp[10 - s]: recover each example's shift
    shifts = (10 - y[:, 0, 10]).long()
    assert set(shifts.tolist()) == {-2, -1, 0, 1, 2}
    counts = torch.bincount(shifts + 2)
    assert counts.min() > 50  # roughly uniform over 5 values (80 expected each)
    y.sum().backward()
    assert ramp.grad.sum() == ramp.numel()  # every output reads exactly one input
    m = PhaseShuffle(2).eval()
    assert torch.equal(m(ramp), ramp)


def test_tones_set_is_balanced_deterministic_and_in_range():
    x, y = synth_tones(1024, per_class=4, seed=0)
    assert x.shape == (20, 1, 1024) and x.dtype == np.float32
    assert np.bincount(y).tolist() == [4] * len(TONE_CLASSES)
    assert np.abs(x).max() <= 1 and np.abs(x).max() > 0.2
    np.testing.assert_array_equal(x, synth_tones(1024, per_class=4, seed=0)[0])
    assert not np.array_equal(x, synth_tones(1024, per_class=4, seed=1)[0])
    data = load_tones(DataConfig(spec="tones", resolution=1024, labels=False))
    assert data.x.shape == (2000, 1, 1024) and data.y is None
    assert data.sample_rate == 1000


def _write_pcm(path, frames: np.ndarray, rate: int, width: int = 2) -> None:
    """frames (T, C) float in [-1, 1] -> PCM WAV with the stdlib writer."""
    scale = {1: 127, 2: 32767, 3: 8388607}[width]
    ints = np.round(frames * scale).astype(np.int64)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(frames.shape[1])
        w.setsampwidth(width)
        w.setframerate(rate)
        if width == 1:
            w.writeframes((ints + 128).astype(np.uint8).tobytes())
        elif width == 2:
            w.writeframes(ints.astype("<i2").tobytes())
        else:
            b = ints.astype("<i4").view(np.uint8).reshape(-1, 4)[:, :3]
            w.writeframes(b.tobytes())


def _write_float_wav(path, frames: np.ndarray, rate: int) -> None:
    data = frames.astype("<f4").tobytes()
    ch = frames.shape[1]
    fmt = struct.pack("<HHIIHH", 3, ch, rate, rate * 4 * ch, 4 * ch, 32)
    body = b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt + b"data"
    body += struct.pack("<I", len(data)) + data
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)


def _peak_hz(clip: np.ndarray, rate: int) -> float:
    spec = np.abs(np.fft.rfft(clip * np.hanning(len(clip))))
    return float(np.argmax(spec) * rate / len(clip))


def test_wav_folder_loading(tmp_path):
    t8 = np.arange(4000) / 8000  # 0.5 s at 8 kHz: shorter than a clip -> padded
    t22 = np.arange(2 * 22050) / 22050  # 2 s at 22.05 kHz: longer -> cropped
    sine8 = 0.5 * np.sin(2 * np.pi * 440 * t8)[:, None]
    _write_pcm(tmp_path / "a_mono8k.wav", sine8, 8000)
    left = 0.8 * np.sin(2 * np.pi * 300 * t22)
    _write_pcm(tmp_path / "b_stereo22k.wav", np.stack([left, np.zeros_like(left)], 1), 22050)
    _write_pcm(tmp_path / "c_24bit.WAV", sine8, 8000, width=3)
    _write_pcm(tmp_path / "d_8bit.wav", sine8, 8000, width=1)
    _write_float_wav(tmp_path / "e_float.wav", sine8, 8000)
    (tmp_path / "f_corrupt.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunk")
    (tmp_path / "notes.txt").write_text("not audio")
    with pytest.warns(UserWarning, match="skipped 1"):
        data = load_audio_folder(tmp_path, DataConfig(spec=str(tmp_path), resolution=4096))
    rate = rate_for_length(4096)
    assert data.x.shape == (5, 1, 4096) and data.sample_rate == rate == 4000
    assert [p.endswith("f_corrupt.wav") for p, _ in data.skipped] == [True]
    mono, stereo, pcm24, pcm8, flt = data.x[:, 0].numpy()
    # 0.5 s at 8 kHz -> 2000 samples at 4 kHz, then zeros
    assert np.abs(mono[:1900]).max() == pytest.approx(0.5, abs=0.02)
    assert np.abs(mono[2050:]).max() == 0
    assert _peak_hz(mono[:2000], rate) == pytest.approx(440, abs=3)
    # stereo with a silent right channel averages to half amplitude; pitch survives 22k->4k
    assert np.abs(stereo[100:-100]).max() == pytest.approx(0.4, abs=0.02)
    assert _peak_hz(stereo, rate) == pytest.approx(300, abs=2)
    np.testing.assert_allclose(pcm24, mono, atol=1e-4)
    np.testing.assert_allclose(pcm8, mono, atol=0.02)
    np.testing.assert_allclose(flt, mono, atol=1e-4)


def test_wav_folder_classes_and_errors(tmp_path):
    for cls in ("dogs", "cats"):
        (tmp_path / cls).mkdir()
        _write_pcm(tmp_path / cls / "x.wav", np.zeros((100, 1)), 8000)
    data = load_audio_folder(tmp_path, DataConfig(spec=str(tmp_path), resolution=1024))
    assert data.y.tolist() == [0, 1] and data.class_names == ("cats", "dogs")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="no .wav files"):
        load_audio_folder(empty, DataConfig(spec=str(empty)))
    with pytest.raises(ValueError, match="not a RIFF"):
        read_wav(__file__)


def test_write_samples_png_and_wav(tmp_path):
    G, _ = build_wavegan(z_dim=8, out_shape=(1, 1024), width=2)
    x = G.sample(3, seed=0)
    grid = G.write_samples(x, tmp_path / "samples" / "step_0000010.png")
    assert grid.is_file() and grid.suffix == ".png"
    reel, rate = read_wav(tmp_path / "samples" / "step_0000010.wav")
    assert rate == G.sample_rate and len(reel) == 3 * (1024 + rate // 4)
    first = G.write_samples(x, tmp_path / "a.wav")
    assert first.name == "a_0.wav"
    clips = [read_wav(tmp_path / f"a_{i}.wav")[0][:, 0] for i in range(3)]
    np.testing.assert_allclose(clips[2], x[2, 0].numpy(), atol=1 / 32767 + 1e-6)
    assert G.write_samples(x[:1], tmp_path / "one.wav").name == "one.wav"


def test_trainer_step_on_tones(tmp_path):
    from ganforge.training.trainer import Trainer

    cfg = tiny_config(
        steps=2,
        data=DataConfig(spec="tones", resolution=1024),
        model=ModelConfig(name="wavegan", z_dim=8, args={"width": 2}),
        loss=LossConfig(name="wgan-gp"),
        optim=OptimConfig(lr_g=1e-4, lr_d=1e-4, beta1=0.5, beta2=0.9, d_steps=2),
    )
    cfg = dataclasses.replace(cfg, log=dataclasses.replace(cfg.log, sample_every=2, n_samples=4))
    trainer = Trainer(cfg, tmp_path / "run")
    before = [p.clone() for p in trainer.G.parameters()]
    trainer.run()
    assert any(not torch.equal(a, b) for a, b in zip(before, trainer.G.parameters(), strict=True))
    assert (tmp_path / "run" / "samples" / "step_0000002.png").is_file()
    assert (tmp_path / "run" / "samples" / "step_0000002.wav").is_file()
    assert (tmp_path / "run" / "samples.wav").is_file()


def test_inception_score_coverage_and_frechet_closed_forms():
    eye = torch.eye(5).repeat(20, 1)  # confident and uniform over 5 classes
    assert inception_score(eye) == pytest.approx(5.0, rel=1e-6)
    assert inception_score(torch.eye(5)[[2] * 50]) == pytest.approx(1.0, rel=1e-6)
    assert class_coverage(eye) == (1.0, pytest.approx(0.0, abs=1e-12))
    cov, kl = class_coverage(torch.eye(5)[[0, 1] * 50])
    assert cov == 0.4 and kl == pytest.approx(math.log(5 / 2))
    rng = np.random.default_rng(0)
    a = rng.standard_normal((2000, 4))
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    assert frechet_distance(a, a + 3.0) == pytest.approx(4 * 9.0, rel=1e-6)
    # (mu, S) vs (2 mu, 4S): |mu|^2 + tr(S + 4S - 2 * 2S) = |mu|^2 + tr(S)
    expected = (a.mean(0) ** 2).sum() + np.trace(np.cov(a.T))
    assert frechet_distance(a, 2 * a) == pytest.approx(expected, rel=1e-9)
    b = rng.standard_normal((2000, 4)) @ rng.standard_normal((4, 4))
    from scipy import linalg

    s_a, s_b = np.cov(a.T), np.cov(b.T)
    ref = ((a.mean(0) - b.mean(0)) ** 2).sum() + np.trace(
        s_a + s_b - 2 * np.real(linalg.sqrtm(s_a @ s_b))
    )
    assert frechet_distance(a, b) == pytest.approx(ref, rel=1e-8)  # scipy's sqrtm as oracle


def test_shipped_classifier_separates_real_tones_from_noise():
    real = heldout_tones(4096, per_class=20)
    probs, feats = classify_audio(real)
    labels = torch.arange(len(real)) % len(TONE_CLASSES)
    assert float((probs.argmax(1) == labels).double().mean()) >= 0.9
    assert feats.shape == (100, 64)
    real_scores = audio_scores(real, heldout_tones(4096, per_class=40))
    noise_scores = audio_scores(noise_clips(100, 4096), heldout_tones(4096, per_class=40))
    assert real_scores["is_tones"] > 3.5 > noise_scores["is_tones"]
    assert real_scores["coverage_tones"] == 1.0
    assert real_scores["fd_tones"] * 5 < noise_scores["fd_tones"]
