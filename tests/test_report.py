"""The run report: reading a run folder, the numbers it shows, the page in a browser, and
the TensorBoard logger."""

from __future__ import annotations

import base64
import dataclasses
import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ganforge.core.config import LogConfig
from ganforge.ui.report import (
    estimate_wall_time,
    evenly_spaced,
    load_run,
    nearest_upscale_factor,
    nice_ticks,
    write_report,
)
from tests.browser import Browser
from tests.conftest import tiny_config


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real 12-step training run (samples every 3 steps, metrics every 2) on 64 random
    images (mnist5k's text parsing alone would take longer than these tests) whose loader
    "skipped" two unreadable files, which the trainer logs as an event."""
    import torch

    from ganforge.data.base import TensorData
    from ganforge.training.trainer import Trainer

    out = tmp_path_factory.mktemp("run")
    cfg = tiny_config(steps=12)
    cfg = dataclasses.replace(
        cfg, log=LogConfig(every=2, sample_every=3, ckpt_every=12, n_samples=16, progress=False)
    )
    g = torch.Generator().manual_seed(0)
    data = TensorData(
        x=torch.rand(64, 1, 28, 28, generator=g) * 2 - 1,
        name="random",
        skipped=[("bad1.png", "cannot identify image"), ("bad2.png", "truncated")],
    )
    Trainer(cfg, out, data=data).run()
    return out


def _add_events(run: Path) -> None:
    """Append guard and eval events as the trainer writes them."""
    events = [
        {"step": 5, "event": "nonfinite_grad", "net": "D", "data_finite": True},
        {
            "step": 7,
            "event": "rollback",
            "reason": "repeated_skips",
            "to_step": 4,
            "lr_g": 1e-4,
            "lr_d": 1e-4,
            "rollbacks": 1,
        },
        {"step": 6, "event": "eval", "fid5k_lenet": 80.5, "protocol": {"seed": 0}},
        {"step": 12, "event": "eval", "fid5k_lenet": 61.25, "protocol": {"seed": 0}},
    ]
    with open(run / "metrics.jsonl", "a", encoding="utf-8") as f:
        for e in events:
            f.write(json.dumps(e) + "\n")
        f.write('{"step": 13, "loss_d": 0.5, "los')  # a line cut by a crash


# --------------------------------------------------------------------------- helpers


def test_evenly_spaced_keeps_ends_and_limit() -> None:
    assert evenly_spaced(5, 40) == [0, 1, 2, 3, 4]
    idx = evenly_spaced(1000, 40)
    assert len(idx) == 40 and idx[0] == 0 and idx[-1] == 999
    assert all(b > a for a, b in zip(idx, idx[1:], strict=False))
    assert evenly_spaced(7, 1) == [6]


def test_nice_ticks_are_round_and_cover_range() -> None:
    t = nice_ticks(0.03, 4.2, 5)
    assert t[0] >= 0.03 and t[-1] <= 4.2 + 1e-9
    assert t == [1.0, 2.0, 3.0, 4.0]
    assert nice_ticks(0, 1000, 6) == [0, 200, 400, 600, 800, 1000]


def test_wall_time_sums_each_interval() -> None:
    recs = [
        {"step": 10, "images_per_s": 100.0},  # 10 steps * 16 images / 100 = 1.6 s
        {"step": 30, "images_per_s": 320.0},  # 20 * 16 / 320 = 1.0 s
        {"step": 40, "images_per_s": float("nan")},  # unusable: skipped
    ]
    assert estimate_wall_time(recs, 16) == pytest.approx(2.6)


def test_upscale_factor_detects_nearest_enlargement() -> None:
    rng = np.random.default_rng(0)
    small = rng.integers(0, 255, (30, 20), dtype=np.uint8)
    assert nearest_upscale_factor(small.repeat(4, 0).repeat(4, 1)) == 4
    assert nearest_upscale_factor(small.repeat(3, 0).repeat(3, 1)) == 3
    assert nearest_upscale_factor(small) == 1


# --------------------------------------------------------------------------- the page


def test_report_from_real_run(tiny_run: Path) -> None:
    path = write_report(tiny_run)
    assert path == tiny_run / "report.html"
    page = path.read_text(encoding="utf-8")
    # self-contained: no external URL anywhere (scripts, styles, images)
    assert not re.search(r"""(src|href)\s*=\s*["'](https?:)?//""", page)
    assert "<script src" not in page and "<link" not in page
    # every sample grid the run wrote (4) is embedded and readable as a PNG
    frames = re.findall(r'data-step="(\d+)"[^>]*src="data:image/png;base64,([^"]+)"', page)
    assert [int(s) for s, _ in frames] == [3, 6, 9, 12]
    im = Image.open(io.BytesIO(base64.b64decode(frames[-1][1])))
    # save_grid upscaled the 4x4 grid of 28-px digits 4x; the report stores it 1x
    assert im.size == (4 * 30 + 2, 4 * 30 + 2)
    assert 'type="range"' in page and 'max="3"' in page
    # config, charts and the summary
    assert "batch_size" in page and "mnist5k" in page
    for title in ("Losses", "D outputs", "Gradient norms", "Throughput (images/s)"):
        assert f"<b>{title}</b>" in page
    assert "12 / 12" in page and "finished" in page
    assert not list(tiny_run.glob(".report.html*"))  # the temp file was renamed


def test_report_events_eval_and_bad_lines(tiny_run: Path, tmp_path: Path) -> None:
    import shutil

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    _add_events(run)
    data = load_run(run)
    assert data.bad_lines == 1
    assert len(data.records) == 6 and len(data.events) == 5
    page = write_report(run).read_text(encoding="utf-8")
    n_charts = page.count('<svg class="chart"')
    assert n_charts == 6  # losses, D outputs, D accuracy, grad norms, throughput, eval
    assert page.count('class="marker rollback"') == n_charts  # step 7 is on every chart
    assert "repeated_skips: back to step 4" in page
    assert "2 unreadable files: bad1.png, bad2.png" in page
    assert "<b>Evaluation: fid5k_lenet</b>" in page and "61.2" in page
    assert "1 unreadable lines skipped" in page


def test_report_limits_embedded_images(tmp_path: Path) -> None:
    (tmp_path / "samples").mkdir()
    img = Image.fromarray(np.zeros((8, 8), np.uint8))
    for s in range(1, 101):
        img.save(tmp_path / "samples" / f"step_{s * 10:07d}.png")
    page = write_report(tmp_path, max_images=12).read_text(encoding="utf-8")
    steps = [int(s) for s in re.findall(r'data-step="(\d+)"', page)]
    assert len(steps) == 12 and steps[0] == 10 and steps[-1] == 1000
    assert "12 of 100 grids shown" in page
    assert "No metrics logged yet" in page  # an empty log is not an error


def test_report_is_cheap_to_refresh(tiny_run: Path) -> None:
    """The trainer refreshes the report at every sample interval: the second build
    reuses the encoded images (a regression guard, not a benchmark: generous bound)."""
    import time

    write_report(tiny_run)
    t = time.perf_counter()
    write_report(tiny_run)
    assert time.perf_counter() - t < 1.0


def test_report_cli(tiny_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from ganforge.cli import build_parser

    argv = ["report", str(tiny_run), "--max-images", "2"]
    args = build_parser(argv).parse_args(argv)
    assert args.func(args) == 0
    assert capsys.readouterr().out.strip() == str(tiny_run / "report.html")
    page = (tiny_run / "report.html").read_text(encoding="utf-8")
    assert len(re.findall(r'data-step="\d+"', page)) == 2


def test_missing_run_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        write_report(tmp_path / "nope")


def test_report_in_browser(tiny_run: Path, tmp_path: Path) -> None:
    """The page loads from disk without errors; curves, images and the slider work."""
    import shutil

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    _add_events(run)
    path = write_report(run)
    with Browser() as b:
        b.open(path.as_uri(), width=1300, height=1000)
        b.wait_for("document.body.dataset.ready === '1'")
        assert b.errors == []
        # curves: every chart has at least one drawn line with real coordinates
        n_paths = b.evaluate(
            "Array.from(document.querySelectorAll('svg.chart')).map("
            "s => s.querySelectorAll('path.line').length)"
        )
        assert len(n_paths) >= 5 and min(n_paths) >= 1
        # the shown grid decoded; the slider switches frames and the label
        assert b.evaluate(
            "Array.from(document.querySelectorAll('.frames img')).every("
            "i => i.complete && i.naturalWidth > 0)"
        )
        label = b.evaluate(
            "(() => { const s = document.getElementById('sample-slider'); s.value = 0;"
            " s.dispatchEvent(new Event('input'));"
            " const shown = [...document.querySelectorAll('.frames img')].filter(i => !i.hidden);"
            " return [shown.length, shown[0].dataset.step,"
            " document.getElementById('sample-label').textContent]; })()"
        )
        assert label == [1, "3", "step 3"]
        # hovering a chart shows the read-out
        tip = b.evaluate(
            "(() => { const svg = document.querySelector('svg.chart');"
            " const r = svg.getBoundingClientRect();"
            " svg.dispatchEvent(new MouseEvent('mousemove', {clientX: r.right - 20,"
            " clientY: r.top + 50, bubbles: true}));"
            " return svg.parentElement.querySelector('.tip').textContent; })()"
        )
        assert tip.startswith("step 12") and "loss_d" in tip
        shot = b.screenshot(tmp_path / "report.png", full_page=True)
        assert b.errors == []
    im = Image.open(shot)
    assert im.width == 1300 and im.height > 1000
    assert np.asarray(im.convert("L")).std() > 10  # not a blank page


# --------------------------------------------------------------------------- TensorBoard


def test_tensorboard_logger_round_trip(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    from ganforge.ui.tensorboard import TensorBoardLogger, read_scalars

    tb = TensorBoardLogger(tmp_path)
    assert tb.log_scalars(10, {"step": 10, "loss_d": 0.5, "grad_norm_G": 2.0}) == 2
    n = tb.log_scalars(20, {"loss_d": 0.25, "bad": float("nan"), "event": "x", "s": "text"})
    assert n == 1
    tb.log_scalars(20, {"fid5k_lenet": 40.0}, prefix="eval")
    tb.log_images(20, "samples", np.zeros((8, 6, 1), np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        tb.log_images(20, "samples", np.zeros((8, 6, 3), np.float32))
    tb.close()
    scalars = read_scalars(tmp_path)
    assert scalars["loss/loss_d"] == [(10, 0.5), (20, 0.25)]
    assert scalars["grad_norm/grad_norm_G"] == [(10, 2.0)]
    assert scalars["eval/fid5k_lenet"] == [(20, 40.0)]
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(tmp_path / "tensorboard"))
    acc.Reload()
    (img,) = acc.Images("samples")
    assert (img.step, img.width, img.height) == (20, 6, 8)


def test_tensorboard_missing_package_message(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    from ganforge.core.config import ConfigError
    from ganforge.ui.tensorboard import TensorBoardLogger

    real_import = builtins.__import__

    def no_tb(name: str, *a: object, **kw: object) -> object:
        if name == "tensorboard" or name.startswith("tensorboard."):
            raise ImportError("No module named 'tensorboard'")
        return real_import(name, *a, **kw)

    monkeypatch.setattr(builtins, "__import__", no_tb)
    with pytest.raises(ConfigError, match="pip install tensorboard.*log.tensorboard = false"):
        TensorBoardLogger("unused")
