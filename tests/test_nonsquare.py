"""Non-square images (H x W with a power-of-two aspect, e.g. 64x128): config, folder
loading, every image family, fitting a folder, training, sampling and projection."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.apps.fit import pick_aspect, pick_shape
from ganforge.cli import main
from ganforge.core.config import (
    ConfigError,
    DataConfig,
    ModelConfig,
    TrainConfig,
    dumps,
    from_dict,
    load_toml,
)
from ganforge.core.imaging import make_grid
from ganforge.data import load_data
from ganforge.data.files import survey_image_folder
from ganforge.models.build import build_models

TINY = {
    "dcgan": {"ngf": 8, "ndf": 8},
    "cgan": {"ngf": 8, "ndf": 8, "num_classes": 3},
    "infogan": {"ngf": 8, "ndf": 8, "fc_dim": 32, "q_dim": 16, "cat_dims": [3]},
    "stylegan": {"w_dim": 16, "mapping_layers": 1, "channel_base": 256, "channel_max": 16},
}
FAST = ["--no-progress", "--set", "precision=fp32", "--set", "channels_last=false"]


@pytest.fixture(scope="module")
def wide_folder(tmp_path_factory) -> Path:
    """16 PNGs of 64x128 (height x width): a bright left half, a dark right half."""
    root = tmp_path_factory.mktemp("wide")
    rng = np.random.default_rng(0)
    for i in range(16):
        img = np.zeros((64, 128, 3)) + rng.uniform(0, 60, 3)
        img[:, :64] += 180
        img = np.clip(img + rng.normal(0, 10, img.shape), 0, 255).astype(np.uint8)
        Image.fromarray(img).save(root / f"{i}.png")
    return root


@pytest.mark.parametrize("family", sorted(TINY))
@pytest.mark.parametrize("shape", [(3, 32, 64), (1, 64, 32)])
def test_each_family_builds_and_trains_a_step(family, shape):
    torch.manual_seed(0)
    G, D = build_models(ModelConfig(name=family, z_dim=8, args=TINY[family]), shape)
    G.train(), D.train()
    x = G(G.make_z(4))
    assert x.shape == (4, *shape)
    logits = D(x)
    assert logits.shape == (4,)
    (logits.mean() + D(torch.rand(4, *shape) * 2 - 1).mean()).backward()
    # every G weight is reached through D; D's heads that need labels or codes are not
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in G.parameters())
    assert all(torch.isfinite(p.grad).all() for p in D.parameters() if p.grad is not None)
    G.eval()
    assert G.sample(3, seed=1).shape == (3, *shape)


def test_unsupported_aspects_say_how_to_fix():
    with pytest.raises(ConfigError, match=r"power of two.*32x96.*data.width"):
        build_models(ModelConfig(name="dcgan", z_dim=8, args=TINY["dcgan"]), (3, 32, 96))
    with pytest.raises(ConfigError, match=r"powers of two.*32x48.*data.width"):
        build_models(ModelConfig(name="stylegan", z_dim=8, args=TINY["stylegan"]), (3, 32, 48))
    with pytest.raises(ConfigError, match="shorter side 4\\*2\\^k"):
        build_models(ModelConfig(name="cgan", z_dim=8, args=TINY["cgan"]), (3, 24, 48))


def test_config_round_trip_with_width(tmp_path):
    cfg = TrainConfig(data=DataConfig(spec="x", resolution=64, width=128))
    assert cfg.data.size == (64, 128) and DataConfig(resolution=32).size == (32, 32)
    text = dumps(cfg)
    assert "width = 128" in text
    (tmp_path / "c.toml").write_text(text)
    assert load_toml(tmp_path / "c.toml") == cfg
    # a config written before data.width existed loads unchanged (square)
    old = from_dict(TrainConfig, {"data": {"spec": "x", "resolution": 64}})
    assert old.data.width == 0 and old.data.size == (64, 64)
    with pytest.raises(ConfigError, match=r"data.width = -1 is out of range"):
        DataConfig(resolution=64, width=-1)
    with pytest.raises(ConfigError, match="needs data.resolution"):
        DataConfig(width=64)


def test_folder_loads_at_height_by_width(wide_folder):
    data = load_data(DataConfig(spec=str(wide_folder), resolution=32, width=64))
    assert data.x.shape == (16, 3, 32, 64)
    assert data.x[:, :, :, :32].mean() > data.x[:, :, :, 32:].mean() + 1  # not mirrored
    # square keeps the old centre crop: the middle of a 2:1 image, half bright half dark
    sq = load_data(DataConfig(spec=str(wide_folder), resolution=32))
    assert sq.x.shape == (16, 3, 32, 32)
    tall = load_data(DataConfig(spec=str(wide_folder), resolution=64, width=32))
    assert tall.x.shape == (16, 3, 64, 32)  # 1:2 crop of the centre, then resized


def test_fit_picks_the_folders_aspect(wide_folder):
    survey = survey_image_folder(wide_folder)
    assert survey.aspect == pytest.approx(2.0)
    height, width, note = pick_shape(survey, cuda=False)
    assert (height, width) == (64, 128) and "1:2 height:width" in note
    assert pick_aspect(1.7) == pick_aspect(2.4) == (1, 2)
    assert pick_aspect(0.417) == pick_aspect(0.588) == (2, 1)
    assert pick_aspect(1.3) == pick_aspect(1.69) == pick_aspect(2.5) == (1, 1)
    assert pick_aspect(4.0) == (1, 4) and pick_aspect(0.25) == (4, 1)


def _grid_shape(run: Path, shape: tuple[int, ...]) -> tuple[int, ...]:
    cfg = load_toml(run / "config.toml")
    return make_grid(torch.zeros(cfg.log.n_samples, *shape)).shape[:2]


def test_train_dcgan_on_a_wide_folder_then_sample(wide_folder, tmp_path, capsys):
    run = tmp_path / "dc"
    argv = ["train", "--data", str(wide_folder), "--steps", "2", "--out", str(run), *FAST,
            "--set", "model.args.ngf=8", "--set", "model.args.ndf=8"]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "data.resolution = 64, data.width = 128 (1:2 height:width)" in out
    cfg = load_toml(run / "config.toml")
    assert cfg.data.size == (64, 128)
    grid = np.asarray(Image.open(run / "samples.png"))
    assert grid.shape[:2] == _grid_shape(run, (3, 64, 128))
    evals = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in evals if r.get("event") == "eval"]
    assert evals and evals[-1]["protocol"]["real"]["width"] == 128
    assert main(["sample", str(run), "-n", "4", "--out", str(tmp_path / "s.png")]) == 0
    assert np.asarray(Image.open(tmp_path / "s.png")).shape[1] > 2 * 128  # 2 wide columns
    # projection of a wide target onto the wide generator
    from ganforge.sampling.projection import load_target_image

    target = load_target_image(next(wide_folder.glob("*.png")), (3, 64, 128))
    assert target.shape == (1, 3, 64, 128)
    png = tmp_path / "p.png"
    argv = ["project", str(run), str(next(wide_folder.glob("*.png"))), "--steps", "2",
            "--out", str(png), "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    assert (
        np.asarray(Image.open(png)).shape[:2] == make_grid(torch.zeros(2, 3, 64, 128), 2).shape[:2]
    )
    capsys.readouterr()


def test_train_stylegan_preset_on_a_wide_folder(wide_folder, tmp_path, capsys):
    run = tmp_path / "sg"
    argv = ["train", "stylegan-mnist", "--data", str(wide_folder), "--steps", "2", "--out",
            str(run), *FAST, "--set", "model.args.channel_base=256",
            "--set", "model.args.channel_max=16"]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "data.resolution 32 -> 32, data.width = 64" in out
    import ganforge

    G = ganforge.load(run)
    assert tuple(G.out_shape) == (3, 32, 64) and G.sample(2, seed=0).shape == (2, 3, 32, 64)
    grid = np.asarray(Image.open(run / "samples.png"))
    assert grid.shape[:2] == tuple(
        s * max(1, 256 // 64 // 2) for s in _grid_shape(run, (3, 32, 64))
    )
    assert dataclasses.asdict(load_toml(run / "config.toml").data)["width"] == 64
