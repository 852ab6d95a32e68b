"""pix2pix and CycleGAN runs on the shared engine, evaluation against a known mapping, and
applying a trained translator to image files.

The training itself is :mod:`.objectives` (``pix2pix``, ``cyclegan``) inside
:class:`~ganforge.training.trainer.Trainer`: a run folder holds ``config.toml``,
``checkpoints/latest.pt`` (atomic, versioned, ``weights_only``; networks, optimizers,
history pools and RNG states, so a resumed run continues exactly), ``samples/step_*.png``,
``samples.png``, ``metrics.jsonl`` (losses, and held-out L1/PSNR when the data has true
pairs) and ``report.html`` — the same folder as ``ganforge train``. :class:`TranslationConfig`
is the flat, paper-named view of that run's config (``ganforge translate train`` flags).

``export_translator`` writes a run's generator(s) as ``generator.safetensors`` +
``config.json`` (the zoo's layout); ``load_translator`` reads run folders, checkpoints
(also those of ganforge 0.1's own translation loop), such exported folders and ``zoo:NAME``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ganforge.apps.translation.data import (
    TranslationData,
    list_images,
)
from ganforge.apps.translation.objectives import (
    KIND,
    TranslationNetworks,
    TranslationObjective,
    build_translation_networks,
)
from ganforge.core.checkpoint import CheckpointError, config_of, load_checkpoint
from ganforge.core.config import (
    DataConfig,
    EvalConfig,
    LogConfig,
    LossConfig,
    ModelConfig,
    ObjectiveConfig,
    OptimConfig,
    TrainConfig,
)
from ganforge.core.imaging import save_image
from ganforge.data.files import read_image
from ganforge.data.transforms import to_model_range
from ganforge.training.callbacks import Callback, RunView
from ganforge.training.trainer import Trainer
from ganforge.ui.report import ReportCallback
from ganforge.ui.tensorboard import TensorBoardCallback

METHODS = ("pix2pix", "cyclegan")

__all__ = [
    "TranslationConfig",
    "Translator",
    "translation_trainer",
    "train_translation",
    "load_translator",
    "export_translator",
    "evaluate_translation",
    "apply_translation",
    "psnr",
]


@dataclass(frozen=True)
class TranslationConfig:
    """The flat, paper-named settings of a translation run (``ganforge translate train``'s
    flags); :meth:`to_train_config` is the engine's configuration saved in the run.

    Defaults are sized for a laptop CPU: 28x28 mnist tasks train in a few minutes on two
    cores. The papers' settings are ngf=ndf=64, batch 1, d_layers=3 (70x70 PatchGAN),
    n_blocks=9 at 256x256.
    """

    method: str = "pix2pix"
    data: str = "mnist-edges"
    steps: int = 1000
    batch_size: int = 16
    resolution: int = 0  # 0: native 28 for mnist tasks, 64 for folders
    channels: int = 0  # 0: infer per domain
    direction: str = "AtoB"  # BtoA swaps the domains of the data (pix2pix data sets vary)
    ngf: int = 0  # 0: 32 for pix2pix, 16 for CycleGAN (two generators, each run twice)
    ndf: int = 32
    d_layers: int = 2  # 3 is the paper's 70x70 PatchGAN; 2 (34x34) suits 28-64 px images
    n_blocks: int = 3  # CycleGAN residual blocks (paper: 6 at 128 px, 9 at 256 px)
    unet_max_mult: int = 4  # width cap of the U-Net levels (paper: 8)
    dropout: float = 0.5  # U-Net decoder dropout (pix2pix's noise source)
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    decay_from: float = 0.5  # fraction of steps after which lr decays linearly to 0
    lambda_l1: float = 100.0
    lambda_cycle: float = 10.0
    lambda_identity: float = 0.5  # times lambda_cycle, as in the paper
    pool_size: int = 50
    seed: int = 0
    device: str = "cpu"
    log_every: int = 50
    sample_every: int = 250
    ckpt_every: int = 250
    eval_every: int = 0  # 0: evaluate on held-out pairs only at the end
    eval_n: int = 500
    progress: bool = True

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {self.method!r}")
        if self.direction not in ("AtoB", "BtoA"):
            raise ValueError(f"direction must be AtoB or BtoA, got {self.direction!r}")
        if self.steps < 0 or self.batch_size < 1:
            raise ValueError("steps must be >= 0 and batch_size >= 1")
        if self.ngf <= 0:
            # A CycleGAN step runs its generators six times (translate, reconstruct,
            # identity, both ways); half the width keeps its step near pix2pix's on a CPU.
            object.__setattr__(self, "ngf", 32 if self.method == "pix2pix" else 16)

    def to_train_config(self) -> TrainConfig:
        """The engine's configuration of this run."""
        pix2pix = self.method == "pix2pix"
        objective_args: dict[str, Any] = (
            {"lambda_l1": self.lambda_l1}
            if pix2pix
            else {
                "lambda_cycle": self.lambda_cycle,
                "lambda_identity": self.lambda_identity,
                "pool_size": self.pool_size,
            }
        )
        objective_args["direction"] = self.direction
        nets = TranslationNetworks(
            self.ngf, self.ndf, self.d_layers, self.n_blocks, self.unet_max_mult, self.dropout
        )
        return TrainConfig(
            seed=self.seed,
            steps=self.steps,
            batch_size=self.batch_size,
            device=self.device,
            data=DataConfig(self.data, self.resolution, self.channels, labels=False),
            model=ModelConfig(self.method, 0, dataclasses.asdict(nets)),
            loss=LossConfig("ns" if pix2pix else "lsgan"),
            objective=ObjectiveConfig(self.method, objective_args),
            optim=OptimConfig(
                "adam", self.lr, self.lr, self.beta1, self.beta2, schedule="linear",
                decay_start=self.decay_from,
            ),
            log=LogConfig(
                every=self.log_every, sample_every=self.sample_every, ckpt_every=self.ckpt_every,
                n_samples=8, progress=self.progress,
            ),
            eval=EvalConfig(every=self.eval_every, n=self.eval_n),
        )  # fmt: skip

    @classmethod
    def from_train_config(cls, cfg: TrainConfig) -> TranslationConfig:
        """The flat view of a translation run's engine configuration."""
        a, m, o = cfg.objective.args, cfg.model.args, cfg.optim
        nets = TranslationNetworks(**m)
        defaults = cls(method=cfg.model.name)
        return cls(
            method=cfg.model.name,
            data=cfg.data.spec,
            steps=cfg.steps,
            batch_size=cfg.batch_size,
            resolution=cfg.data.resolution,
            channels=cfg.data.channels,
            direction=a.get("direction", "AtoB"),
            ngf=nets.ngf,
            ndf=nets.ndf,
            d_layers=nets.d_layers,
            n_blocks=nets.n_blocks,
            unet_max_mult=nets.unet_max_mult,
            dropout=nets.dropout,
            lr=o.lr_g,
            beta1=o.beta1,
            beta2=o.beta2,
            decay_from=o.decay_start,
            lambda_l1=a.get("lambda_l1", defaults.lambda_l1),
            lambda_cycle=a.get("lambda_cycle", defaults.lambda_cycle),
            lambda_identity=a.get("lambda_identity", defaults.lambda_identity),
            pool_size=a.get("pool_size", defaults.pool_size),
            seed=cfg.seed,
            device=cfg.device,
            log_every=cfg.log.every,
            sample_every=cfg.log.sample_every,
            ckpt_every=cfg.log.ckpt_every,
            eval_every=cfg.eval.every,
            eval_n=cfg.eval.n,
            progress=cfg.log.progress,
        )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TranslationConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown translation config keys {unknown}; known: {sorted(known)}")
        return cls(**d)


def psnr(pred: torch.Tensor, target: torch.Tensor, max_db: float = 100.0) -> torch.Tensor:
    """Per-image PSNR in dB of (N, C, H, W) images in [-1, 1], measured in [0, 1] units
    (peak 1), capped at ``max_db`` for identical images. Returns (N,)."""
    mse = ((pred - target) / 2).square().flatten(1).mean(1)
    return (10 * torch.log10(1.0 / mse.clamp_min(10 ** (-max_db / 10)))).clamp_max(max_db)


@torch.no_grad()
def evaluate_translation(
    translate: Any, a: torch.Tensor, b: torch.Tensor, batch_size: int = 250
) -> dict[str, float]:
    """Error of ``translate`` (a callable on (N, C_A, H, W) in [-1, 1]) against the true
    images ``b``: mean absolute error in [0, 1] pixel units (``l1``) and mean per-image
    PSNR in dB (``psnr``)."""
    l1_sum, psnr_sum = 0.0, 0.0
    for i in range(0, len(a), batch_size):
        pred = translate(a[i : i + batch_size]).float().clamp(-1, 1)
        tgt = b[i : i + batch_size].to(pred.device)
        l1_sum += float(((pred - tgt).abs() / 2).flatten(1).mean(1).sum())
        psnr_sum += float(psnr(pred, tgt).sum())
    return {"l1": l1_sum / len(a), "psnr": psnr_sum / len(a), "n": len(a)}


class TranslationEvaluation(Callback):
    """Held-out L1/PSNR against the true B (when the data has aligned test pairs): every
    ``eval.every`` steps and at the end (``"final": true``)."""

    def __init__(self, objective: TranslationObjective) -> None:
        self.objective = objective

    def _evaluate(self, run: RunView) -> dict[str, float] | None:
        d = self.objective.pairs
        if d.a_test is None or d.b_test is None or not d.test_paired:
            return None
        n = run.cfg.eval.n
        nets = run.nets

        def tr(x: torch.Tensor) -> torch.Tensor:
            return self.objective.translate(nets, x, "AtoB")

        return evaluate_translation(tr, d.a_test[:n], d.b_test[:n])

    def on_step_end(self, run: RunView) -> None:
        every = run.cfg.eval.every
        if every and run.step % every == 0 and run.step < run.cfg.steps:
            ev = self._evaluate(run)
            if ev:
                run.log({"step": run.step, "event": "eval", **ev})

    def on_train_end(self, run: RunView) -> None:
        ev = self._evaluate(run)
        if ev:
            run.log({"step": run.step, "event": "eval", **ev, "final": True})


def _objective(cfg: TrainConfig, data: TranslationData | None) -> TranslationObjective:
    from ganforge.training.objective import OBJECTIVES

    cls = OBJECTIVES.get(cfg.objective.name)
    if not issubclass(cls, TranslationObjective):
        raise CheckpointError(f"objective {cfg.objective.name!r} is not a translation objective")
    return cls(cfg, data)


def translation_trainer(
    cfg: TranslationConfig | TrainConfig,
    out: str | Path,
    *,
    resume: bool = False,
    data: TranslationData | None = None,
) -> Trainer:
    """The engine set up for a pix2pix/CycleGAN run, with its evaluation and report.

    With ``resume`` the run's own configuration is used; only ``steps``, ``device`` and
    ``log.progress`` of ``cfg`` apply (the rest defines the run and cannot change).
    """
    train_cfg = cfg.to_train_config() if isinstance(cfg, TranslationConfig) else cfg
    if resume:
        ckpt = load_checkpoint(out)
        if "translation" in ckpt and "config" not in ckpt:
            raise CheckpointError(
                f"{ckpt['path']} was written by ganforge 0.1's translation loop; it translates "
                "and exports as before, but cannot be resumed: train a new run"
            )
        saved = config_of(ckpt)
        if saved.objective.name not in METHODS:
            raise CheckpointError(f"{ckpt['path']} is not a translation run")
        train_cfg = dataclasses.replace(
            saved,
            steps=train_cfg.steps,
            device=train_cfg.device,
            log=dataclasses.replace(saved.log, progress=train_cfg.log.progress),
        )
    elif (Path(out) / "checkpoints" / "latest.pt").exists():
        raise ValueError(
            f"{out} already holds a run; pass --resume to continue it or choose another --out"
        )
    objective = _objective(train_cfg, data)
    callbacks: list[Callback] = [TranslationEvaluation(objective)]
    if train_cfg.log.report:
        callbacks.append(ReportCallback())
    if train_cfg.log.tensorboard:
        callbacks.append(TensorBoardCallback())
    return Trainer(train_cfg, out, resume=resume, objective=objective, callbacks=callbacks)


def train_translation(
    cfg: TranslationConfig | TrainConfig,
    out: str | Path,
    *,
    resume: bool = False,
    data: TranslationData | None = None,
) -> dict[str, Any]:
    """Train (or continue, with ``resume``) a pix2pix/CycleGAN run in folder ``out``;
    returns the last logged record with the final held-out ``eval`` when measurable."""
    trainer = translation_trainer(cfg, out, resume=resume, data=data)
    trainer.run()
    record: dict[str, Any] = {"step": trainer.step}
    for rec in trainer.run_folder.records():
        if rec.get("event") == "eval" and rec.get("final"):
            record["eval"] = {k: rec[k] for k in ("l1", "psnr", "n")}
        elif "event" not in rec:
            record.update({k: v for k, v in rec.items() if k.startswith("loss")})
    return record


# ----------------------------------------------------------------------------- applying
class Translator:
    """Trained generator(s) of a run, in eval mode: ``tr(x, "AtoB")`` maps (N, C_A, R, R)
    images in [-1, 1] to (N, C_B, R, R); CycleGAN runs also map ``"BtoA"``.

    Attributes:
        method, channels (C_A, C_B), resolution R, step, config.
    """

    def __init__(
        self,
        generators: dict[str, nn.Module],
        config: TranslationConfig,
        channels: tuple[int, int],
        resolution: int,
        step: int = 0,
    ) -> None:
        self.generators = generators
        self.config = config
        self.method = config.method
        self.channels = channels
        self.resolution = resolution
        self.step = step

    @property
    def directions(self) -> tuple[str, ...]:
        return ("AtoB",) if self.method == "pix2pix" else ("AtoB", "BtoA")

    def _net(self, direction: str) -> nn.Module:
        if direction not in self.directions:
            raise ValueError(
                f"a {self.method} run translates {' and '.join(self.directions)}, not "
                f"{direction!r}"
                + ("; pix2pix learns one direction only" if self.method == "pix2pix" else "")
            )
        if self.method == "pix2pix":
            return self.generators["G"]
        return self.generators["G_AB" if direction == "AtoB" else "G_BA"]

    @torch.no_grad()
    def __call__(self, x: torch.Tensor, direction: str = "AtoB") -> torch.Tensor:
        net = self._net(direction)
        was_training = net.training
        net.eval()  # BatchNorm running statistics, no dropout: deterministic outputs
        try:
            p = next(net.parameters())
            return net(x.to(p.device, p.dtype)).cpu()
        finally:
            net.train(was_training)

    def in_channels(self, direction: str) -> int:
        return self.channels[0] if direction == "AtoB" else self.channels[1]


TRANSLATOR_FORMAT = "ganforge-translator"
TRANSLATOR_VERSION = 1


def export_translator(tr: Translator, out_dir: str | Path, *, dtype: str = "fp32") -> Path:
    """Write a trained translator for use without its run folder.

    ``out_dir/generator.safetensors`` holds the generator(s)' state dicts with keys prefixed
    by generator name (``G.`` for pix2pix, ``G_AB.`` and ``G_BA.`` for CycleGAN);
    ``out_dir/config.json`` holds ``{"format", "version", "kind": "translation",
    "translation": config, "channels": [C_A, C_B], "resolution": R, "step", "dtype"}``.
    Both files are written atomically; no pickle anywhere. Load it back with
    :func:`load_translator` (fp16 weights come back as float32).

    Args:
        tr: the translator, e.g. ``load_translator(run)`` or ``trainer.translator()``.
        out_dir: folder to write (created if needed).
        dtype: ``fp32`` or ``fp16`` (halves the file; BatchNorm counters stay int64).

    Returns:
        ``out_dir`` as a Path.
    """
    from ganforge.hub.export import write_export

    state = {
        f"{name}.{k}": v
        for name, net in sorted(tr.generators.items())
        for k, v in net.state_dict().items()
    }
    info = {
        "format": TRANSLATOR_FORMAT,
        "version": TRANSLATOR_VERSION,
        "kind": KIND,
        "translation": tr.config.to_dict(),
        "channels": [int(c) for c in tr.channels],
        "resolution": int(tr.resolution),
        "step": int(tr.step),
        "dtype": dtype,
    }
    return write_export(out_dir, state, info, dtype)


def _generators(
    method: str, args: TranslationNetworks, channels: tuple[int, int], resolution: int,
    states: dict[str, dict[str, torch.Tensor]], device: str,
) -> dict[str, nn.Module]:  # fmt: skip
    gens = {}
    for name, net in build_translation_networks(method, args, channels, resolution).items():
        if name.startswith("G"):
            state = {k: v.float() if v.is_floating_point() else v for k, v in states[name].items()}
            net.load_state_dict(state)
            gens[name] = net.to(device).eval().requires_grad_(False)
    return gens


def _networks_args(cfg: TranslationConfig) -> TranslationNetworks:
    return TranslationNetworks(
        cfg.ngf, cfg.ndf, cfg.d_layers, cfg.n_blocks, cfg.unet_max_mult, cfg.dropout
    )


def _load_exported_translator(folder: Path, device: str, where: str) -> Translator:
    from ganforge.hub.export import WEIGHTS_NAME, read_export_info, read_weights

    info = read_export_info(folder)
    if info.get("kind") != KIND:
        raise CheckpointError(
            f"{where} is an exported noise->image generator, not a translation model; load "
            "it with ganforge.load(...) or `ganforge sample`"
        )
    if int(info.get("version", 0)) > TRANSLATOR_VERSION:
        raise CheckpointError(
            f"{where} was exported by a newer ganforge (translator format "
            f"v{info['version']}, this reads v{TRANSLATOR_VERSION}); upgrade ganforge"
        )
    cfg = TranslationConfig.from_dict(info["translation"])
    channels = (int(info["channels"][0]), int(info["channels"][1]))
    res = int(info["resolution"])
    flat = read_weights(folder / WEIGHTS_NAME)
    states: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in flat.items():
        name, _, rest = key.partition(".")
        states.setdefault(name, {})[rest] = value
    gens = _generators(cfg.method, _networks_args(cfg), channels, res, states, device)
    return Translator(gens, cfg, channels, res, int(info.get("step", 0)))


def load_translator(run: str | Path, *, device: str = "cpu") -> Translator:
    """Rebuild the generator(s) of a translation model, in eval mode with float32 weights.

    Args:
        run: a run folder or checkpoint file (``ganforge translate train``), a folder
            written by :func:`export_translator`, or ``zoo:NAME`` (resolved with
            :func:`ganforge.hub.zoo.resolve_zoo`, which checks the weights' sha256).
        device: where the generators live; translated outputs are returned on the CPU.

    Returns:
        A :class:`Translator`: ``tr(x)`` maps (N, C_A, R, R) in [-1, 1] to (N, C_B, R, R).
    """
    from ganforge.hub.export import is_exported_dir
    from ganforge.hub.zoo import resolve_zoo

    where = str(run)
    if isinstance(run, str) and run.startswith("zoo:"):
        run = resolve_zoo(run[4:])
    if is_exported_dir(run):
        return _load_exported_translator(Path(run), device, where)
    ckpt = load_checkpoint(run)
    if ckpt.get("kind") != KIND:
        raise CheckpointError(
            f"{ckpt['path']} is not a translation run (train one with `ganforge translate train`)"
        )
    channels = (int(ckpt["channels"][0]), int(ckpt["channels"][1]))
    res = int(ckpt["resolution"])
    if "config" in ckpt:  # a run of the shared engine: networks at the top level
        cfg = TranslationConfig.from_train_config(config_of(ckpt))
        states = {k: ckpt[k] for k in ("G", "G_AB", "G_BA") if k in ckpt}
    else:  # ganforge 0.1's own translation loop
        cfg = TranslationConfig.from_dict(ckpt["translation"])
        states = ckpt["models"]
    gens = _generators(cfg.method, _networks_args(cfg), channels, res, states, device)
    return Translator(gens, cfg, channels, res, int(ckpt["step"]))


def apply_translation(
    run: str | Path | Translator,
    inputs: str | Path,
    out: str | Path,
    *,
    direction: str = "AtoB",
    batch_size: int = 64,
) -> list[Path]:
    """Translate one image file or every image in a folder, writing PNGs.

    Inputs are centre-cropped, resized to the run's resolution and converted to its input
    channels, as in training; outputs are R x R PNGs. A file input writes ``out`` itself
    when it ends in ``.png``, else ``out/NAME.png``; a folder writes ``out/NAME.png`` for
    each image. Returns the written paths.
    """
    tr = run if isinstance(run, Translator) else load_translator(run)
    tr._net(direction)  # fail early on a direction the run cannot do
    src, out = Path(inputs), Path(out)
    if src.is_dir():
        files = list_images(src)
        if not files:
            raise FileNotFoundError(f"{src} holds no image files (.png, .jpg, .bmp, ...)")
        targets = [out / f"{p.stem}.png" for p in files]
    elif src.is_file():
        files = [src]
        targets = [out if out.suffix.lower() == ".png" else out / f"{src.stem}.png"]
    else:
        raise FileNotFoundError(f"no such image file or folder: {src}")
    c_in = tr.in_channels(direction)
    written = []
    for i in range(0, len(files), batch_size):
        chunk = files[i : i + batch_size]
        x = torch.cat([to_model_range(read_image(p)[None], tr.resolution, c_in) for p in chunk])
        y = tr(x, direction)
        for img, target in zip(y, targets[i : i + batch_size], strict=True):
            save_image(img, target)
            written.append(target)
    return written
