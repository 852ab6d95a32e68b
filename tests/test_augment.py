"""DiffAugment transforms and the ADA probability controller."""

from __future__ import annotations

import pytest
import torch

from ganforge.training.augment import (
    AdaptiveAugment,
    affine,
    affine_warp,
    brightness,
    contrast,
    cutout,
    diff_augment,
    parse_policy,
    saturation,
    translation,
)


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def images(n: int = 8, c: int = 3, h: int = 16, w: int = 16, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, c, h, w, generator=gen(seed + 100)) * 2 - 1


def test_policy_parsing():
    assert parse_policy("color,translation,cutout") == [
        brightness,
        saturation,
        contrast,
        translation,
        cutout,
    ]
    assert parse_policy("") == [] and parse_policy(["cutout"]) == [cutout]
    with pytest.raises(ValueError, match="valid: color, translation, cutout"):
        parse_policy("color,flip")


def test_deterministic_under_a_generator():
    x = images()
    a = diff_augment(x, generator=gen(1))
    b = diff_augment(x, generator=gen(1))
    c = diff_augment(x, generator=gen(2))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.shape == x.shape and a.dtype == x.dtype
    assert torch.equal(diff_augment(x, ""), x)


def test_gradients_flow_to_the_input():
    x = images().requires_grad_(True)
    diff_augment(x, generator=gen(3)).square().sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    assert (x.grad != 0).float().mean() > 0.3  # all but translated-out / cut-out pixels


def test_translation_is_a_shift_with_zero_fill():
    x = images(n=6, c=2, h=16, w=16)
    y = translation(x, gen(4))
    assert y.shape == x.shape
    s = 2  # round(16 / 8)
    pad = torch.nn.functional.pad(x, (s, s, s, s))
    for i in range(len(x)):
        matches = [
            (dy, dx)
            for dy in range(-s, s + 1)
            for dx in range(-s, s + 1)
            if torch.equal(y[i], pad[i, :, s - dy : s - dy + 16, s - dx : s - dx + 16])
        ]
        assert len(matches) == 1, f"sample {i} is not a single shift within +-{s} px"


def test_cutout_zeroes_the_expected_fraction():
    n, h = 4000, 16
    y = cutout(torch.ones(n, 1, h, h), gen(5))
    size = 8  # round(h / 2)
    # centre offsets are uniform on 0..h (h + 1 - size % 2 values); the square is clipped
    offsets = range(h + 1 - size % 2)
    lengths = [min(o - size // 2 + size, h) - max(o - size // 2, 0) for o in offsets]
    expected = (sum(lengths) / len(lengths) / h) ** 2  # independent axes
    zero_frac = (y == 0).float().mean().item()
    assert zero_frac == pytest.approx(expected, abs=0.01)
    assert ((y == 0).flatten(1).sum(1) <= size * size).all()
    assert ((y == 0) | (y == 1)).all()


def test_color_transforms_ranges():
    x = images(n=64)
    b = brightness(x, gen(6)) - x  # one constant offset per sample in [-0.5, 0.5)
    assert torch.allclose(b, b[:, :1, :1, :1].expand_as(b), atol=1e-6)
    assert b.min() >= -0.5 and b.max() < 0.5
    gray = x[:, :1].expand(-1, 3, -1, -1)
    assert torch.allclose(saturation(gray, gen(7)), gray)  # no colour, nothing to change
    c = contrast(x, gen(8))
    ratio = (c - c.mean((1, 2, 3), keepdim=True)).std((1, 2, 3)) / x.std((1, 2, 3))
    assert ratio.min() >= 0.5 - 1e-4 and ratio.max() < 1.5 + 1e-4
    assert torch.allclose(c.mean((1, 2, 3)), x.mean((1, 2, 3)), atol=1e-5)


def test_rejects_non_images():
    with pytest.raises(ValueError, match="images"):
        diff_augment(torch.zeros(4, 2))


# ----------------------------------------------------------------------------- ADA
def test_p_rises_when_d_is_overconfident_on_reals():
    ada = AdaptiveAugment(target=0.6, speed_imgs=1000, interval=4)
    for _ in range(8):
        ada.update(torch.full((64,), 3.0))
    # two adjustments of +(4 * 64) / 1000 each
    assert ada.p == pytest.approx(0.512, abs=1e-6)
    assert ada.rt == 1.0
    for _ in range(40):
        ada.update(torch.ones(64))
    assert ada.p == 1.0  # clamped


def test_p_falls_when_d_is_not_overconfident():
    ada = AdaptiveAugment(target=0.6, speed_imgs=1000, interval=4, p_init=0.3)
    for _ in range(4):
        # 3 of 4 reals judged real: r_t = 0.5 < 0.6
        ada.update(torch.tensor([1.0, 1.0, 1.0, -1.0] * 16))
    assert ada.rt == pytest.approx(0.5)
    assert ada.p == pytest.approx(0.3 - 0.256, abs=1e-6)
    for _ in range(4):
        ada.update(-torch.ones(64))
    assert ada.p == 0.0
    for _ in range(3):  # an incomplete interval does not move p
        ada.update(torch.ones(64))
    assert ada.p == 0.0
    assert set(ada.stats()) == {"ada_p", "ada_rt"}


def test_p_zero_is_the_identity_and_p_one_always_augments():
    x = images(n=32)
    ada = AdaptiveAugment(p_init=0.0)
    assert torch.equal(ada(x, gen(9)), x)
    full = AdaptiveAugment(policy="cutout", p_init=1.0)
    y = full(x, gen(9))
    assert ((y == 0).flatten(1).sum(1) > 0).all()
    half = AdaptiveAugment(policy="cutout", p_init=0.5)
    changed = (half(images(n=400), gen(10)) != images(n=400)).flatten(1).any(1).float().mean()
    assert 0.4 < changed.item() < 0.6


def test_ada_is_differentiable():
    x = images().requires_grad_(True)
    AdaptiveAugment(p_init=0.7)(x, gen(11)).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_ada_state_resumes_exactly(tmp_path):
    torch.manual_seed(0)
    logits = [torch.randn(32) + 1.5 for _ in range(13)]
    a = AdaptiveAugment(speed_imgs=500, interval=4)
    for t in logits[:6]:  # stop mid-interval
        a.update(t)
    torch.save(a.state_dict(), tmp_path / "ada.pt")
    b = AdaptiveAugment(speed_imgs=500, interval=4)
    b.load_state_dict(torch.load(tmp_path / "ada.pt", weights_only=True))
    assert b.p == a.p and b.rt == a.rt
    for t in logits[6:]:
        a.update(t)
        b.update(t)
        assert b.p == a.p
    assert a.p > 0  # the run did move p


def test_affine_warp_closed_forms():
    x = images(2, 1, 6, 6)
    one, zero = torch.ones(2), torch.zeros(2)
    # Identity; a quarter turn is rot90 exactly (pixel centres map onto pixel centres).
    assert torch.allclose(affine_warp(x, zero, one, zero, zero, zero), x, atol=1e-6)
    quarter = affine_warp(x, one * torch.pi / 2, one, zero, zero, zero)
    assert torch.allclose(quarter, torch.rot90(x, 1, (2, 3)), atol=1e-5)
    # A shift by one pixel (2/6 in normalised units) reads the next column; -1 comes in.
    shifted = affine_warp(x, zero, one, zero, one * 2 / 6, zero)
    assert torch.allclose(shifted[..., :-1], x[..., 1:], atol=1e-5)
    assert torch.allclose(shifted[..., -1], torch.full_like(shifted[..., -1], -1.0))


def test_affine_is_random_per_sample_bounded_and_differentiable():
    x = images(4, 1, 16, 16).requires_grad_(True)
    y = affine(x, gen(1))
    assert torch.equal(y, affine(x, gen(1))) and not torch.equal(y, affine(x, gen(2)))
    assert float(y.detach().min()) >= -1 - 1e-6 and float(y.detach().max()) <= 1 + 1e-6
    y.sum().backward()
    assert x.grad is not None and float(x.grad.abs().sum()) > 0
    assert len(parse_policy("affine,translation")) == 2
