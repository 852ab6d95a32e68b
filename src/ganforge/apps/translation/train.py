"""pix2pix and CycleGAN training loops, evaluation against a known mapping, and applying a
trained translator to image files.

pix2pix (Isola et al. 2017, section 3): ``G* = arg min_G max_D L_cGAN(G, D) + 100 L1(G)``,
D sees the input concatenated with the real or generated output; D's loss is halved to
slow it relative to G; Adam(2e-4, 0.5, 0.999).

CycleGAN (Zhu et al. 2017, sections 3-4): two generators G_AB, G_BA and two PatchGANs
D_A, D_B with least-squares GAN losses, cycle loss ``10 (|G_BA(G_AB(a)) - a| +
|G_AB(G_BA(b)) - b|)``, identity loss ``0.5 * 10 (|G_AB(b) - b| + |G_BA(a) - a|)``
(only when both domains have the same channel count), D updated on a 50-image history of
generated images, D's loss halved; Adam(2e-4, 0.5, 0.999). Both papers keep the learning
rate constant and then decay it linearly to zero; here the decay covers the second half of
``steps``.

A run folder holds ``config.json``, ``checkpoints/latest.pt`` (atomic, versioned, loads with
``weights_only=True``; models, optimizers, history pools and RNG states, so a resumed run
continues exactly), ``samples/step_N.png`` grids, ``samples.png`` (latest) and
``metrics.jsonl`` (losses, and held-out L1/PSNR when the data has true pairs).

``export_translator`` writes a run's generator(s) as ``generator.safetensors`` +
``config.json`` (the zoo's layout); ``load_translator`` reads run folders, checkpoints,
such exported folders and ``zoo:NAME``.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ganforge.apps.translation.data import (
    TranslationData,
    list_images,
    load_translation_data,
    read_image,
)
from ganforge.apps.translation.models import (
    HistoryPool,
    PatchDiscriminator,
    ResnetGenerator,
    UNetGenerator,
)
from ganforge.core.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from ganforge.core.imaging import save_grid
from ganforge.data.transforms import to_model_range

METHODS = ("pix2pix", "cyclegan")
KIND = "translation"

__all__ = [
    "TranslationConfig",
    "TranslationTrainer",
    "Translator",
    "train_translation",
    "load_translator",
    "export_translator",
    "evaluate_translation",
    "apply_translation",
    "psnr",
]


@dataclass(frozen=True)
class TranslationConfig:
    """Everything that defines a translation run; saved in the run folder and checkpoint.

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


def _build_models(cfg: TranslationConfig, c_a: int, c_b: int, res: int) -> dict[str, nn.Module]:
    if cfg.method == "pix2pix":
        return {
            "G": UNetGenerator(
                c_a, c_b, res, ngf=cfg.ngf, max_mult=cfg.unet_max_mult, dropout=cfg.dropout
            ),
            "D": PatchDiscriminator(c_a + c_b, ndf=cfg.ndf, n_layers=cfg.d_layers),
        }
    return {
        "G_AB": ResnetGenerator(c_a, c_b, ngf=cfg.ngf, n_blocks=cfg.n_blocks),
        "G_BA": ResnetGenerator(c_b, c_a, ngf=cfg.ngf, n_blocks=cfg.n_blocks),
        "D_A": PatchDiscriminator(c_a, ndf=cfg.ndf, n_layers=cfg.d_layers, norm="instance"),
        "D_B": PatchDiscriminator(c_b, ndf=cfg.ndf, n_layers=cfg.d_layers, norm="instance"),
    }


def _as_rgb(x: torch.Tensor, c: int) -> torch.Tensor:
    return x.expand(-1, c, -1, -1) if x.shape[1] == 1 and c == 3 else x


def _grid_rows(rows: list[torch.Tensor]) -> torch.Tensor:
    """Interleave K rows of N images into one (K*N, C, H, W) batch, channels unified."""
    c = max(r.shape[1] for r in rows)
    return torch.cat([_as_rgb(r.detach().cpu().float(), c) for r in rows])


class TranslationTrainer:
    """Owns models, optimizers, data sampling and the run folder for one translation run.

    Args:
        cfg: the run's configuration (ignored on resume except ``steps``, ``device`` and
            ``progress``, which may change).
        out: run folder.
        resume: continue from ``out/checkpoints/latest.pt``.
        data: already loaded data (tests); default loads ``cfg.data``.
    """

    def __init__(
        self,
        cfg: TranslationConfig,
        out: str | Path,
        *,
        resume: bool = False,
        data: TranslationData | None = None,
    ) -> None:
        self.out = Path(out)
        ckpt = None
        if resume:
            ckpt = load_checkpoint(self.out)
            if ckpt.get("kind") != KIND:
                raise CheckpointError(f"{ckpt['path']} is not a translation run")
            saved = TranslationConfig.from_dict(ckpt["translation"])
            cfg = dataclasses.replace(
                saved, steps=cfg.steps, device=cfg.device, progress=cfg.progress
            )
        elif (self.out / "checkpoints" / "latest.pt").exists():
            raise ValueError(
                f"{self.out} already holds a run; pass --resume to continue it or choose "
                "another --out"
            )
        self.cfg = cfg
        self.device = torch.device(cfg.device)
        torch.manual_seed(cfg.seed)
        if data is None:
            data = load_translation_data(
                cfg.data,
                paired=cfg.method == "pix2pix",
                resolution=cfg.resolution,
                channels=cfg.channels,
                seed=cfg.seed,
            )
        if cfg.direction == "BtoA":
            data = TranslationData(
                data.b, data.a, data.paired, data.name, data.b_test, data.a_test,
                data.test_paired, data.skipped,
            )  # fmt: skip
        if cfg.method == "pix2pix" and not data.paired:
            raise ValueError(f"{data.name}: pix2pix needs paired data")
        self.data = data
        self.c_a, self.c_b = data.channels
        self.res = data.resolution
        self.models = {
            k: m.to(self.device)
            for k, m in _build_models(cfg, self.c_a, self.c_b, self.res).items()
        }
        g_params = [p for k, m in self.models.items() if k.startswith("G") for p in m.parameters()]
        d_params = [p for k, m in self.models.items() if k.startswith("D") for p in m.parameters()]
        betas = (cfg.beta1, cfg.beta2)
        self.opt_g = torch.optim.Adam(g_params, lr=cfg.lr, betas=betas)
        self.opt_d = torch.optim.Adam(d_params, lr=cfg.lr, betas=betas)
        self.pools = {
            "A": HistoryPool(cfg.pool_size, seed=cfg.seed + 1),
            "B": HistoryPool(cfg.pool_size, seed=cfg.seed + 2),
        }
        self.sampler = torch.Generator().manual_seed(cfg.seed + 3)
        self.step = 0
        # Identity loss maps B through G_AB, which only type-checks when channels agree.
        self.use_identity = (
            cfg.method == "cyclegan" and cfg.lambda_identity > 0 and self.c_a == self.c_b
        )
        # A fixed sample batch: held-out images when there are some, else the first train ones.
        src_a = data.a_test if data.a_test is not None else data.a
        src_b = data.b_test if data.b_test is not None else data.b
        # evenly spaced, so a class-sorted held-out set (mnist5k) shows every class
        pick_a = torch.linspace(0, len(src_a) - 1, min(8, len(src_a))).long()
        pick_b = torch.linspace(0, len(src_b) - 1, min(8, len(src_b))).long()
        self.fixed_a, self.fixed_b = src_a[pick_a].clone(), src_b[pick_b].clone()
        if ckpt is not None:
            self._load_state(ckpt)
        else:
            self.out.mkdir(parents=True, exist_ok=True)
            (self.out / "config.json").write_text(json.dumps(cfg.to_dict(), indent=2) + "\n")

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        return {
            "kind": KIND,
            "translation": self.cfg.to_dict(),
            "step": self.step,
            "channels": [self.c_a, self.c_b],
            "resolution": self.res,
            "models": {k: m.state_dict() for k, m in self.models.items()},
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "pools": {k: p.state_dict() for k, p in self.pools.items()},
            "rng": {"torch": torch.get_rng_state(), "sampler": self.sampler.get_state()},
        }

    def _load_state(self, ckpt: dict[str, Any]) -> None:
        for k, m in self.models.items():
            m.load_state_dict(ckpt["models"][k])
        self.opt_g.load_state_dict(ckpt["opt_g"])
        self.opt_d.load_state_dict(ckpt["opt_d"])
        for k, p in self.pools.items():
            p.load_state_dict(ckpt["pools"][k])
        torch.set_rng_state(ckpt["rng"]["torch"])
        self.sampler.set_state(ckpt["rng"]["sampler"])
        self.step = int(ckpt["step"])

    def save(self) -> Path:
        return save_checkpoint(self.state_dict(), self.out / "checkpoints" / "latest.pt")

    # ------------------------------------------------------------------ steps
    def _lr(self) -> float:
        cfg = self.cfg
        start = cfg.decay_from * cfg.steps
        if cfg.steps <= 0 or self.step < start:
            return cfg.lr
        return cfg.lr * max(0.0, 1 - (self.step - start) / max(1.0, cfg.steps - start))

    def _batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        n = self.cfg.batch_size
        ia = torch.randint(len(self.data.a), (n,), generator=self.sampler)
        # Unpaired: B is drawn independently, so the loop never uses correspondences.
        ib = (
            ia
            if self.data.paired and self.cfg.method == "pix2pix"
            else torch.randint(len(self.data.b), (n,), generator=self.sampler)
        )
        return self.data.a[ia].to(self.device), self.data.b[ib].to(self.device)

    def train_step(self) -> dict[str, float]:
        """One G and one D update on a fresh batch; returns the losses."""
        lr = self._lr()
        for opt in (self.opt_g, self.opt_d):
            for group in opt.param_groups:
                group["lr"] = lr
        a, b = self._batch()
        logs = self._pix2pix_step(a, b) if self.cfg.method == "pix2pix" else self._cycle_step(a, b)
        self.step += 1
        return logs

    def _pix2pix_step(self, a: torch.Tensor, b: torch.Tensor) -> dict[str, float]:
        G, D = self.models["G"], self.models["D"]
        G.train()
        D.train()
        fake = G(a)
        # D: real pair (a, b) -> 1, fake pair (a, G(a)) -> 0; halved as in the paper.
        d_real = D(torch.cat([a, b], 1))
        d_fake = D(torch.cat([a, fake.detach()], 1))
        loss_d = 0.5 * (
            F.binary_cross_entropy_with_logits(d_real, torch.ones_like(d_real))
            + F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake))
        )
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()
        # G: non-saturating GAN loss (fool D on every patch) + lambda * L1 to the target.
        d_fake = D(torch.cat([a, fake], 1))
        loss_gan = F.binary_cross_entropy_with_logits(d_fake, torch.ones_like(d_fake))
        loss_l1 = (fake - b).abs().mean()
        loss_g = loss_gan + self.cfg.lambda_l1 * loss_l1
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        return {"loss_d": loss_d.item(), "loss_g_gan": loss_gan.item(), "loss_l1": loss_l1.item()}

    def _cycle_step(self, a: torch.Tensor, b: torch.Tensor) -> dict[str, float]:
        m = self.models
        for net in m.values():
            net.train()
        lam = self.cfg.lambda_cycle
        fake_b, fake_a = m["G_AB"](a), m["G_BA"](b)
        rec_a, rec_b = m["G_BA"](fake_b), m["G_AB"](fake_a)
        # G update: D's are not stepped here, only their gradients are discarded below.
        pred_b, pred_a = m["D_B"](fake_b), m["D_A"](fake_a)
        loss_gan = F.mse_loss(pred_b, torch.ones_like(pred_b)) + F.mse_loss(
            pred_a, torch.ones_like(pred_a)
        )
        loss_cycle = (rec_a - a).abs().mean() + (rec_b - b).abs().mean()
        loss_g = loss_gan + lam * loss_cycle
        loss_idt = torch.zeros(())
        if self.use_identity:
            loss_idt = (m["G_AB"](b) - b).abs().mean() + (m["G_BA"](a) - a).abs().mean()
            loss_g = loss_g + lam * self.cfg.lambda_identity * loss_idt
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        # D update on the history pool of fakes (LSGAN: real -> 1, fake -> 0), halved.
        self.opt_d.zero_grad(set_to_none=True)
        loss_d = torch.zeros(())
        for dom, real, fake in (("A", a, fake_a), ("B", b, fake_b)):
            D = m[f"D_{dom}"]
            pr, pf = D(real), D(self.pools[dom].query(fake.detach()))
            loss_d = loss_d + 0.5 * (
                F.mse_loss(pr, torch.ones_like(pr)) + F.mse_loss(pf, torch.zeros_like(pf))
            )
        loss_d.backward()
        self.opt_d.step()
        return {
            "loss_d": loss_d.item(),
            "loss_g_gan": loss_gan.item(),
            "loss_cycle": loss_cycle.item(),
            "loss_identity": loss_idt.item(),
        }

    # ------------------------------------------------------------------ outputs
    def translator(self) -> Translator:
        return Translator(
            {k: m for k, m in self.models.items() if k.startswith("G")},
            self.cfg,
            (self.c_a, self.c_b),
            self.res,
            self.step,
        )

    def write_samples(self) -> Path:
        """Grid rows: pix2pix: input, output, target; CycleGAN: A, G_AB(A), G_BA(G_AB(A)),
        B, G_BA(B), G_AB(G_BA(B))."""
        tr = self.translator()
        a, b = self.fixed_a, self.fixed_b
        if self.cfg.method == "pix2pix":
            rows = [a, tr(a), b]
        else:
            fb, fa = tr(a), tr(b, "BtoA")
            rows = [a, fb, tr(fb, "BtoA"), b, fa, tr(fa)]
        grid = _grid_rows(rows)
        path = save_grid(grid, self.out / "samples" / f"step_{self.step:06d}.png", nrow=len(a))
        save_grid(grid, self.out / "samples.png", nrow=len(a))
        return path

    def evaluate(self) -> dict[str, float] | None:
        """Held-out error against the true B (when the data has aligned test pairs)."""
        d = self.data
        if d.a_test is None or d.b_test is None or not d.test_paired:
            return None
        n = self.cfg.eval_n
        return evaluate_translation(self.translator(), d.a_test[:n], d.b_test[:n])

    def _log(self, record: dict[str, Any]) -> None:
        with open(self.out / "metrics.jsonl", "a") as f:
            f.write(json.dumps(record) + "\n")

    def run(self) -> dict[str, Any]:
        """Train up to ``cfg.steps``; checkpoint, sample and log along the way. Returns the
        final record (step, last losses and held-out ``l1``/``psnr`` when measurable)."""
        cfg = self.cfg
        bar = None
        if cfg.progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=cfg.steps, initial=self.step, desc=cfg.method, unit="step")
        logs: dict[str, float] = {}
        if self.step == 0 and self.data.skipped:
            self._log({"step": 0, "skipped": self.data.skipped})
        try:
            while self.step < cfg.steps:
                logs = self.train_step()
                if not all(math.isfinite(v) for v in logs.values()):
                    self._log({"step": self.step, **logs, "error": "non-finite loss"})
                    raise FloatingPointError(
                        f"non-finite loss at step {self.step}: {logs}; lower --lr"
                    )
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix({k: f"{v:.3f}" for k, v in logs.items()}, refresh=False)
                if self.step % cfg.log_every == 0:
                    self._log({"step": self.step, "lr": self._lr(), **logs})
                if cfg.eval_every and self.step % cfg.eval_every == 0:
                    ev = self.evaluate()
                    if ev:
                        self._log({"step": self.step, "eval": ev})
                if self.step % cfg.sample_every == 0:
                    self.write_samples()
                if self.step % cfg.ckpt_every == 0:
                    self.save()
        finally:
            if bar is not None:
                bar.close()
        self.save()
        self.write_samples()
        record: dict[str, Any] = {"step": self.step, **logs}
        ev = self.evaluate()
        if ev:
            record["eval"] = ev
            self._log({"step": self.step, "eval": ev, "final": True})
        return record


def train_translation(
    cfg: TranslationConfig, out: str | Path, *, resume: bool = False
) -> dict[str, Any]:
    """Train (or continue, with ``resume``) a pix2pix/CycleGAN run in folder ``out``."""
    return TranslationTrainer(cfg, out, resume=resume).run()


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


def _load_exported_translator(folder: Path, device: str, where: str) -> Translator:
    from safetensors.torch import load_file

    from ganforge.hub.export import CONFIG_NAME, WEIGHTS_NAME

    info = json.loads((folder / CONFIG_NAME).read_text(encoding="utf-8"))
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
    c_a, c_b = (int(c) for c in info["channels"])
    res = int(info["resolution"])
    state = load_file(str(folder / WEIGHTS_NAME))
    gens = {}
    for name, net in _build_models(cfg, c_a, c_b, res).items():
        if not name.startswith("G"):
            continue
        prefix = f"{name}."
        sub = {
            k[len(prefix) :]: (v.float() if v.is_floating_point() else v)
            for k, v in state.items()
            if k.startswith(prefix)
        }
        net.load_state_dict(sub)
        gens[name] = net.to(device).eval().requires_grad_(False)
    return Translator(gens, cfg, (c_a, c_b), res, int(info.get("step", 0)))


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
    where = str(run)
    if isinstance(run, str) and run.startswith("zoo:"):
        from ganforge.hub.zoo import resolve_zoo

        run = resolve_zoo(run[4:])
    from ganforge.hub.export import is_exported_dir

    if is_exported_dir(run):
        return _load_exported_translator(Path(run), device, where)
    ckpt = load_checkpoint(run)
    if ckpt.get("kind") != KIND:
        raise CheckpointError(
            f"{ckpt['path']} is not a translation run (train one with `ganforge translate train`)"
        )
    cfg = TranslationConfig.from_dict(ckpt["translation"])
    c_a, c_b = (int(c) for c in ckpt["channels"])
    res = int(ckpt["resolution"])
    models = _build_models(cfg, c_a, c_b, res)
    gens = {}
    for k, m in models.items():
        if k.startswith("G"):
            m.load_state_dict(ckpt["models"][k])
            gens[k] = m.to(device).eval().requires_grad_(False)
    return Translator(gens, cfg, (c_a, c_b), res, int(ckpt["step"]))


def _write_png(img: torch.Tensor, path: Path) -> None:
    """(C, H, W) in [-1, 1] -> PNG, written atomically."""
    from PIL import Image

    from ganforge.core.imaging import to_uint8

    arr = to_uint8(img[None])[0]
    pil = Image.fromarray(arr[..., 0] if arr.shape[-1] == 1 else arr)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    pil.save(tmp, format="PNG")
    tmp.replace(path)


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
            _write_png(img, target)
            written.append(target)
    return written
