"""The training loop: config in, run folder out.

``Trainer(cfg, out_dir).run()`` builds data, G, D, G_ema, the loss and the optimizers
from a :class:`~ganforge.core.config.TrainConfig`, then alternates D and G updates with the
step function of the model family, writing into ``out_dir``:

* ``config.toml`` — the whole configuration;
* ``checkpoints/latest.pt`` (+ ``step_XXXXXXX.pt`` every ``log.ckpt_every`` steps);
* ``samples/step_XXXXXXX.png`` — G_ema on fixed latents every ``log.sample_every`` steps;
* ``metrics.jsonl`` — one JSON object per logged step; ``samples.png`` at the end.

Resume is exact on CPU: every RNG, the data permutation and the optimizer states are in
the checkpoint, and nothing the loop does for logging touches a training RNG.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import time
import warnings
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

import ganforge.training.steps_extra  # noqa: F401  (registers the infogan/conditional steps)
from ganforge.core.checkpoint import load_checkpoint, save_checkpoint
from ganforge.core.config import ConfigError, TrainConfig, save_toml, to_dict
from ganforge.core.imaging import save_samples
from ganforge.data import TensorData, load_data
from ganforge.data.builtin import mixture_centers
from ganforge.models import build_models
from ganforge.models.layers import PacDiscriminator
from ganforge.training.batching import PermutationBatcher
from ganforge.training.distributed import average_gradients, init_from_env, local_slice
from ganforge.training.ema import update_ema
from ganforge.training.guard import NonFiniteGuard, TrainingDiverged
from ganforge.training.losses import build_loss
from ganforge.training.optim import build_optimizer, lr_factor
from ganforge.training.regularizers import apply_spectral_norm, clip_weights_, d_penalties, r1_due
from ganforge.training.rng import rng_state, set_rng_state
from ganforge.training.steps import STEPS

Tensor = torch.Tensor


def resolve_device(name: str) -> torch.device:
    """``auto`` -> CUDA when available, else CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(name)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device={name!r} but CUDA is not available; use --set device=cpu")
    return dev


def cpu_has_bf16() -> bool:
    """Whether this CPU multiplies bf16 natively (AVX-512 BF16 or AMX; Linux flags)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_precision(name: str, device: torch.device) -> str:
    """``auto`` -> ``bf16`` where the hardware computes in bf16 (CUDA with bf16 support,
    CPUs with AVX-512 BF16/AMX), else ``fp32``; other names are checked and returned."""
    if name == "auto":
        if device.type == "cuda":
            return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
        return "bf16" if device.type == "cpu" and cpu_has_bf16() else "fp32"
    if name not in ("fp32", "bf16", "fp16"):
        raise ValueError(f"unknown precision {name!r}; valid: auto, fp32, bf16, fp16")
    return name


def total_grad_norm(params: list[Tensor]) -> Tensor:
    """Global L2 norm of the gradients of ``params`` (0 when none have gradients)."""
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return torch.zeros(())
    norms = torch._foreach_norm(grads)
    return torch.linalg.vector_norm(torch.stack(norms))


class Trainer:
    """Owns the adversarial loop for one run folder."""

    def __init__(
        self,
        cfg: TrainConfig,
        out_dir: str | Path,
        *,
        data: TensorData | None = None,
        resume: bool = False,
    ) -> None:
        self.out = Path(out_dir)
        self.resume_state: dict[str, Any] | None = None
        if resume:
            self.resume_state = load_checkpoint(self.out)
        self.cfg = cfg
        if cfg.threads < 0:
            raise ValueError(f"threads must be >= 0 (0 = PyTorch's default), got {cfg.threads}")
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        self.device = resolve_device(cfg.device)
        self.dist = init_from_env(self.device.type)
        if self.dist.enabled and self.device.type == "cuda":
            self.device = torch.device("cuda", self.dist.local_rank)
            torch.cuda.set_device(self.device)
        self.is_main = self.dist.is_main
        torch.manual_seed(cfg.seed)
        self.train_gen = torch.Generator().manual_seed(cfg.seed)

        self.data = data if data is not None else load_data(cfg.data)
        self.data_x = self.data.x.to(self.device)
        self.data_y = self.data.y.to(self.device) if self.data.y is not None else None
        self.batcher = PermutationBatcher(len(self.data), cfg.batch_size, self.train_gen)

        self.G, self.D = build_models(cfg.model, self.data.item_shape)
        if hasattr(self.G, "bind_data"):  # e.g. a text G records its data's vocabulary
            self.G.bind_data(self.data)
        tricks = cfg.tricks
        if tricks.pac > 1:
            self.D = PacDiscriminator(
                lambda shape: build_models(cfg.model, shape)[1], self.data.item_shape, tricks.pac
            )
        if tricks.spectral_norm:
            apply_spectral_norm(self.D)
        if cfg.sample.rejection:  # fail now, not at the first evaluation
            from ganforge.sampling.rejection import check_supported

            check_supported(cfg, self.G, "sample.rejection = true (set it to false)")
        if cfg.sample.langevin:
            from ganforge.sampling.langevin import check_supported as check_langevin

            if cfg.sample.rejection:
                raise ConfigError(
                    "sample.rejection and sample.langevin are both true; choose one "
                    "(rejection drops G's off-mode samples, langevin moves them)"
                )
            check_langevin(cfg, self.G, "sample.langevin = true (set it to false)")
        self.augment = self._make_augment()
        self.path_length = None
        if tricks.pl_weight > 0:
            if not hasattr(self.G, "synthesis"):
                raise ValueError(
                    "tricks.pl_weight needs a style-based generator (model.name = "
                    f"'stylegan'), not {cfg.model.name!r}"
                )
            from ganforge.training.path_length import PathLengthPenalty

            self.path_length = PathLengthPenalty()
        self.G.to(self.device)
        self.D.to(self.device)
        if cfg.channels_last and self.data.is_image:
            self.G.to(memory_format=torch.channels_last)
            self.D.to(memory_format=torch.channels_last)
            self.data_x = self.data_x.contiguous(memory_format=torch.channels_last)
        self.G_ema = copy.deepcopy(self.G).eval().requires_grad_(False)
        self._param_cache: dict[str, list[Tensor]] = {}  # see params_of
        if cfg.compile:
            # Compile the bound forward methods, not the modules, so state_dict keys and
            # checkpoints stay the same with and without compilation.
            self.G.forward = torch.compile(self.G.forward)  # type: ignore[method-assign]
            self.D.forward = torch.compile(self.D.forward)  # type: ignore[method-assign]
        self.loss = build_loss(cfg.loss.name, **cfg.loss.args)
        if (tricks.label_smoothing or tricks.label_flip) and cfg.loss.name not in ("ns", "minimax"):
            raise ValueError(
                "tricks.label_smoothing/label_flip apply to the BCE losses "
                f"(ns, minimax), not loss.name={cfg.loss.name!r}"
            )
        self.scalers: dict[str, Any] = {}
        self.precision = resolve_precision(cfg.precision, self.device)
        if self.precision == "fp16":  # one gradient scaler per network (their losses differ)
            self.scalers = {k: torch.amp.GradScaler(self.device.type) for k in ("G", "D")}
        self.d_updates = 0  # D updates so far (R1's lazy interval counts these)
        self.lr_scale = 1.0  # lowered by the non-finite guard at each rollback
        self.opt_g = self._make_optimizer(self.G, cfg.optim.lr_g)
        self.opt_d = self._make_optimizer(self.D, cfg.optim.lr_d)
        self.step_fn = STEPS.get(getattr(self.G, "train_step", "gan"))
        self.step = 0
        self.events: list[dict[str, Any]] = []
        self._grad_norms: dict[str, Tensor] = {}
        self._skipped = torch.zeros((), dtype=torch.long)
        self.guard = NonFiniteGuard(self)
        self.tb = None
        if cfg.log.tensorboard and self.is_main:
            from ganforge.ui.tensorboard import TensorBoardLogger

            self.tb = TensorBoardLogger(self.out)
        self._last_real: Tensor | None = None
        self.fixed_z = self.G.make_z(cfg.log.n_samples, seed=cfg.seed + 1_000_003)
        self._mode_centers = mixture_centers(self.data.name)
        if self.resume_state is not None:
            self._load_state(self.resume_state)

    # ----------------------------------------------------------------- building blocks
    def _make_optimizer(self, module: nn.Module, lr: float) -> torch.optim.Optimizer:
        o = self.cfg.optim
        return build_optimizer(
            o.name,
            module.parameters(),
            lr=lr,
            beta1=o.beta1,
            beta2=o.beta2,
            weight_decay=o.weight_decay,
        )

    def _make_augment(self) -> Any:
        t = self.cfg.tricks
        if not (t.diffaugment or t.ada):
            return None
        if not self.data.is_image:
            raise ValueError("tricks.diffaugment/ada need image data")
        from ganforge.training.augment import AdaptiveAugment, diff_augment

        if t.ada:
            return AdaptiveAugment(
                target=t.ada_target, policy=t.diffaugment or "color,translation,cutout"
            )
        return lambda x: diff_augment(x, policy=t.diffaugment)

    def apply_lr(self) -> None:
        """Set both learning rates from the schedule and the guard's scale."""
        o = self.cfg.optim
        f = self.lr_scale * lr_factor(o.schedule, self.step, self.cfg.steps, o.warmup)
        for opt, base in ((self.opt_g, o.lr_g), (self.opt_d, o.lr_d)):
            for group in opt.param_groups:
                group["lr"] = base * f

    def autocast(self) -> contextlib.AbstractContextManager:
        """Autocast around network forwards for ``precision = bf16 | fp16``."""
        p = self.precision
        if p == "fp32":
            return contextlib.nullcontext()
        dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}[p]
        return torch.autocast(self.device.type, dtype=dtype)

    def make_z(self, n: int) -> Tensor:
        """This process's latents (n / world_size, z_dim) out of a global draw of ``n``."""
        z = torch.randn(n, self.G.z_dim, generator=self.train_gen)
        return z[local_slice(n, self.dist)].to(self.device)

    def generate(self, z: Tensor, *, with_grad: bool) -> Tensor:
        """G(z); without a graph unless the result feeds G's own update (saves memory in
        the extra D steps of ``optim.d_steps > 1``)."""
        if with_grad:
            return self.G(z)
        with torch.no_grad():
            return self.G(z)

    def next_batch(self) -> tuple[Tensor, Tensor | None]:
        """This process's slice of the next global batch: (images, labels or None)."""
        idx = self.batcher.next()[local_slice(self.cfg.batch_size, self.dist)].to(self.device)
        y = self.data_y.index_select(0, idx) if self.data_y is not None else None
        self._last_real = self.data_x.index_select(0, idx)
        return self._last_real, y

    def D_forward(self, x: Tensor) -> Tensor:
        """D's logits on (augmented, when configured) data; packed logits with PacGAN."""
        if self.augment is not None:
            x = self.augment(x)
        return self.D(x)

    def prepare_real(self, real: Tensor) -> Tensor:
        """Real batch for a D update; requires grad when R1 is due this update."""
        if r1_due(self.loss, self.d_updates):
            return real.detach().requires_grad_(True)
        return real

    def d_loss(self, d_real: Tensor, d_fake: Tensor, real: Tensor, fake: Tensor) -> Tensor:
        """D's adversarial loss plus its regularisers (gradient penalty, lazy R1)."""
        t = self.cfg.tricks
        if t.label_smoothing or t.label_flip:
            loss = self._bce_with_targets(d_real, d_fake)
        else:
            loss = self.loss.d(d_real, d_fake)
        if self.loss.gp_weight > 0 or r1_due(self.loss, self.d_updates):
            loss = loss + d_penalties(
                self.loss, self.D_forward, real, fake.detach(), d_real, step=self.d_updates
            )
        if hasattr(self.augment, "update"):
            self.augment.update(d_real)
        self.d_updates += 1
        return loss

    def _bce_with_targets(self, d_real: Tensor, d_fake: Tensor) -> Tensor:
        """BCE with one-sided smoothed targets and randomly flipped labels."""
        t = self.cfg.tricks
        y_real = torch.full_like(d_real, 1.0 - t.label_smoothing, dtype=torch.float32)
        y_fake = torch.zeros_like(d_fake, dtype=torch.float32)
        if t.label_flip:
            flip_r = torch.rand(y_real.shape, device=y_real.device) < t.label_flip
            flip_f = torch.rand(y_fake.shape, device=y_fake.device) < t.label_flip
            y_real = torch.where(flip_r, 1.0 - y_real, y_real)
            y_fake = torch.where(flip_f, 1.0 - y_fake, y_fake)
        bce = F.binary_cross_entropy_with_logits
        return bce(d_real.float(), y_real) + bce(d_fake.float(), y_fake)

    def g_regularizers(self, z: Tensor) -> Tensor | float:
        """Lazy path-length regularisation of G (StyleGAN2), on half the batch."""
        t = self.cfg.tricks
        if self.path_length is None or self.step % t.pl_interval:
            return 0.0
        half = z[: max(1, len(z) // 2)]
        return t.pl_weight * t.pl_interval * self.path_length(self.G, half)

    def params_of(self, which: str) -> list[Tensor]:
        """G's, D's or G_ema's parameters as a list, built once: walking the module tree
        every update cost 6% of a 2-D toy step (the networks do not change after init)."""
        if which not in self._param_cache:
            module = {"G": self.G, "D": self.D, "G_ema": self.G_ema}[which]
            self._param_cache[which] = list(module.parameters())
        return self._param_cache[which]

    def backward_step(self, which: str, loss: Tensor) -> None:
        """Backpropagate ``loss`` into G or D, clip, and step — skipping non-finite updates."""
        module, opt = (self.G, self.opt_g) if which == "G" else (self.D, self.opt_d)
        opt.zero_grad(set_to_none=True)
        scaler = self.scalers.get(which)
        # Only this network's weights get gradients: in G's update autograd then skips
        # D's weight gradients (a third of D's backward work) instead of computing and
        # discarding them, and the other network's .grad is never touched.
        inputs = [p for p in self.params_of(which) if p.requires_grad]
        if scaler is not None:  # fp16: scale the loss so small gradients survive
            scaler.scale(loss).backward(inputs=inputs)
            scaler.unscale_(opt)
        else:
            loss.backward(inputs=inputs)
        params = [p for p in self.params_of(which) if p.grad is not None]
        average_gradients(params, self.dist)
        norm = total_grad_norm(params)
        self._grad_norms[which] = norm.detach()
        if scaler is not None and not bool(torch.isfinite(norm)):
            # An fp16 overflow is the scaler's business: it skips the step and lowers
            # its scale; this is expected early in a run and is not a guard event.
            scaler.step(opt)
            scaler.update()
            return
        if not bool(torch.isfinite(norm)):
            # A NaN/Inf gradient would poison the weights and Adam's moments for good;
            # dropping this one update is the cheapest recovery (seed FAQ 1).
            opt.zero_grad(set_to_none=True)
            self._skipped += 1
            data_ok = self._last_real is None or bool(torch.isfinite(self._last_real).all())
            self.guard.note_skip(which, data_ok)
            self.events.append(
                {"step": self.step, "event": "nonfinite_grad", "net": which, "data_finite": data_ok}
            )
            return
        clip = self.cfg.optim.grad_clip
        if clip > 0:
            torch._foreach_mul_(
                [p.grad for p in params], torch.clamp(clip / (norm + 1e-6), max=1.0)
            )
        if scaler is not None:
            scaler.step(opt)
            scaler.update()
        else:
            opt.step()
        if which == "D" and self.loss.d_weight_clip > 0:
            clip_weights_(self.D, self.loss.d_weight_clip)

    # ----------------------------------------------------------------- state
    def state_dict(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "config": to_dict(self.cfg),
            "out_shape": list(self.data.item_shape),
            "data_name": self.data.name,
            "G": self.G.state_dict(),
            "D": self.D.state_dict(),
            "G_ema": self.G_ema.state_dict(),
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "batcher": self.batcher.state_dict(),
            "rng": rng_state(self.train_gen),
            "skipped_updates": int(self._skipped),
            "d_updates": self.d_updates,
            "lr_scale": self.lr_scale,
            "guard": self.guard.state_dict(),
            "scalers": {k: s.state_dict() for k, s in self.scalers.items()},
            "path_length": self.path_length.state_dict() if self.path_length else {},
            "augment": self.augment.state_dict() if hasattr(self.augment, "state_dict") else {},
        }

    def _load_state(self, st: dict[str, Any]) -> None:
        self.G.load_state_dict(st["G"])
        self.D.load_state_dict(st["D"])
        self.G_ema.load_state_dict(st["G_ema"])
        self.opt_g.load_state_dict(st["opt_g"])
        self.opt_d.load_state_dict(st["opt_d"])
        self.batcher.load_state_dict(st["batcher"])
        set_rng_state(st["rng"], self.train_gen)
        self.step = int(st["step"])
        self._skipped = torch.tensor(int(st.get("skipped_updates", 0)))
        self.d_updates = int(st.get("d_updates", 0))
        self.lr_scale = float(st.get("lr_scale", 1.0))
        self.guard.load_state_dict(st.get("guard", {}))
        for k, s in self.scalers.items():
            if k in st.get("scalers", {}):
                s.load_state_dict(st["scalers"][k])
        if self.path_length is not None and st.get("path_length"):
            self.path_length.load_state_dict(st["path_length"])
        if hasattr(self.augment, "load_state_dict") and st.get("augment"):
            self.augment.load_state_dict(st["augment"])

    def save(self, *, periodic: bool = False) -> Path:
        ckpt_dir = self.out / "checkpoints"
        if not self.is_main:
            return ckpt_dir / "latest.pt"
        state = self.state_dict()
        path = save_checkpoint(state, ckpt_dir / "latest.pt")
        if periodic:
            save_checkpoint(state, ckpt_dir / f"step_{self.step:07d}.pt")
        return path

    # ----------------------------------------------------------------- outputs
    @torch.no_grad()
    def write_samples(self, path: Path) -> Path:
        """Write G_ema's samples on the fixed latents: a grid, a scatter plot, or — for
        models with their own modality (audio, text) — whatever ``G.write_samples`` writes
        (``G.write_samples(x, path) -> Path``, with ``path`` a ``.png`` file name)."""
        if not self.is_main:
            return path
        z = self.fixed_z.to(self.device)
        x = torch.cat([self.G_ema(z[i : i + 256]) for i in range(0, len(z), 256)])
        if hasattr(self.G_ema, "write_samples"):
            return self.G_ema.write_samples(x.float().cpu(), path)
        if not self.G.is_image:  # a scatter plot needs many points, not a 64-item grid
            x = self.G_ema.sample(2500, seed=self.cfg.seed + 7)
        return save_samples(
            x.float().cpu(), path, title=f"step {self.step}", reference=self._mode_centers
        )

    def _log_path(self) -> Path:
        return self.out / "metrics.jsonl"

    def _truncate_log(self) -> None:
        """Keep only log lines up to the current step, so the log matches the weights: a
        fresh run starts an empty log, a resumed one drops the steps it will train again."""
        path = self._log_path()
        if not path.exists():
            return
        keep = []
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                if json.loads(line).get("step", 0) <= self.step:
                    keep.append(line)
            except json.JSONDecodeError:
                continue  # a line cut by a crash mid-write
        tmp = path.with_suffix(".tmp")
        tmp.write_text("".join(k + "\n" for k in keep), encoding="utf-8")
        os.replace(tmp, path)

    def log(self, record: dict[str, Any]) -> None:
        if not self.is_main:
            return
        with open(self._log_path(), "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
        if self.tb is not None and "event" not in record:
            self.tb.log_scalars(record["step"], record)
        elif self.tb is not None and record.get("event") == "eval":
            self.tb.log_scalars(record["step"], record, prefix="eval")

    def refresh_report(self, samples: Path | None = None) -> None:
        """Rebuild report.html (and push the newest grid to TensorBoard). A failure here
        is reported and never stops training."""
        if not self.is_main:
            return
        if self.tb is not None and samples is not None and samples.suffix == ".png":
            self.tb.log_image_file(self.step, "samples", samples)
        if not self.cfg.log.report:
            return
        try:
            from ganforge.ui.report import write_report

            write_report(self.out)
        except Exception as e:  # noqa: BLE001 - the run matters more than its report
            warnings.warn(f"could not write {self.out / 'report.html'}: {e}", stacklevel=2)

    # ----------------------------------------------------------------- loop
    def run(self, progress: bool | None = None) -> Path:
        """Train until ``cfg.steps``; returns the run folder. Ctrl-C saves and re-raises."""
        cfg = self.cfg
        if self.is_main:
            self.out.mkdir(parents=True, exist_ok=True)
            save_toml(cfg, self.out / "config.toml")
        if self.is_main:  # fresh run: start the log afresh; resume: drop steps to be redone
            self._truncate_log()
        if self.data.skipped:
            self.log(
                {
                    "step": self.step,
                    "event": "skipped_files",
                    "count": len(self.data.skipped),
                    "files": [p for p, _ in self.data.skipped[:20]],
                }
            )
        show = (cfg.log.progress if progress is None else progress) and self.is_main
        bar = _progress(show, cfg.steps, self.step)
        acc: dict[str, Tensor] = {}
        n_acc = 0
        t_last, step_last = time.perf_counter(), self.step
        self.G.train()
        self.D.train()
        if cfg.guard.enabled:
            self.guard.snapshot()
        try:
            while self.step < cfg.steps:
                skipped_before = int(self._skipped)
                if self.lr_scale != 1.0 or cfg.optim.schedule != "constant" or cfg.optim.warmup:
                    self.apply_lr()
                logs = self.step_fn(self)
                if hasattr(self.augment, "stats"):
                    logs.update(self.augment.stats())
                self.step += 1
                if cfg.guard.enabled:
                    self.guard.after_step(int(self._skipped) != skipped_before)
                update_ema(
                    self.G_ema,
                    self.G,
                    cfg.ema.decay,
                    self.step,
                    cfg.ema.start,
                    params=(self.params_of("G_ema"), self.params_of("G")),
                )
                for k, v in self._grad_norms.items():
                    logs[f"grad_norm_{k}"] = v
                for k, v in logs.items():
                    acc[k] = acc[k] + v if k in acc else v.clone()
                n_acc += 1
                bar.update(1)
                last = self.step == cfg.steps
                if self.step % cfg.log.every == 0 or last:
                    now = time.perf_counter()
                    rec = {"step": self.step}
                    rec.update({k: float(v) / n_acc for k, v in acc.items()})
                    rec["images_per_s"] = (
                        cfg.batch_size * (self.step - step_last) / max(now - t_last, 1e-9)
                    )
                    rec["skipped_updates"] = int(self._skipped)
                    self.log(rec)
                    for ev in self.events:
                        self.log(ev)
                    self.events.clear()
                    bar.set_postfix(
                        loss_d=f"{rec['loss_d']:.3f}",
                        loss_g=f"{rec['loss_g']:.3f}",
                        img_s=f"{rec['images_per_s']:.0f}",
                        refresh=False,
                    )
                    acc, n_acc = {}, 0
                    t_last, step_last = now, self.step
                if self.step % cfg.log.sample_every == 0 or last:
                    grid = self.write_samples(self.out / "samples" / f"step_{self.step:07d}.png")
                    self.refresh_report(grid)
                if cfg.eval.every and self.is_main and (self.step % cfg.eval.every == 0 or last):
                    self.evaluate()
                if self.step % cfg.log.ckpt_every == 0 or last:
                    self.save(periodic=True)
        except KeyboardInterrupt:
            bar.close()
            self.save()
            self.write_samples(self.out / "samples.png")
            print(
                f"\ninterrupted at step {self.step}; checkpoint saved. Resume with:\n"
                f"  ganforge train --resume {self.out}"
            )
            raise
        except TrainingDiverged:
            bar.close()
            for ev in self.events:
                self.log(ev)
            if self.guard.snapshot_state is not None:
                self.save()  # the guard has just restored the last good weights
            raise
        bar.close()
        self.final_samples = self.write_samples(self.out / "samples.png")
        self.refresh_report()
        if self.tb is not None:
            self.tb.close()
        return self.out

    def evaluate(self) -> dict[str, Any]:
        """Periodic evaluation of G_ema (``eval.every``), logged and used for best.pt."""
        from ganforge.metrics import evaluate
        from ganforge.metrics.evaluate import resolve_metric

        cfg = self.cfg
        source: Any = self.G_ema
        sc = cfg.sample
        if sc.rejection or sc.langevin:  # as many as the largest protocol asks for (2,500)
            need = max(
                [cfg.eval.n]
                + [
                    resolve_metric(m, n=cfg.eval.n, item_shape=self.data.item_shape).n
                    for m in cfg.eval.metrics
                ]
            )
        if sc.rejection:  # score what `ganforge sample` draws for this run
            from ganforge.sampling.rejection import DiscriminatorRejectionSampler

            drs = DiscriminatorRejectionSampler(
                self.G_ema, self.D, self.data.x, m_quantile=sc.m_quantile, power=sc.power
            ).fit()
            source = drs.sample(need, seed=0)
        elif sc.langevin:
            from ganforge.sampling.langevin import LatentLangevinSampler

            ddls = LatentLangevinSampler(
                self.G_ema,
                self.D,
                self.data.x,
                steps=sc.langevin_steps,
                step_size=sc.langevin_step_size,
                power=sc.power,
            ).fit()
            source = ddls.sample(need, seed=0)
        res = evaluate(
            source,
            metrics=list(cfg.eval.metrics),
            n=cfg.eval.n,
            real=cfg.data.spec,
            progress=False,
        )
        flat = {k: v for k, v in res.items() if isinstance(v, (int, float))}
        self.log({"step": self.step, "event": "eval", **res})
        if cfg.eval.best and cfg.eval.best in flat:
            best_file = self.out / "checkpoints" / "best.json"
            prev = json.loads(best_file.read_text()) if best_file.exists() else None
            if prev is None or flat[cfg.eval.best] < prev["value"]:
                save_checkpoint(self.state_dict(), self.out / "checkpoints" / "best.pt")
                best_file.write_text(
                    json.dumps(
                        {"metric": cfg.eval.best, "value": flat[cfg.eval.best], "step": self.step}
                    )
                )
        return res


class _NoBar:
    def update(self, n: int) -> None: ...
    def set_postfix(self, **kw: Any) -> None: ...
    def close(self) -> None: ...


def _progress(show: bool, total: int, initial: int) -> Any:
    if not show:
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc="train", unit="step", dynamic_ncols=True)
