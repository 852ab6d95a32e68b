"""Export (safetensors, ONNX) and the zoo: load, verify hashes, download from a URL."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import ganforge
from ganforge.cli import main
from ganforge.core.checkpoint import CheckpointError
from ganforge.hub.export import export_onnx, export_safetensors, sha256_file
from ganforge.hub.zoo import ZOO, ZooEntry, ZooError, download_entry, load_entries, resolve_zoo
from ganforge.training.trainer import Trainer


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    from tests.conftest import tiny_config

    out = tmp_path_factory.mktemp("run") / "r"
    Trainer(tiny_config(), out).run()
    return out


def test_safetensors_export_round_trip(run_dir, tmp_path):
    G = ganforge.load(run_dir)
    export_safetensors(G, tmp_path / "exp")
    info = json.loads((tmp_path / "exp" / "config.json").read_text())
    assert info["out_shape"] == [1, 28, 28] and info["config"]["model"]["name"] == "dcgan"
    G2 = ganforge.load(tmp_path / "exp")
    assert torch.equal(G.sample(4, seed=1), G2.sample(4, seed=1))
    export_safetensors(G, tmp_path / "half", dtype="fp16")
    G3 = ganforge.load(tmp_path / "half")
    assert torch.allclose(G.sample(4, seed=1), G3.sample(4, seed=1), atol=5e-3)
    assert (tmp_path / "half" / "generator.safetensors").stat().st_size < (
        tmp_path / "exp" / "generator.safetensors"
    ).stat().st_size * 0.6


def test_export_cli(run_dir, tmp_path):
    assert main(["export", str(run_dir), "--out", str(tmp_path / "e")]) == 0
    assert ganforge.load(tmp_path / "e").z_dim == 16


def test_onnx_matches_pytorch(run_dir, tmp_path):
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    G = ganforge.load(run_dir)
    path = export_onnx(G, tmp_path / "onnx")
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    z = G.make_z(5, seed=3)
    (out,) = sess.run(None, {"z": z.numpy()})
    np.testing.assert_allclose(out, G(z).detach().numpy(), atol=1e-5)


def _entry_for(folder, name="tiny", **kw):
    return ZooEntry(
        name=name,
        data="mnist5k",
        model="dcgan",
        sha256=sha256_file(folder / "generator.safetensors"),
        **kw,
    )


def test_download_by_file_url_verifies_hash(run_dir, tmp_path):
    export_safetensors(ganforge.load(run_dir), tmp_path / "remote")
    entry = _entry_for(tmp_path / "remote", url=(tmp_path / "remote").as_uri())
    folder = download_entry(entry, cache=tmp_path / "cache")
    assert ganforge.load(folder).z_dim == 16
    bad = ZooEntry(
        name="bad", data="", model="", sha256="0" * 64, url=(tmp_path / "remote").as_uri()
    )
    with pytest.raises(ZooError, match="sha256"):
        download_entry(bad, cache=tmp_path / "cache")
    assert not (tmp_path / "cache" / "bad" / "generator.safetensors").exists()
    missing = ZooEntry(
        name="gone", data="", model="", sha256="0" * 64, url=(tmp_path / "nowhere").as_uri()
    )
    with pytest.raises(ZooError, match="cannot download"):
        download_entry(missing, cache=tmp_path / "cache")


def test_entries_file_parses(tmp_path):
    (tmp_path / "e.toml").write_text(
        '[entry.a]\ndata = "ring8"\nmodel = "toy2d"\nsha256 = "ab"\npath = "x"\n'
        "[entry.a.numbers]\nmodes = 8\n"
    )
    reg = load_entries(tmp_path / "e.toml")
    assert reg.names() == ["a"] and reg.get("a").numbers == {"modes": 8}
    with pytest.raises(ZooError, match="not installed"):
        resolve_zoo("a", reg)


@pytest.mark.parametrize("name", ZOO.names())
def test_shipped_zoo_entries_load_and_match_hash(name):
    folder = resolve_zoo(name)  # checks the sha256
    kind = json.loads((folder / "config.json").read_text()).get("kind")
    if kind == "tabular":
        from ganforge.apps.tabular.run import load_tabular

        with pytest.raises(CheckpointError, match=f"ganforge sample zoo:{name}"):
            ganforge.load(f"zoo:{name}")
        rows = load_tabular(f"zoo:{name}").sample(4, seed=0)
        assert len(rows) == 4 and rows.notna().any(axis=None)
        return
    if kind == "translation":
        from ganforge.apps.translation import load_translator

        with pytest.raises(CheckpointError, match=f"ganforge translate apply zoo:{name} IMAGE"):
            ganforge.load(f"zoo:{name}")
        tr = load_translator(f"zoo:{name}")
        r = tr.resolution
        y = tr(torch.zeros(2, tr.channels[0], r, r))
        assert y.shape == (2, tr.channels[1], r, r) and torch.isfinite(y).all()
        return
    G = ganforge.load(f"zoo:{name}")
    x = G.sample(4, seed=0)
    assert x.shape[0] == 4 and torch.isfinite(x).all()


def test_zoo_list_cli(capsys):
    assert main(["zoo", "list"]) == 0
    assert "name" in capsys.readouterr().out
