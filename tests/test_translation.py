"""pix2pix / CycleGAN: network shapes and wiring, history pool, data layouts, the training
loops, exact resume, applying a run to files, the ``translate`` CLI at tiny sizes, and
exporting translators into the zoo."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.apps.translation.data import (
    DIGIT_COLORS,
    TranslationData,
    load_translation_data,
    mnist_color,
    mnist_edges,
    synthetic_task,
)
from ganforge.apps.translation.models import (
    HistoryPool,
    PatchDiscriminator,
    ResnetGenerator,
    UNetGenerator,
    patch_receptive_field,
    unet_depth,
)
from ganforge.apps.translation.train import (
    TranslationConfig,
    apply_translation,
    export_translator,
    load_translator,
    psnr,
    translation_trainer,
)
from ganforge.cli import build_parser
from ganforge.core.checkpoint import CheckpointError, load_checkpoint

TINY = {"ngf": 8, "ndf": 8, "batch_size": 4, "progress": False, "eval_n": 20}


@pytest.fixture(autouse=True)
def _one_thread():
    # Tiny convolutions run faster on one thread, and far faster on a busy 2-core box.
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def edges_small() -> TranslationData:
    d = synthetic_task("mnist-edges")
    return TranslationData(
        d.a[:64], d.b[:64], True, "mnist-edges", d.a_test[:20], d.b_test[:20], True
    )


@pytest.fixture(scope="module")
def color_unpaired() -> TranslationData:
    d = synthetic_task("mnist-color", paired=False)
    return TranslationData(
        d.a[:64], d.b[:64], False, "mnist-color", d.a_test[:20], d.b_test[:20], True
    )


def _write_png(path: Path, arr: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)


# ----------------------------------------------------------------------------- models
@pytest.mark.parametrize("res", [28, 32, 64])
def test_generator_and_patchgan_shapes(res: int) -> None:
    x = torch.randn(2, 1, res, res)
    unet = UNetGenerator(1, 3, res, ngf=8)
    assert unet.depth == unet_depth(res) == {28: 5, 32: 5, 64: 6}[res]
    y = unet(x)
    assert y.shape == (2, 3, res, res) and y.abs().max() <= 1
    resnet = ResnetGenerator(1, 3, ngf=8, n_blocks=1)
    assert resnet(x).shape == (2, 3, res, res)
    D = PatchDiscriminator(4, ndf=8, n_layers=2)
    out = D(torch.cat([x, y], 1))
    side = res // 4 - 2  # two stride-2 layers, then two 4x4 stride-1 convs each lose 1
    assert out.shape == (2, 1, side, side)


def test_unet_skip_connections_carry_encoder_features() -> None:
    torch.manual_seed(0)
    G = UNetGenerator(1, 1, 32, ngf=4).eval()
    enc_out: list[torch.Tensor] = []
    dec_in: list[torch.Tensor] = []
    hooks = [m.register_forward_hook(lambda m, i, o: enc_out.append(o)) for m in G.down]
    hooks += [m.register_forward_pre_hook(lambda m, i: dec_in.append(i[0])) for m in G.up]
    G(torch.randn(2, 1, 32, 32))
    for h in hooks:
        h.remove()
    depth = G.depth
    assert len(enc_out) == len(dec_in) == depth
    assert enc_out[-1].shape[-1] == 1  # 32 px halved 5 times: a 1x1 bottleneck as in the paper
    assert torch.equal(dec_in[0], enc_out[-1])
    for j in range(1, depth):
        skip = enc_out[depth - 1 - j]
        # the decoder input is [upsampled, skip] with the skip as the second half
        assert dec_in[j].shape[1] == 2 * skip.shape[1]
        assert torch.equal(dec_in[j][:, skip.shape[1] :], skip)
    # dropout only in the innermost decoder layers (paper: CD512 x 3, none in the outer 3)
    n_drop = [any(isinstance(m, torch.nn.Dropout) for m in up.modules()) for up in G.up]
    assert n_drop == [True, True, False, False, False]


def test_unet_dropout_is_off_in_eval_and_on_in_train() -> None:
    G = UNetGenerator(1, 1, 32, ngf=4)
    x = torch.randn(2, 1, 32, 32)
    G.eval()
    assert torch.equal(G(x), G(x))
    G.train()
    assert not torch.equal(G(x), G(x))


@pytest.mark.parametrize("n_layers", [1, 2])
def test_patchgan_receptive_field_matches_gradient_support(n_layers: int) -> None:
    assert patch_receptive_field(3) == 70  # the paper's 70x70 PatchGAN
    D = PatchDiscriminator(1, ndf=4, n_layers=n_layers, norm="none")
    x = torch.randn(1, 1, 64, 64, requires_grad=True)
    out = D(x)
    i = out.shape[-1] // 2
    out[0, 0, i, i].backward()
    rows = x.grad[0, 0].abs().sum(1).nonzero()
    cols = x.grad[0, 0].abs().sum(0).nonzero()
    rf = patch_receptive_field(n_layers)
    assert int(rows.max() - rows.min()) + 1 <= rf
    assert int(cols.max() - cols.min()) + 1 <= rf
    assert int(rows.max() - rows.min()) + 1 >= rf - 2  # border taps can have zero weight


# ----------------------------------------------------------------------------- pool
def test_history_pool_fills_then_swaps_half() -> None:
    pool = HistoryPool(capacity=5, seed=0)
    first = torch.arange(5.0).view(5, 1, 1, 1)
    assert torch.equal(pool.query(first), first) and len(pool) == 5
    n_old = 0
    stored = {float(v) for v in first.flatten()}
    for k in range(400):
        new = torch.full((1, 1, 1, 1), 100.0 + k)
        out = float(pool.query(new))
        assert len(pool) == 5
        if out != 100.0 + k:
            assert out in stored  # an earlier image, returned exactly
            n_old += 1
            stored.discard(out)
            stored.add(100.0 + k)
        assert stored == {float(im) for im in pool.images}
    assert 0.4 < n_old / 400 < 0.6  # p = 1/2
    assert torch.equal(HistoryPool(0).query(first), first)  # capacity 0: pass-through


def test_history_pool_state_round_trip() -> None:
    pool = HistoryPool(capacity=3, seed=1)
    pool.query(torch.randn(6, 2, 4, 4))
    clone = HistoryPool(capacity=3, seed=99)
    clone.load_state_dict(pool.state_dict())
    x = torch.randn(8, 2, 4, 4)
    assert torch.equal(pool.query(x), clone.query(x))


# ----------------------------------------------------------------------------- data
def test_synthetic_tasks_true_mappings_and_split() -> None:
    x = -torch.ones(1, 1, 7, 7)
    x[..., 2:5, 2:5] = 1  # a 3x3 square
    e = mnist_edges(x)
    # the 3x3 gradient marks the ring inside and outside the boundary, but not the centre
    assert e[0, 0, 3, 3] == -1 and e[0, 0, 2, 2] == 1 and e[0, 0, 1, 1] == 1 and e[0, 0, 0, 0] == -1
    c = mnist_color(x, torch.tensor([3]))
    assert torch.allclose((c[0, :, 3, 3] + 1) / 2, DIGIT_COLORS[3])
    assert torch.equal(c[0, :, 0, 0], -torch.ones(3))
    d = synthetic_task("mnist-color")
    assert d.a.shape == (4500, 1, 28, 28) and d.b_test.shape == (500, 3, 28, 28)
    # held out: 50 of every class, and b_test is exactly the true colouring of a_test
    colours = ((d.b_test + 1) / 2).amax((2, 3))
    labels = (colours[:, None] - DIGIT_COLORS[None]).abs().sum(-1).argmin(1)
    assert torch.equal(torch.bincount(labels, minlength=10), torch.full((10,), 50))
    u = synthetic_task("mnist-color", paired=False)
    assert torch.equal(u.b_test, d.b_test) and not torch.equal(u.b, d.b)
    # the same images, shuffled: per-image sums agree as multisets
    assert torch.equal(u.b.flatten(1).sum(1).sort().values, d.b.flatten(1).sum(1).sort().values)


def test_paired_folder_matches_names_and_skips_strays(tmp_path: Path) -> None:
    for i in range(3):
        _write_png(tmp_path / "A" / f"img{i}.png", np.full((20, 20), 10 * i, np.uint8))
        _write_png(tmp_path / "B" / f"img{i}.jpg", np.full((20, 20, 3), 50 * i, np.uint8))
    _write_png(tmp_path / "A" / "stray.png", np.zeros((20, 20), np.uint8))
    (tmp_path / "B" / "broken.png").write_bytes(b"not a png")
    d = load_translation_data(str(tmp_path), paired=True, resolution=16)
    assert d.paired and d.a.shape == (3, 1, 16, 16) and d.b.shape == (3, 3, 16, 16)
    # pairs stay aligned: A value 10i goes with B value 50i
    assert torch.allclose((d.a[:, 0, 0, 0] + 1) * 127.5, torch.tensor([0.0, 10, 20]), atol=0.5)
    assert torch.allclose((d.b[:, 0, 0, 0] + 1) * 127.5, torch.tensor([0.0, 50, 100]), atol=2)
    assert {Path(p).stem for p, _ in d.skipped} >= {"stray", "broken"}


def test_side_by_side_folder_splits_halves(tmp_path: Path) -> None:
    img = np.zeros((24, 48, 3), np.uint8)
    img[:, :24, 0] = 255  # A: red left half
    img[:, 24:, 2] = 255  # B: blue right half
    for split, n in (("train", 3), ("val", 2)):
        for i in range(n):
            _write_png(tmp_path / split / f"{i}.png", img)
    d = load_translation_data(str(tmp_path), paired=True, resolution=16)
    assert d.a.shape == (3, 3, 16, 16) and d.a_test is not None and len(d.a_test) == 2
    assert torch.allclose(d.a[0, :, 8, 8], torch.tensor([1.0, -1, -1]))
    assert torch.allclose(d.b[0, :, 8, 8], torch.tensor([-1.0, -1, 1]))
    assert d.test_paired


def test_unpaired_folders(tmp_path: Path) -> None:
    for i in range(3):
        _write_png(tmp_path / "trainA" / f"a{i}.png", np.zeros((10, 12, 3), np.uint8))
    for i in range(5):
        _write_png(tmp_path / "trainB" / f"b{i}.png", np.full((30, 30), 255, np.uint8))
    d = load_translation_data(str(tmp_path), paired=False, resolution=8)
    assert not d.paired and d.a.shape == (3, 3, 8, 8) and d.b.shape == (5, 1, 8, 8)
    with pytest.raises(ValueError, match="pix2pix needs paired"):
        load_translation_data(str(tmp_path), paired=True)
    with pytest.raises(FileNotFoundError, match="synthetic task"):
        load_translation_data(str(tmp_path / "nope"), paired=True)


# ----------------------------------------------------------------------------- training
def test_psnr_closed_form() -> None:
    a = torch.zeros(1, 1, 4, 4)
    assert torch.allclose(psnr(a, a + 0.2), torch.tensor([20.0]))  # mse 0.01 in [0, 1] units
    assert psnr(a, a).item() == 100.0


@pytest.mark.parametrize("method", ["pix2pix", "cyclegan"])
def test_one_training_step_updates_all_networks(method, edges_small, color_unpaired, tmp_path):
    data = edges_small if method == "pix2pix" else color_unpaired
    cfg = TranslationConfig(method=method, steps=1, **TINY)
    tr = translation_trainer(cfg, tmp_path / "run", data=data)
    before = {k: [p.clone() for p in m.parameters()] for k, m in tr.nets.items()}
    logs = tr.train_step()
    assert tr.step == 1 and all(torch.isfinite(v) for v in logs.values())
    for k, m in tr.nets.items():
        assert any(
            not torch.equal(p0, p) for p0, p in zip(before[k], m.parameters(), strict=True)
        ), k
    if method == "cyclegan":
        assert len(tr.objective.pools["A"]) == 4 and len(tr.objective.pools["B"]) == 4
        assert not tr.objective.use_identity  # 1 -> 3 channels: identity loss cannot apply


@pytest.mark.parametrize("method", ["pix2pix", "cyclegan"])
def test_resume_is_exact(method, edges_small, tmp_path):
    data = edges_small if method == "pix2pix" else edges_small
    kw = dict(TINY, pool_size=3, sample_every=100, ckpt_every=100)
    if method == "cyclegan":
        data = TranslationData(edges_small.a, edges_small.b.flip(0), False, "x")
    straight = translation_trainer(
        TranslationConfig(method=method, steps=4, **kw), tmp_path / "a", data=data
    )
    straight.run()
    first = translation_trainer(
        TranslationConfig(method=method, steps=2, **kw), tmp_path / "b", data=data
    )
    first.run()
    resumed = translation_trainer(
        TranslationConfig(steps=4, progress=False), tmp_path / "b", resume=True, data=data
    )
    assert resumed.step == 2 and resumed.cfg.objective.name == method
    assert resumed.cfg.model.args["ngf"] == 8
    resumed.run()
    for k, m in straight.nets.items():
        for (name, p), q in zip(
            m.state_dict().items(), resumed.nets[k].state_dict().values(), strict=True
        ):
            assert torch.equal(p, q), f"{k}.{name} differs after resume"
    with pytest.raises(ValueError, match="already holds a run"):
        translation_trainer(TranslationConfig(method=method, **kw), tmp_path / "b", data=data)


def test_apply_file_and_folder(edges_small, color_unpaired, tmp_path):
    translation_trainer(
        TranslationConfig(method="cyclegan", steps=1, **TINY), tmp_path / "run", data=color_unpaired
    ).run()
    assert (tmp_path / "run" / "samples.png").exists()
    src = tmp_path / "in"
    _write_png(src / "x.png", np.zeros((40, 40, 3), np.uint8))  # colour, other size
    _write_png(src / "y.png", np.zeros((28, 28), np.uint8))
    one = apply_translation(tmp_path / "run", src / "x.png", tmp_path / "one.png")
    assert one == [tmp_path / "one.png"]
    with Image.open(one[0]) as im:
        assert im.size == (28, 28) and im.mode == "RGB"  # A (grey) -> B (RGB)
    many = apply_translation(tmp_path / "run", src, tmp_path / "out", direction="BtoA")
    assert sorted(p.name for p in many) == ["x.png", "y.png"]
    with Image.open(many[0]) as im:
        assert im.size == (28, 28) and im.mode == "L"  # B -> A is grey
    tr = load_translator(tmp_path / "run")
    assert tr.directions == ("AtoB", "BtoA") and tr.step == 1
    translation_trainer(
        TranslationConfig(method="pix2pix", steps=1, **TINY), tmp_path / "p2p", data=edges_small
    ).run()
    with pytest.raises(ValueError, match="one direction"):
        apply_translation(tmp_path / "p2p", src, tmp_path / "o2", direction="BtoA")
    with pytest.raises(CheckpointError):
        load_translator(tmp_path / "in")


# ----------------------------------------------------------------------------- CLI
def _cli(argv: list[str]) -> int:
    args = build_parser(["translate"]).parse_args(argv)
    return int(args.func(args) or 0)


def test_cli_train_resume_apply_eval(tmp_path, capsys):
    run = str(tmp_path / "run")
    common = ["--ngf", "8", "--ndf", "8", "--batch-size", "4", "--no-progress"]
    assert _cli(["translate", "train", "pix2pix", "--data", "mnist-edges", "--out", run,
                 "--steps", "2", *common]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "held-out error vs true mapping" in out
    # the run folder is ganforge train's: config.toml, the checkpoint, the log, the report
    from ganforge.core.config import load_toml

    cfg = load_toml(tmp_path / "run" / "config.toml")
    assert cfg.objective.name == "pix2pix" and cfg.model.args["ngf"] == 8
    assert (tmp_path / "run" / "report.html").is_file()
    log = (tmp_path / "run" / "metrics.jsonl").read_text()
    assert '"loss_l1"' in log and '"final": true' in log
    assert _cli(["translate", "train", "pix2pix", "--out", run, "--resume", "--steps", "3",
                 "--no-progress"]) == 0  # fmt: skip
    assert load_translator(run).step == 3
    from ganforge.core.config import ConfigError

    with pytest.raises(ConfigError, match="cannot change on --resume"):
        _cli(["translate", "train", "pix2pix", "--out", run, "--resume", "--ngf", "4"])
    with pytest.raises(ConfigError, match="is a pix2pix run"):
        _cli(["translate", "train", "cyclegan", "--out", run, "--resume"])
    _write_png(tmp_path / "digit.png", np.zeros((28, 28), np.uint8))
    assert _cli(["translate", "apply", run, str(tmp_path / "digit.png"), "--out",
                 str(tmp_path / "edges.png")]) == 0  # fmt: skip
    with Image.open(tmp_path / "edges.png") as im:
        assert im.size == (28, 28)
    capsys.readouterr()
    assert _cli(["translate", "eval", run, "--n", "20"]) == 0
    ev = json.loads(capsys.readouterr().out)
    assert ev["step"] == 3 and 0 <= ev["AtoB"]["l1"] <= 1 and ev["AtoB"]["n"] == 20


# ----------------------------------------------------------------------------- export, zoo
@pytest.fixture(scope="module")
def p2p_run(edges_small, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("p2p") / "run"
    torch.set_num_threads(1)
    translation_trainer(
        TranslationConfig(method="pix2pix", steps=2, **TINY), out, data=edges_small
    ).run()
    return out


@pytest.fixture(scope="module")
def p2p_export(p2p_run, tmp_path_factory) -> Path:
    return export_translator(load_translator(p2p_run), tmp_path_factory.mktemp("exp") / "p2p")


def test_export_translator_round_trip_fp32_and_fp16(p2p_run, p2p_export, edges_small, tmp_path):
    tr = load_translator(p2p_run)
    info = json.loads((p2p_export / "config.json").read_text())
    assert info["kind"] == "translation" and info["channels"] == [1, 1]
    assert info["resolution"] == 28 and info["step"] == 2 and info["dtype"] == "fp32"
    assert info["translation"] == tr.config.to_dict()
    from safetensors.torch import load_file

    keys = load_file(str(p2p_export / "generator.safetensors")).keys()
    assert keys and all(k.startswith("G.") for k in keys)  # generator only, no D
    x = edges_small.a_test
    tr32 = load_translator(p2p_export)
    assert tr32.step == 2 and tr32.config == tr.config and tr32.directions == ("AtoB",)
    assert torch.equal(tr32(x), tr(x))
    half = export_translator(tr, tmp_path / "half", dtype="fp16")
    tr16 = load_translator(half)
    assert all(p.dtype == torch.float32 for p in tr16.generators["G"].parameters())
    assert torch.allclose(tr16(x), tr(x), atol=2e-2)
    size16 = (half / "generator.safetensors").stat().st_size
    assert size16 < 0.6 * (p2p_export / "generator.safetensors").stat().st_size
    with pytest.raises(ValueError, match="fp32 or fp16"):
        export_translator(tr, tmp_path / "bad", dtype="bf16")


def test_export_cyclegan_keeps_both_generators(color_unpaired, tmp_path):
    trainer = translation_trainer(
        TranslationConfig(method="cyclegan", steps=1, **TINY), tmp_path / "run", data=color_unpaired
    )
    trainer.run()
    tr = load_translator(tmp_path / "run")
    exp = export_translator(tr, tmp_path / "exp")
    from safetensors.torch import load_file

    prefixes = {k.split(".")[0] for k in load_file(str(exp / "generator.safetensors"))}
    assert prefixes == {"G_AB", "G_BA"}
    back = load_translator(exp)
    a, b = color_unpaired.a_test[:4], color_unpaired.b_test[:4]
    assert torch.equal(back(a), tr(a)) and torch.equal(back(b, "BtoA"), tr(b, "BtoA"))


def test_zoo_entry_of_exported_translator(p2p_run, p2p_export, monkeypatch, tmp_path, capsys):
    import ganforge
    import ganforge.hub.zoo
    from ganforge.cli import main
    from ganforge.hub.export import load_exported, sha256_file
    from ganforge.hub.zoo import ZooEntry, ZooError, load_entries

    sha = sha256_file(p2p_export / "generator.safetensors")
    (tmp_path / "e.toml").write_text(
        f'[entry.tiny-p2p]\ndata = "mnist-edges"\nmodel = "pix2pix"\nsha256 = "{sha}"\n'
        f"path = {json.dumps(str(p2p_export))}\n"
    )
    reg = load_entries(tmp_path / "e.toml")
    reg.add("bad-p2p", ZooEntry("bad-p2p", "mnist-edges", "pix2pix", "0" * 64, str(p2p_export)))
    monkeypatch.setattr(ganforge.hub.zoo, "ZOO", reg)
    tr = load_translator("zoo:tiny-p2p")
    x = torch.zeros(3, 1, 28, 28)
    assert torch.equal(tr(x), load_translator(p2p_run)(x))
    with pytest.raises(ZooError, match="sha256"):
        load_translator("zoo:bad-p2p")
    # loading it as a noise->image generator names the right call instead of a KeyError
    hint = r"ganforge translate apply zoo:tiny-p2p IMAGE.*load_translator\('zoo:tiny-p2p'\)"
    with pytest.raises(CheckpointError, match=hint):
        ganforge.load("zoo:tiny-p2p")
    with pytest.raises(CheckpointError, match="load_translator"):
        ganforge.load(p2p_export)
    with pytest.raises(CheckpointError, match="ganforge translate apply"):
        load_exported(p2p_export)
    with pytest.raises(CheckpointError, match="ganforge translate apply"):
        ganforge.load(p2p_run)  # the run folder itself
    capsys.readouterr()
    assert main(["sample", "zoo:tiny-p2p", "--out", str(tmp_path / "s.png")]) == 2
    assert "ganforge translate apply zoo:tiny-p2p IMAGE" in capsys.readouterr().err
    assert not (tmp_path / "s.png").exists()


def test_load_translator_refuses_a_generator_export(tmp_path):
    from ganforge.hub.export import CONFIG_NAME, WEIGHTS_NAME

    (tmp_path / WEIGHTS_NAME).write_bytes(b"")
    (tmp_path / CONFIG_NAME).write_text(json.dumps({"format": "ganforge-generator"}))
    with pytest.raises(CheckpointError, match="ganforge.load"):
        load_translator(tmp_path)


def test_cli_apply_and_eval_with_exported_folder(p2p_export, tmp_path, capsys):
    from ganforge.cli import main

    digit = np.zeros((28, 28), np.uint8)
    digit[5:23, 12:16] = 255  # a "1"
    _write_png(tmp_path / "one.png", digit)
    out = tmp_path / "edges.png"
    assert main(["translate", "apply", str(p2p_export), str(tmp_path / "one.png"),
                 "--out", str(out)]) == 0  # fmt: skip
    with Image.open(out) as im:
        assert im.size == (28, 28) and im.mode == "L"
    capsys.readouterr()
    assert _cli(["translate", "eval", str(p2p_export), "--n", "20"]) == 0
    ev = json.loads(capsys.readouterr().out)
    assert ev["step"] == 2 and ev["AtoB"]["n"] == 20 and 0 <= ev["AtoB"]["l1"] <= 1


def test_shipped_pix2pix_edges_translates_a_digit(tmp_path):
    tr = load_translator("zoo:pix2pix-edges")  # verifies the shipped weights' sha256
    assert tr.method == "pix2pix" and tr.channels == (1, 1) and tr.resolution == 28
    digit = -torch.ones(1, 1, 28, 28)
    digit[..., 5:23, 12:16] = 1  # a "1": a vertical bar
    y = tr(digit)
    assert y.shape == (1, 1, 28, 28) and torch.isfinite(y).all()
    # its outline beats echoing the input, against the true edge map
    truth = mnist_edges(digit)
    assert (y - truth).abs().mean() < (digit - truth).abs().mean()
    _write_png(tmp_path / "one.png", ((digit[0, 0] + 1) * 127.5).to(torch.uint8).numpy())
    (out,) = apply_translation("zoo:pix2pix-edges", tmp_path / "one.png", tmp_path / "e.png")
    with Image.open(out) as im:
        assert im.size == (28, 28)


def test_checkpoints_of_the_old_translation_loop_still_load(p2p_run, edges_small, tmp_path):
    """ganforge 0.1 wrote translation checkpoints of its own layout ("translation" config,
    networks under "models"); they translate as before and refuse a resume clearly."""
    from ganforge.core.checkpoint import save_checkpoint

    new = load_checkpoint(p2p_run)
    tr = load_translator(p2p_run)
    legacy = {
        "kind": "translation",
        "translation": tr.config.to_dict(),
        "step": new["step"],
        "channels": new["channels"],
        "resolution": new["resolution"],
        "models": {"G": new["G"], "D": new["D"]},
    }
    save_checkpoint(legacy, tmp_path / "old" / "checkpoints" / "latest.pt")
    old = load_translator(tmp_path / "old")
    assert old.step == tr.step and torch.equal(old(edges_small.a_test), tr(edges_small.a_test))
    with pytest.raises(CheckpointError, match="cannot be resumed"):
        translation_trainer(TranslationConfig(steps=9), tmp_path / "old", resume=True)
