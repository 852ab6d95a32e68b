"""The training loop: config in, run folder out — for every objective.

``Trainer(cfg, out_dir).run()`` builds the run's :class:`~ganforge.training.objective.Objective`
(the GAN game for noise-to-data families; pix2pix, CycleGAN, AdvGAN ... from the
applications), its networks, one optimizer per group, moving averages, then repeats
``objective.step`` until ``cfg.steps``, writing into ``out_dir``
(:class:`~ganforge.core.runfolder.RunFolder`): ``config.toml``, ``checkpoints/latest.pt``
(+ ``step_XXXXXXX.pt`` every ``log.ckpt_every`` steps), ``samples/step_XXXXXXX.png`` every
``log.sample_every`` steps, ``metrics.jsonl`` and ``samples.png`` at the end. Reports,
TensorBoard and periodic evaluation are callbacks (:mod:`ganforge.training.callbacks`)
passed in by the layers above.

Resume is exact on CPU: every RNG, the data permutation, the optimizer and objective states
are in the checkpoint, and nothing the loop does for logging touches a training RNG.
"""

from __future__ import annotations

import copy
import signal
import time
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

import ganforge.training.objectives  # noqa: F401  (registers the built-in objectives)
from ganforge.core.checkpoint import CheckpointError, load_checkpoint, save_checkpoint, write_error
from ganforge.core.config import TrainConfig, save_toml, to_dict
from ganforge.core.runfolder import RunFolder
from ganforge.data import TensorData, load_data
from ganforge.training import autotune
from ganforge.training.batching import PermutationBatcher
from ganforge.training.callbacks import Callback
from ganforge.training.distributed import average_gradients, init_from_env
from ganforge.training.ema import update_ema
from ganforge.training.guard import NonFiniteGuard, TrainingDiverged
from ganforge.training.objective import OBJECTIVES, Objective, StepContext, objective_name
from ganforge.training.optim import Optimizer, build_optimizer, check_schedule, lr_factor
from ganforge.training.precision import resolve_device, resolve_precision
from ganforge.training.rng import rng_state, set_rng_state
from ganforge.training.stopping import StopRequests, TrainingStopped

Tensor = torch.Tensor


def build_objective(cfg: TrainConfig, data: TensorData | None = None) -> Objective:
    """The run's objective (``objective.name``, ``auto`` by model family) on its data
    (``data`` given, else :func:`ganforge.data.load_data` of ``cfg.data``)."""
    cls = OBJECTIVES.get(objective_name(cfg))
    return cls(cfg, data if data is not None else load_data(cfg.data))


def total_grad_norm(params: list[Tensor]) -> Tensor:
    """Global L2 norm of the gradients of ``params`` (0 when none have gradients)."""
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return torch.zeros(())
    return torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))


class Trainer:
    """Owns the loop of one run folder.

    Args:
        cfg: the run's configuration.
        out_dir: the run folder.
        data: data to train on instead of loading ``cfg.data`` (tests, benchmarks).
        resume: continue from ``out_dir/checkpoints/latest.pt``.
        objective: an objective built by the caller (applications); default
            :func:`build_objective`.
        callbacks: hooks around the loop (reports, TensorBoard, evaluation).
    """

    def __init__(
        self,
        cfg: TrainConfig,
        out_dir: str | Path,
        *,
        data: TensorData | None = None,
        resume: bool = False,
        objective: Objective | None = None,
        callbacks: Sequence[Callback] = (),
    ) -> None:
        self.run_folder = RunFolder(out_dir)
        self.resume_state: dict[str, Any] | None = None
        if resume:
            self.resume_state = load_checkpoint(self.run_folder.path)
        self.cfg = cfg
        self.callbacks = list(callbacks)
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        o = cfg.optim
        check_schedule(o.schedule, cfg.steps, o.warmup, o.decay_start)
        self.device = resolve_device(cfg.device)
        self.dist = init_from_env(self.device.type)
        if self.dist.enabled and self.device.type == "cuda":
            self.device = torch.device("cuda", self.dist.local_rank)
            torch.cuda.set_device(self.device)
        self.is_main = self.dist.is_main
        torch.manual_seed(cfg.seed)
        self.train_gen = torch.Generator().manual_seed(cfg.seed)

        self.objective = objective if objective is not None else build_objective(cfg, data)
        self.data = self.objective.data
        self.batcher = None
        if self.objective.batches_from_data:
            self.batcher = PermutationBatcher(len(self.data), cfg.batch_size, self.train_gen)
        trained = self.objective.build_networks()
        self.nets: dict[str, nn.Module] = {k: m.to(self.device) for k, m in trained.items()}
        for ema_name, source in self.objective.ema.items():
            self.nets[ema_name] = copy.deepcopy(self.nets[source]).eval().requires_grad_(False)
        if cfg.compile:
            # Compile the bound forward methods, not the modules, so state_dict keys and
            # checkpoints stay the same with and without compilation.
            for name in trained:
                net = self.nets[name]
                net.forward = torch.compile(net.forward)  # type: ignore[method-assign]
        self.groups = dict(self.objective.groups)
        # Parameter lists built once: walking the module tree every update cost 6% of a
        # 2-D toy step (the networks do not change after init).
        self.group_params = {
            g: [p for name in names for p in self.nets[name].parameters()]
            for g, names in self.groups.items()
        }
        self._group_param_ids = {g: {id(p) for p in ps} for g, ps in self.group_params.items()}
        self.ema_params = {
            e: (list(self.nets[e].parameters()), list(self.nets[s].parameters()))
            for e, s in self.objective.ema.items()
        }
        # precision and layout: the checkpoint's on resume, else explicit or measured below
        saved = self.resume_state or {}
        self.precision = str(saved.get("precision", "")) or resolve_precision(
            "fp32" if cfg.precision == "auto" else cfg.precision, self.device
        )
        self.channels_last = False
        self.speed_choice = ""
        self.scalers: dict[str, Any] = {}
        if self.precision == "fp16":  # one gradient scaler per group (their losses differ)
            self.scalers = {g: torch.amp.GradScaler(self.device.type) for g in self.groups}
        self.optimizers = {g: self._make_optimizer(g) for g in self.groups}
        self.step = 0
        self.skipped_updates = 0
        self.events: list[dict[str, Any]] = []
        self._grad_norms: dict[str, Tensor] = {}
        stateful: dict[str, Any] = dict(self.nets)
        stateful.update({self._opt_key(g): opt for g, opt in self.optimizers.items()})
        self.guard = NonFiniteGuard(
            cfg,
            stateful,
            [p for g in self.groups for p in self.group_params[g]],
            groups=list(self.groups),
        )
        self.ctx = StepContext(
            cfg,
            self.nets,
            device=self.device,
            precision=self.precision,
            generator=self.train_gen,
            dist=self.dist,
            update=self.update,
            update_with_grads=self.update_with_grads,
            batcher=self.batcher,
            data=self.data if self.objective.batches_from_data else None,
        )
        self.objective.setup(self.ctx)
        if "channels_last" in saved:
            self.set_channels_last(bool(saved["channels_last"]))
        elif cfg.channels_last == "true":
            self.set_channels_last(self.objective.image_data)
        if self.resume_state is not None:
            self._load_state(self.resume_state)
        elif "auto" in (cfg.precision, cfg.channels_last):
            self._autotune()

    # ----------------------------------------------------------------- named parts
    @property
    def out(self) -> Path:
        return self.run_folder.path

    @property
    def run_dir(self) -> Path:
        return self.run_folder.path

    @property
    def G(self) -> nn.Module:
        return self.nets["G"]

    @property
    def D(self) -> nn.Module:
        return self.nets["D"]

    @property
    def G_ema(self) -> nn.Module:
        return self.nets["G_ema"]

    @property
    def opt_g(self) -> Optimizer:
        return self.optimizers["G"]

    @property
    def opt_d(self) -> Optimizer:
        return self.optimizers["D"]

    @staticmethod
    def _opt_key(group: str) -> str:
        return f"opt_{group.lower()}"

    def _base_lr(self, group: str) -> float:
        return self.cfg.optim.lr_d if group.startswith("D") else self.cfg.optim.lr_g

    def _make_optimizer(self, group: str) -> Optimizer:
        o = self.cfg.optim
        return build_optimizer(
            o.name,
            self.group_params[group],
            lr=self._base_lr(group),
            beta1=o.beta1,
            beta2=o.beta2,
            weight_decay=o.weight_decay,
        )

    def apply_lr(self) -> None:
        """Set every group's learning rate from the schedule and the guard's scale."""
        o = self.cfg.optim
        f = self.guard.lr_scale * lr_factor(
            o.schedule, self.step, self.cfg.steps, o.warmup, o.decay_start
        )
        for g, opt in self.optimizers.items():
            for pg in opt.param_groups:
                pg["lr"] = self._base_lr(g) * f

    # ----------------------------------------------------------------- one update
    def update(self, group: str, loss: Tensor) -> None:
        """Backpropagate ``loss`` into ``group``'s networks, clip and step — skipping a
        non-finite update."""
        opt = self.optimizers[group]
        opt.zero_grad(set_to_none=True)
        scaler = self.scalers.get(group)
        # Only this group's weights get gradients: in G's update autograd then skips D's
        # weight gradients (a third of D's backward work) instead of computing and
        # discarding them, and the other network's .grad is never touched.
        inputs = [p for p in self.group_params[group] if p.requires_grad]
        if scaler is not None:  # fp16: scale the loss so small gradients survive
            scaler.scale(loss).backward(inputs=inputs)
            scaler.unscale_(opt)
        else:
            loss.backward(inputs=inputs)
        self._apply_gradients(group)

    def update_with_grads(self, group: str, grads: Mapping[Tensor, Tensor]) -> None:
        """``update`` from gradients computed by the step itself (parameter -> its
        gradient; parameters left out get none): averaged, checked, clipped, stepped."""
        if self.scalers.get(group) is not None:
            raise RuntimeError("gradients computed by the step need fp32 or bf16, not fp16")
        self.optimizers[group].zero_grad(set_to_none=True)
        owned = self._group_param_ids[group]
        for p, g in grads.items():
            if id(p) not in owned:
                raise ValueError(f"a gradient for a parameter outside group {group!r}")
            p.grad = g
        self._apply_gradients(group)

    def _apply_gradients(self, group: str) -> None:
        """Average the group's gradients across processes, skip a non-finite update, clip
        and step the group's optimizer."""
        opt = self.optimizers[group]
        scaler = self.scalers.get(group)
        params = [p for p in self.group_params[group] if p.grad is not None]
        average_gradients(params, self.dist)
        norm = total_grad_norm(params)
        self._grad_norms[group] = norm.detach()
        finite = bool(torch.isfinite(norm))
        if scaler is not None and not finite:
            # An fp16 overflow is the scaler's business: it skips the step and lowers
            # its scale; this is expected early in a run and is not a guard event.
            scaler.step(opt)
            scaler.update()
            return
        if not finite:
            # A NaN/Inf gradient would poison the weights and Adam's moments for good;
            # dropping this one update is the cheapest recovery.
            opt.zero_grad(set_to_none=True)
            self.skipped_updates += 1
            last = self.ctx.last_real
            data_ok = last is None or bool(torch.isfinite(last).all())
            self.guard.note_skip(group, data_ok)
            self.events.append(
                {"step": self.step, "event": "nonfinite_grad", "net": group, "data_finite": data_ok}
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

    def train_step(self) -> dict[str, Tensor]:
        """One step of the objective, then the guard's check and the moving averages."""
        cfg = self.cfg
        skipped_before = self.skipped_updates
        if self.guard.lr_scale != 1.0 or cfg.optim.schedule != "constant" or cfg.optim.warmup:
            self.apply_lr()
        self.ctx.step = self.step
        logs = self.objective.step(self.ctx)
        self.step += 1
        if cfg.guard.enabled:
            if self.guard.after_step(self.step, self.skipped_updates != skipped_before):
                self.apply_lr()
            for ev in self.guard.events:
                if ev["event"] == "rollback":
                    ev.update(lr_g=self.current_lr("G"), lr_d=self.current_lr("D"))
            self.events.extend(self.guard.events)
            self.guard.events.clear()
        for name, (ema_params, params) in self.ema_params.items():
            update_ema(
                self.nets[name],
                self.nets[self.objective.ema[name]],
                cfg.ema.decay,
                self.step,
                cfg.ema.start,
                params=(ema_params, params),
            )
        for g, v in self._grad_norms.items():
            logs[f"grad_norm_{g}"] = v
        return logs

    def time_steps(self, n: int = 2) -> float:
        """Seconds per step, measured on ``n`` steps after one warm-up step, all of them
        then undone: weights, optimizers, data order and every RNG are restored, so the run
        trains exactly as if it had not been timed (tested). A warm-up step longer than
        :data:`~ganforge.training.autotune.SLOW_STEP_S` is the measurement itself."""
        saved = copy.deepcopy(self.state_dict())
        snapshot = (self.guard.snapshot_state, self.guard.snapshot_step)
        try:
            start = time.perf_counter()
            self.train_step()
            warm_up = time.perf_counter() - start
            if warm_up >= autotune.SLOW_STEP_S:
                return warm_up
            start = time.perf_counter()
            for _ in range(n):
                self.train_step()
            return (time.perf_counter() - start) / max(n, 1)
        finally:
            self._load_state(saved)
            self.guard.snapshot_state, self.guard.snapshot_step = snapshot
            self.guard.events.clear()
            self.events.clear()

    def set_channels_last(self, on: bool) -> None:
        """Put the networks and the real images in NHWC (``on``) or the default layout."""
        fmt = torch.channels_last if on else torch.contiguous_format
        for m in self.nets.values():
            m.to(memory_format=fmt)
        self.ctx.use_layout(fmt)
        self.channels_last = on

    def _autotune(self) -> None:
        """Resolve ``precision``/``channels_last = auto`` by timing the candidates on this
        run's own model (:mod:`ganforge.training.autotune`), cached per model and machine."""
        cfg = self.cfg
        combos = autotune.candidates(
            cfg.precision, cfg.channels_last, self.device, self.objective.image_data,
            self.objective.auto_precisions,
        )  # fmt: skip
        key = autotune.cache_key(
            {"model": cfg.model, "objective": self.objective.name, "shape": self.data.item_shape,
             "batch": cfg.batch_size, "device": str(self.device), "combos": combos,
             "loss": cfg.loss, "tricks": cfg.tricks}
        )  # fmt: skip
        entry = autotune.cached(key) if len(combos) > 1 else None
        if len(combos) == 1:
            choice, timings = combos[0], {}
        elif entry is not None:
            choice, timings = (entry["precision"], bool(entry["channels_last"])), entry["timings"]
        else:
            # interleaved rounds, fastest of each: a busy machine slows some timings
            # several-fold, and a single draw once cached bf16 where it runs 2x slower
            measured: dict[tuple[str, bool], float] = {}
            for _ in range(autotune.ROUNDS):
                for precision, layout in combos:
                    self.precision = self.ctx.precision = precision
                    self.set_channels_last(layout)
                    seconds = self.time_steps(2)
                    combo = (precision, layout)
                    measured[combo] = min(measured.get(combo, seconds), seconds)
                if min(measured.values()) >= autotune.SLOW_STEP_S:
                    break  # slow steps: one round decides (see SLOW_STEP_S)
            choice = autotune.pick(measured)
            timings = {f"{p}{'+nhwc' if c else ''}": round(s, 5) for (p, c), s in measured.items()}
            autotune.remember(key, {"precision": choice[0], "channels_last": choice[1],
                                    "timings": timings})  # fmt: skip
        self.precision = self.ctx.precision = choice[0]
        self.set_channels_last(choice[1])
        layout = ", channels-last" if choice[1] else ""
        how = "measured fastest" if timings else "the only candidate"
        self.speed_choice = f"{choice[0]}{layout} ({how})"
        self.events.append({"step": self.step, "event": "autotune", "precision": choice[0],
                            "channels_last": choice[1], "seconds_per_step": timings})  # fmt: skip

    def current_lr(self, group: str) -> float | None:
        """The learning rate group ``group`` trains at now (None without that group)."""
        opt = self.optimizers.get(group)
        return opt.param_groups[0]["lr"] if opt is not None else None

    # ----------------------------------------------------------------- state
    def state_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {
            "step": self.step,
            "config": to_dict(self.cfg),
            "objective": self.objective.name,
            "out_shape": list(self.data.item_shape),
            "data_name": self.data.name,
        }
        state.update({name: net.state_dict() for name, net in self.nets.items()})
        state.update({self._opt_key(g): opt.state_dict() for g, opt in self.optimizers.items()})
        state.update(
            batcher=self.batcher.state_dict() if self.batcher is not None else {},
            rng=rng_state(self.train_gen),
            skipped_updates=self.skipped_updates,
            lr_scale=self.guard.lr_scale,
            guard=self.guard.state_dict(),
            scalers={k: s.state_dict() for k, s in self.scalers.items()},
            precision=self.precision,
            channels_last=self.channels_last,
        )
        state.update(self.objective.state_dict())
        return state

    def _load_state(self, st: dict[str, Any]) -> None:
        for name, net in self.nets.items():
            net.load_state_dict(st[name])
        for g, opt in self.optimizers.items():
            opt.load_state_dict(st[self._opt_key(g)])
        if self.batcher is not None:
            self.batcher.load_state_dict(st["batcher"])
        set_rng_state(st["rng"], self.train_gen)
        self.step = int(st["step"])
        self.skipped_updates = int(st.get("skipped_updates", 0))
        self.guard.lr_scale = float(st.get("lr_scale", 1.0))
        self.guard.load_state_dict(st.get("guard", {}))
        for k, s in self.scalers.items():
            if k in st.get("scalers", {}):
                s.load_state_dict(st["scalers"][k])
        self.objective.load_state_dict(st)

    def save(self, *, periodic: bool = False) -> Path:
        """Write ``checkpoints/latest.pt`` (and ``step_XXXXXXX.pt`` when ``periodic``)."""
        if not self.is_main:
            return self.run_folder.latest
        state = self.state_dict()
        path = save_checkpoint(state, self.run_folder.latest)
        if periodic:
            save_checkpoint(state, self.run_folder.periodic(self.step))
        return path

    # ----------------------------------------------------------------- outputs
    def write_samples(self, path: Path) -> Path:
        """The objective's samples of the run so far (rank 0 only); returns the file."""
        if not self.is_main:
            return path
        return self.objective.write_samples(self.nets, Path(path), self.step)

    def log(self, record: dict[str, Any]) -> None:
        """Append ``record`` to ``metrics.jsonl`` (rank 0) and hand it to the callbacks."""
        if not self.is_main:
            return
        self.run_folder.append(record)
        self.emit("on_log", record)

    def emit(self, hook: str, *args: Any) -> None:
        """Call ``hook`` on every callback; a failing callback is a warning and an event,
        never the end of the run."""
        if not self.is_main:
            return
        for cb in self.callbacks:
            try:
                getattr(cb, hook)(self, *args)
            except (KeyboardInterrupt, TrainingDiverged):
                raise
            except Exception as e:  # noqa: BLE001 - the run matters more than its extras
                msg = f"{type(cb).__name__}.{hook} failed at step {self.step}: {e}"
                warnings.warn(msg, stacklevel=2)
                self.run_folder.append(
                    {"step": self.step, "event": "callback_failed", "callback": type(cb).__name__,
                     "hook": hook, "error": f"{type(e).__name__}: {e}"}
                )  # fmt: skip

    # ----------------------------------------------------------------- loop
    def _write_samples_safely(self, path: Path) -> Path | None:
        """Samples are a view of the run, not the run: failing to write them is a warning
        and an event, never the end of training."""
        try:
            return self.write_samples(path)
        except (KeyboardInterrupt, TrainingDiverged):
            raise
        except Exception as e:  # noqa: BLE001
            warnings.warn(f"could not write samples {path}: {e}", stacklevel=2)
            self.run_folder.append(
                {"step": self.step, "event": "samples_failed", "error": f"{type(e).__name__}: {e}"}
            )
            return None

    def _start(self) -> None:
        """Take the folder's writer lock, clear temporary files of killed writes, write the
        config and align the log with the weights (rank 0)."""
        if not self.is_main:
            return
        try:
            note = self.run_folder.acquire()
        except OSError as e:
            raise CheckpointError(write_error(Path(e.filename or self.out), e)) from None
        try:
            removed = self.run_folder.remove_temp_files()
            save_toml(self.cfg, self.run_folder.config)
            # fresh run: start the log afresh; resume: drop the steps to be trained again
            self.run_folder.truncate_log(self.step)
        except OSError as e:
            self.run_folder.release()
            raise CheckpointError(write_error(Path(e.filename or self.out), e)) from None
        if note:
            print(f"note: {self.out}: {note}")
            self.run_folder.append({"step": self.step, "event": "stale_lock", "note": note})
        if removed:
            self.run_folder.append(
                {
                    "step": self.step,
                    "event": "removed_temp_files",
                    "files": [p.name for p in removed],
                }
            )

    def _stop(self, signum: int, bar: Any) -> None:
        """Save at this step boundary, tell how to resume, and end with TrainingStopped."""
        bar.close()
        self.save()
        name = signal.Signals(signum).name
        self.log({"step": self.step, "event": "stopped", "signal": name})
        self._write_samples_safely(self.run_folder.final_samples)
        msg = (
            f"stopped by {name} at step {self.step}; checkpoint saved. Resume with:\n"
            f"  ganforge train --resume {self.out}"
        )
        if self.is_main:
            print(f"\n{msg}", flush=True)
        raise TrainingStopped(signum, self.step, msg)

    def run(self, progress: bool | None = None) -> Path:
        """Train until ``cfg.steps``; returns the run folder.

        SIGINT, SIGTERM and SIGUSR1 stop the run at the next step boundary with a checkpoint
        (:class:`~ganforge.training.stopping.TrainingStopped`); another process writing the
        same folder is refused (:class:`~ganforge.core.runfolder.RunFolderBusy`).
        """
        self._start()
        try:
            with StopRequests(self.dist) as stop:
                return self._loop(progress, stop)
        finally:
            if self.is_main:
                self.run_folder.release()

    def _loop(self, progress: bool | None, stop: StopRequests) -> Path:
        cfg = self.cfg
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
        # the logged numbers of the steps since the last log line, summed in batches (one
        # stack per key every FOLD_EVERY steps instead of ten tensor additions every step)
        logged = _LoggedSums()
        t_last, step_last = time.perf_counter(), self.step
        for names in self.groups.values():
            for name in names:
                self.nets[name].train()
        if cfg.guard.enabled:
            self.guard.snapshot(self.step)
        self.emit("on_train_start")
        in_step = False
        try:
            while self.step < cfg.steps:
                signum = stop.requested()
                if signum:
                    self._stop(signum, bar)
                in_step = True
                logs = self.train_step()
                in_step = False
                logged.add(logs)
                bar.update(1)
                last = self.step == cfg.steps
                if self.step % cfg.log.every == 0 or last:
                    now = time.perf_counter()
                    rec: dict[str, Any] = {"step": self.step}
                    rec.update(logged.means())
                    rec["images_per_s"] = (
                        cfg.batch_size * (self.step - step_last) / max(now - t_last, 1e-9)
                    )
                    rec["skipped_updates"] = self.skipped_updates
                    self.log(rec)
                    for ev in self.events:
                        self.log(ev)
                    self.events.clear()
                    bar.set_postfix(_postfix(rec), refresh=False)
                    logged = _LoggedSums()
                    t_last, step_last = now, self.step
                if self.step % cfg.log.ckpt_every == 0 or last:
                    self.save(periodic=True)
                if self.step % cfg.log.sample_every == 0 or last:
                    path = self._write_samples_safely(self.run_folder.samples_at(self.step))
                    if path is not None:
                        self.emit("on_samples", path)
                self.emit("on_step_end")
        except KeyboardInterrupt:
            # Only a KeyboardInterrupt that did not come through the stop handlers (a
            # run outside the main thread, or raised by code) gets here.
            bar.close()
            if in_step:  # half a step: the weights are not a state any run passes through
                print(f"\ninterrupted inside step {self.step + 1}; the last checkpoint stays")
            else:
                self.save()
                print(f"\ninterrupted at step {self.step}; checkpoint saved")
            print(f"Resume with:\n  ganforge train --resume {self.out}")
            raise
        except TrainingDiverged:
            bar.close()
            for ev in self.events:
                self.log(ev)
            if self.guard.snapshot_state is not None:
                self.save()  # the guard has just restored the last good weights
            raise
        bar.close()
        self.final_samples = self._write_samples_safely(self.run_folder.final_samples)
        if self.final_samples is not None:
            self.emit("on_samples", self.final_samples)
        self.emit("on_train_end")
        return self.out


class _LoggedSums:
    """Sums of each step's logged numbers (0-dim tensors) since the last log line. Steps
    wait in a list and are folded into the sums by one stack per key every
    :attr:`FOLD_EVERY` steps: no per-step tensor arithmetic, bounded memory however long
    ``log.every`` is."""

    FOLD_EVERY = 128

    def __init__(self) -> None:
        self.sums: dict[str, Tensor] = {}
        self.steps = 0
        self._pending: list[dict[str, Tensor]] = []

    def add(self, logs: dict[str, Tensor]) -> None:
        self._pending.append(logs)
        self.steps += 1
        if len(self._pending) >= self.FOLD_EVERY:
            self._fold()

    def _fold(self) -> None:
        by_key: dict[str, list[Tensor]] = {}
        for logs in self._pending:
            for k, v in logs.items():
                by_key.setdefault(k, []).append(v.detach().float())
        for k, vs in by_key.items():
            total = torch.stack(vs).sum()
            self.sums[k] = self.sums[k] + total if k in self.sums else total
        self._pending = []

    def means(self) -> dict[str, float]:
        """Each number averaged over the steps (a step that did not log one counts as 0,
        as ADA's numbers before its first update)."""
        self._fold()
        return {k: float(v) / max(self.steps, 1) for k, v in self.sums.items()}


def _postfix(rec: dict[str, Any]) -> dict[str, str]:
    """The progress bar's numbers: the losses it has and the speed."""
    out = {k: f"{rec[k]:.3f}" for k in ("loss_d", "loss_g") if k in rec}
    out["img_s"] = f"{rec['images_per_s']:.0f}"
    return out


class _NoBar:
    def update(self, n: int) -> None: ...
    def set_postfix(self, *a: Any, **kw: Any) -> None: ...
    def close(self) -> None: ...


def _progress(show: bool, total: int, initial: int) -> Any:
    if not show:
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc="train", unit="step", dynamic_ncols=True)
