"""Applications of the engine: the noise-to-data GAN (:mod:`.gan`), image-to-image
translation (:mod:`.translation`), adversarial examples (:mod:`.adversarial`) and tables
(:mod:`.tabular`). Importing
this package registers their training objectives, so a run folder of any of them resumes
through :func:`trainer_for`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ganforge.apps import translation
from ganforge.apps.adversarial import advgan  # noqa: F401  (registers the advgan objective)
from ganforge.apps.gan import gan_trainer
from ganforge.apps.tabular import objective as _tabular  # noqa: F401  (registers tabular)
from ganforge.core.config import TrainConfig
from ganforge.data.base import TensorData
from ganforge.training.callbacks import Callback, RunView
from ganforge.training.objective import objective_name
from ganforge.training.trainer import Trainer


class LogNotes(Callback):
    """Writes what was fitted to the data into ``metrics.jsonl`` when training starts."""

    def __init__(self, notes: Sequence[str]) -> None:
        self.notes = list(notes)

    def on_train_start(self, run: RunView) -> None:
        if self.notes and run.step == 0:
            run.log({"step": 0, "event": "fitted_to_data", "notes": self.notes})


def trainer_for(
    cfg: TrainConfig,
    out: str | Path,
    *,
    resume: bool = False,
    data: TensorData | None = None,
    notes: Sequence[str] = (),
) -> Trainer:
    """The engine set up for ``cfg`` with the callbacks its application uses; ``notes``
    (what was fitted to the data) go into ``metrics.jsonl`` when training starts."""
    if objective_name(cfg) in translation.train.METHODS:
        return translation.translation_trainer(cfg, out, resume=resume)
    if objective_name(cfg) == "tabular":
        from ganforge.apps.tabular.run import tabular_trainer

        return tabular_trainer(cfg, out, resume=resume)
    return gan_trainer(cfg, out, resume=resume, data=data, callbacks=[LogNotes(notes)])


__all__ = ["gan_trainer", "trainer_for"]
