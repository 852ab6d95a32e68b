"""Training on your own images: fitting a run to a folder, labels from sub-folders,
evaluation that fits the data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ganforge.apps.fit import fit_to_data, fitting_metrics, pick_resolution
from ganforge.cli import main
from ganforge.core.config import DataConfig
from ganforge.core.presets import load_preset_or_file
from ganforge.data import load_data
from ganforge.data.files import survey_image_folder


@pytest.fixture(scope="module")
def photo_folder(tmp_path_factory) -> Path:
    """Three classes of 48x40 colour 'photos' (a colour and a texture each) plus one
    file that is not an image and one that is a broken image."""
    root = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(0)
    for k, name in enumerate(["beach", "forest", "snow"]):
        (root / name).mkdir()
        for i in range(12):
            base = np.zeros((40, 48, 3)) + [[[200, 180, 120], [40, 120, 50], [230, 235, 240]][k]]
            img = np.clip(base + rng.normal(0, 25, base.shape), 0, 255).astype(np.uint8)
            Image.fromarray(img).save(
                root / name / f"{i}.jpg" if i % 2 else root / name / f"{i}.png"
            )
    (root / "snow" / "notes.txt").write_text("not an image")
    (root / "forest" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)
    return root


def test_resolution_rule():
    assert pick_resolution(40, cuda=False) == 32  # never scaled up
    assert pick_resolution(500, cuda=False) == 64  # at most 64 on a CPU
    assert pick_resolution(500, cuda=True) == 256
    assert pick_resolution(100, cuda=True) == 64
    assert pick_resolution(12, cuda=False) == 32  # at least 32


def test_survey_reads_headers(photo_folder):
    s = survey_image_folder(photo_folder)
    assert (s.files, s.short_side, s.color) == (37, 40, True)
    assert s.class_names == ("beach", "forest", "snow") and abs(s.aspect - 1.2) < 1e-6


def test_fitting_adapts_and_says_so(photo_folder):
    _, cfg = load_preset_or_file("cgan-mnist")
    cfg = cfg.__class__(
        **{**cfg.__dict__, "data": DataConfig(spec=str(photo_folder), resolution=32)}
    )
    with pytest.warns(UserWarning, match="skipped 1"):
        data = load_data(cfg.data)
    fitted = fit_to_data(cfg, data)
    c = fitted.cfg
    assert c.batch_size == 8 and c.model.args["num_classes"] == 3 and c.tricks.ada
    assert c.data.class_names == ("beach", "forest", "snow")
    text = "\n".join(fitted.notes)
    assert "num_classes 10 -> 3" in text and "batch_size 64 -> 8" in text


def test_metrics_fit_the_data(photo_folder):
    data = load_data(DataConfig(spec=str(photo_folder), resolution=32, labels=False))
    metrics, notes = fitting_metrics(["fid5k_lenet", "classes_mnist", "kid1k_inception"], data)
    assert metrics == ["fid36_randconv", "kid36_randconv"]
    assert any("dropped classes_mnist" in n for n in notes)
    digits = load_data(DataConfig(spec="mnist5k"))
    assert fitting_metrics(["fid5k_lenet", "classes_mnist"], digits) == (
        ["fid5k_lenet", "classes_mnist"],
        [],
    )


def test_train_on_a_folder_with_no_preset_and_sample_a_named_class(
    photo_folder, tmp_path, capsys, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--data", str(photo_folder), "--steps", "2", "--no-progress"]) == 0
    out = capsys.readouterr().out
    run = tmp_path / "runs" / photo_folder.name
    assert "note: data.resolution = 32" in out and "about" in out and "per step" in out
    assert (run / "checkpoints" / "latest.pt").is_file() and (run / "samples.png").is_file()
    records = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    fitted = [r for r in records if r.get("event") == "fitted_to_data"]
    assert fitted and any("tricks.ada" in n for n in fitted[0]["notes"])
    evals = [r for r in records if r.get("event") == "eval"]
    assert evals and "fid36_randconv" in evals[0]
    # the conditional model on the sub-folders, sampled by class name
    assert main(["train", "cgan-mnist", "--data", str(photo_folder), "--steps", "2",
                 "--out", str(tmp_path / "c"), "--no-progress"]) == 0  # fmt: skip
    assert main(["sample", str(tmp_path / "c"), "--class", "snow", "-n", "4",
                 "--out", str(tmp_path / "snow.png")]) == 0  # fmt: skip
    capsys.readouterr()
    assert main(["sample", str(tmp_path / "c"), "--class", "desert", "--out",
                 str(tmp_path / "x.png")]) == 2  # fmt: skip
    assert "this run's classes: beach, forest, snow" in capsys.readouterr().err


def test_a_model_for_another_modality_is_refused_before_loading(photo_folder, tmp_path, capsys):
    assert main(["train", "wavegan-tones", "--data", str(photo_folder), "--dry-run"]) == 2
    assert "trains a wavegan model on audio" in capsys.readouterr().err


def test_inception_weights_are_fetched_before_training_or_the_proxy_is_used(
    photo_folder, tmp_path, monkeypatch
):
    """Photo metrics want the FID Inception; when its weights cannot be fetched (here: a
    mirror that does not exist) the run learns it at the start and evaluates with the
    random-conv proxy instead of losing its end-of-run evaluation."""
    monkeypatch.delenv("GANFORGE_OFFLINE", raising=False)
    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("GANFORGE_INCEPTION_URL", (tmp_path / "missing.pth").as_uri())
    data = load_data(DataConfig(spec=str(photo_folder), resolution=32))
    metrics, notes = fitting_metrics(["fid5k_lenet"], data)  # a dry run: only says so
    assert metrics == [f"fid{len(data)}_inception"]
    assert any("will be fetched" in n for n in notes)
    metrics, notes = fitting_metrics(["fid5k_lenet", "kid1k_inception"], data, fetch=True)
    assert metrics == [f"fid{len(data)}_randconv", f"kid{len(data)}_randconv"]
    assert any("could not be fetched" in n and "missing.pth" in n for n in notes)
