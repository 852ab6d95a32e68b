"""Feature pipeline, extractors (LeNet, FID Inception), evaluate() and `ganforge eval`."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from ganforge import metrics
from ganforge.metrics import features as fx
from ganforge.metrics.inception import INCEPTION_ENV, FIDInceptionV3, load_inception
from ganforge.metrics.lenet import WEIGHTS_PATH, lenet_metadata, load_lenet
from ganforge.models.base import Generator


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def mnist():
    from ganforge.core.config import DataConfig
    from ganforge.data import load_data

    return load_data(DataConfig(spec="mnist5k"))


class _Replay(Generator):
    """A 'generator' that returns stored items in latent order (deterministic, tiny)."""

    def __init__(self, items: torch.Tensor) -> None:
        super().__init__(z_dim=4, out_shape=tuple(items.shape[1:]))
        self.items = items
        self.w = nn.Parameter(torch.zeros(()))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        idx = (z[:, 0].abs() * 1e6).long() % len(self.items)
        return self.items[idx] + 0 * self.w


# --- LeNet ----------------------------------------------------------------------------


def test_shipped_lenet_is_small_and_as_accurate_as_recorded(mnist):
    assert WEIGHTS_PATH.stat().st_size < 300 * 1024
    meta = lenet_metadata()
    recorded = float(meta["holdout_accuracy"])
    assert recorded >= 0.95


def test_lenet_holdout_accuracy_reproduces(mnist):
    import importlib.util

    spec = importlib.util.spec_from_file_location("train_lenet", "scripts/train_lenet.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    _, hold = mod.split(mnist.y)
    assert len(hold) == 1000 and torch.bincount(mnist.y[hold]).tolist() == [100] * 10
    net = load_lenet()
    with torch.no_grad():
        acc = float((net(mnist.x[hold]).argmax(1) == mnist.y[hold]).double().mean())
    assert acc == pytest.approx(float(lenet_metadata()["holdout_accuracy"]), abs=1e-4)


def test_attack_target_loader_finds_the_lenet():
    from ganforge.apps.adversarial.classifier import load_classifier

    model, rng = load_classifier(WEIGHTS_PATH)
    assert rng == "pm1" and sum(p.numel() for p in model.parameters()) == 61706


# --- FID Inception --------------------------------------------------------------------


def test_inception_state_dict_round_trip(tmp_path, monkeypatch):
    torch.manual_seed(0)
    net = FIDInceptionV3()
    sd = net.state_dict()
    # The names of pytorch-fid's file (torchvision Inception3, 1008 classes, no aux head).
    assert sd["fc.weight"].shape == (1008, 2048)
    assert sd["Mixed_7c.branch3x3dbl_3b.conv.weight"].shape == (384, 384, 3, 1)
    assert sd["Conv2d_1a_3x3.conv.weight"].shape == (32, 3, 3, 3)
    assert "Mixed_5b.branch_pool.bn.running_var" in sd
    # Old files lack num_batches_tracked; torchvision-style files may carry AuxLogits.
    stored = {k: v for k, v in sd.items() if not k.endswith("num_batches_tracked")}
    stored["AuxLogits.fc.weight"] = torch.zeros(2, 2)
    path = tmp_path / "pt_inception.pth"
    torch.save(stored, path)
    monkeypatch.setenv(INCEPTION_ENV, str(path))
    loaded = load_inception()  # from the environment variable
    for k, v in sd.items():
        assert torch.equal(loaded.state_dict()[k], v), k
    assert not loaded.training and not any(p.requires_grad for p in loaded.parameters())


def test_inception_missing_or_wrong_weights_say_what_to_do(tmp_path, monkeypatch):
    monkeypatch.delenv(INCEPTION_ENV, raising=False)
    with pytest.raises(FileNotFoundError, match="pt_inception-2015-12-05-6726825d.pth"):
        load_inception()
    with pytest.raises(FileNotFoundError, match=INCEPTION_ENV):
        load_inception(tmp_path / "nope.pth")
    bad = tmp_path / "bad.pth"
    torch.save({"conv.weight": torch.zeros(1)}, bad)
    with pytest.raises(ValueError, match="does not match"):
        load_inception(bad)


def test_inception_input_preparation_follows_pytorch_fid():
    net = FIDInceptionV3(protocol="pytorchfid")
    gray = torch.rand(2, 1, 32, 32) * 2 - 1
    x = net.prepare(gray)
    assert x.shape == (2, 3, 299, 299)
    assert torch.equal(x[:, 0], x[:, 1])
    # pytorch-fid resizes [0, 1] images, then maps to [-1, 1]; we resize in [-1, 1].
    img01 = (gray.expand(-1, 3, -1, -1) + 1) / 2
    ref = (
        2
        * torch.nn.functional.interpolate(
            img01, size=(299, 299), mode="bilinear", align_corners=False
        )
        - 1
    )
    assert torch.allclose(x, ref, atol=1e-6)


@pytest.mark.slow
def test_inception_full_size_forward():
    net = FIDInceptionV3().eval()
    with torch.no_grad():
        f, logits = net.features_and_logits(torch.rand(2, 3, 64, 64) * 2 - 1)
    assert f.shape == (2, 2048) and logits.shape == (2, 1008)
    assert (f >= 0).all()  # average of ReLU outputs


# --- pipeline -------------------------------------------------------------------------


def test_generator_stream_equals_sample():
    G = _Replay(torch.randn(64, 2))
    fs = fx.extract(G, "raw", n=50, batch_size=16, seed=3, progress=False)
    assert torch.equal(fs.features, G.sample(50, seed=3))


def test_evaluate_generator_against_mnist_with_cache(mnist):
    # mnist5k is stored sorted by class: replay a random subset.
    G = _Replay(mnist.x[torch.randperm(5000, generator=torch.Generator().manual_seed(0))[:300]])
    kw = dict(metrics=["fid", "kid", "pr", "dc"], n=200, real="mnist5k", progress=False)
    first = metrics.evaluate(G, **kw)
    second = metrics.evaluate(G, **kw)
    assert first["protocol"]["metrics"]["fid200_lenet"]["real_cached"] is False
    assert second["protocol"]["metrics"]["fid200_lenet"]["real_cached"] is True
    for k in ("fid200_lenet", "kid200_lenet", "pr200_lenet_precision", "dc200_lenet_coverage"):
        assert second[k] == first[k] and np.isfinite(first[k])
    info = first["protocol"]["metrics"]["fid200_lenet"]
    assert info["extractor"] == "lenet_mnist" and info["n_fake"] == 200 and info["n_real"] == 200
    # Real digits against real digits score far better than against noise.
    noise = metrics.evaluate(torch.rand(200, 1, 28, 28) * 2 - 1, **kw)
    assert noise["fid200_lenet"] > 10 * first["fid200_lenet"]
    assert noise["pr200_lenet_precision"] < first["pr200_lenet_precision"]


def test_registered_metric_returns_counts_and_extractor(mnist):
    from ganforge.core.registry import METRICS

    r = METRICS.get("fid1k_lenet")(mnist.x[:1000], real=mnist.x[1000:3000], progress=False)
    assert r["n_fake"] == 1000 and r["n_real"] == 1000 and r["extractor"] == "lenet_mnist"
    assert set(r) == {"fid1k_lenet", "n_fake", "n_real", "extractor"}


def test_evaluate_user_module_and_too_few_items():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(100, 1, 4, 4, generator=g), torch.randn(100, 1, 4, 4, generator=g)
    r = metrics.evaluate(a, metrics=["fid"], real=b, extractor=nn.Flatten(), progress=False)
    assert r["fid100_custom"] == pytest.approx(metrics.fid(b.flatten(1), a.flatten(1)))
    with pytest.raises(ValueError, match="holds 100 items"):
        metrics.evaluate(a, metrics=["fid1k_raw"], real=b, progress=False)
    with pytest.raises(ValueError, match="real="):
        metrics.evaluate(a, metrics=["fid"], progress=False)


def test_modes2d_from_generator():
    from ganforge.data.builtin import sample_mixture

    pts, _ = sample_mixture("grid25", 3000, seed=1)
    r = metrics.evaluate(_Replay(pts), metrics=["modes2d"], real="grid25", progress=False)
    assert r["modes2d_modes_captured"] == 25 and r["modes2d_high_quality"] > 0.95
    assert r["protocol"]["metrics"]["modes2d"]["n_fake"] == 2500


def test_classes_stacked_labels_match_data():
    from ganforge.core.config import DataConfig
    from ganforge.data import load_data

    data = load_data(DataConfig(spec="stacked_mnist"))
    x, y = data.x[:400], data.y[:400]
    ext = fx.get_extractor("lenet_mnist")
    from ganforge.metrics.classes import stacked_labels

    pred = stacked_labels(ext.classify, x)
    assert float((pred == y).double().mean()) > 0.85  # ~0.973^3 with three digits
    r = metrics.evaluate(x, metrics=["classes"], progress=False)
    assert 300 < r["classes_stacked_modes_captured"] <= 400


# --- CLI ------------------------------------------------------------------------------


def _run_cli(argv: list[str]) -> int:
    from ganforge.cli import build_parser

    args = build_parser(["eval"]).parse_args(["eval", *argv])
    return args.func(args)


def test_cli_eval_json_on_array_files(tmp_path, capsys):
    from ganforge.data.builtin import sample_mixture

    pts, _ = sample_mixture("ring8", 2500, seed=2)
    np.save(tmp_path / "fake.npy", pts.numpy())
    assert _run_cli(["--fake", str(tmp_path / "fake.npy"), "--real", "ring8", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["modes2d_modes_captured"] == 8
    assert out["protocol"]["metrics"]["modes2d"]["dataset"] == "ring8"
    with pytest.raises(ValueError, match="nothing to evaluate"):
        _run_cli([])


def test_cli_eval_on_a_missing_run_folder_names_it(tmp_path):
    missing = str(tmp_path / "runs" / "gan-ring8")
    with pytest.raises(ValueError, match="no such run folder.*Train it first"):
        _run_cli([missing, "--metrics", "modes2d"])
