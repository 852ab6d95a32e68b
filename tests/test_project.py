"""Projection: recovering an image G generated, the W path for StyleGAN-like generators,
image loading and the ``project`` subcommand."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from ganforge.cli import build_parser
from ganforge.models.base import Generator, StyleBased
from ganforge.models.dcgan import build_dcgan
from ganforge.sampling.projection import load_target_image, project


def _tiny_dcgan() -> Generator:
    torch.manual_seed(0)
    G, _ = build_dcgan(z_dim=8, out_shape=(1, 28, 28), ngf=8, ndf=8)
    return G.eval()


def test_projection_recovers_a_generated_image():
    G = _tiny_dcgan()
    with torch.no_grad():
        target = G(G.make_z(1, seed=123))
    z, recon, hist = project(G, target[0], steps=150, lr=0.05, seed=0, progress=False)
    assert z.shape == (1, 8) and recon.shape == (1, 1, 28, 28) and len(hist) == 151
    assert hist[-1] < 0.05 * hist[0]
    assert hist[-1] < 2e-3
    assert torch.allclose(((recon - target) ** 2).mean(), torch.tensor(hist[-1]), atol=1e-6)
    assert not G.training and all(p.requires_grad for p in G.parameters())  # restored


class _FakeStyleG(Generator):
    """Linear 'synthesis' of the mean w; enough to check the W path."""

    def __init__(self):
        super().__init__(4, (1, 4, 4))
        self.num_ws = 3
        self.register_buffer("w_avg", torch.full((5,), 0.5))
        self.lin = nn.Linear(5, 16)

    def mapping(self, z):
        raise AssertionError("projection in W must not go through the mapping")

    def synthesis(self, ws, *, noise_mode="random"):
        assert noise_mode == "const" and ws.shape[1:] == (3, 5)
        return torch.tanh(self.lin(ws.mean(1))).view(-1, 1, 4, 4)

    def training_ws(self, z):
        raise AssertionError("projection never trains")

    def style_mix(self, z_a, z_b, crossover_layer, **kw):
        raise AssertionError("projection never mixes styles")

    def forward(self, z):
        return self.synthesis(z.new_zeros(len(z), 3, 5), noise_mode="const")


def test_stylegan_projection_optimises_w_from_w_avg():
    torch.manual_seed(0)
    G = _FakeStyleG().eval()
    assert isinstance(G, StyleBased) and not isinstance(_tiny_dcgan(), StyleBased)
    w_true = torch.randn(1, 5) * 0.5
    with torch.no_grad():
        target = G.synthesis(w_true[:, None].expand(-1, 3, -1), noise_mode="const")
        start = G.synthesis(G.w_avg[None, None].expand(-1, 3, -1), noise_mode="const")
    w, _, hist = project(G, target, steps=200, lr=0.05, progress=False)
    assert w.shape == (1, 5)
    assert hist[0] == pytest.approx(float(((start - target) ** 2).mean()), rel=1e-5)
    assert hist[-1] < 1e-4


def test_load_target_image(tmp_path):
    rgb = np.zeros((40, 60, 3), np.uint8)
    rgb[:, 30:] = 255  # right half white; the centre crop keeps 40x40
    Image.fromarray(rgb).save(tmp_path / "a.png")
    x = load_target_image(tmp_path / "a.png", (1, 28, 28))
    assert x.shape == (1, 1, 28, 28) and x.min() >= -1 and x.max() <= 1
    assert x[0, 0, :, 0].max() < -0.9 and x[0, 0, :, -1].min() > 0.9
    Image.fromarray(rgb[:, :, 0]).save(tmp_path / "g.png")
    assert load_target_image(tmp_path / "g.png", (3, 16, 16)).shape == (1, 3, 16, 16)
    with pytest.raises(FileNotFoundError):
        load_target_image(tmp_path / "missing.png", (1, 28, 28))
    (tmp_path / "bad.png").write_bytes(b"not an image")
    with pytest.raises(ValueError, match="cannot decode"):
        load_target_image(tmp_path / "bad.png", (1, 28, 28))


def test_project_subcommand_writes_png_and_npy(tmp_path, monkeypatch):
    import ganforge.hub.load

    G = _tiny_dcgan()
    monkeypatch.setattr(ganforge.hub.load, "load_generator", lambda path, **kw: G)
    with torch.no_grad():
        img = ((G(G.make_z(1, seed=1))[0, 0] + 1) * 127.5).round().byte().numpy()
    Image.fromarray(img).save(tmp_path / "t.png")
    args = build_parser(["project"]).parse_args(
        ["project", "RUN", str(tmp_path / "t.png"), "--steps", "5", "--no-progress"]
    )
    assert args.func(args) == 0
    out = tmp_path / "t_projected.png"
    assert out.is_file() and np.load(tmp_path / "t_projected.npy").shape == (1, 8)
    assert Image.open(out).width > Image.open(out).height  # target | reconstruction
