"""Applications of the engine: the noise-to-data GAN (:mod:`.gan`), image-to-image
translation (:mod:`.translation`) and adversarial examples (:mod:`.adversarial`). Importing
this package registers their training objectives, so a run folder of any of them resumes
through :func:`trainer_for`."""

from __future__ import annotations

from pathlib import Path

from ganforge.apps import translation
from ganforge.apps.adversarial import advgan  # noqa: F401  (registers the advgan objective)
from ganforge.apps.gan import gan_trainer
from ganforge.core.config import TrainConfig
from ganforge.training.objective import objective_name
from ganforge.training.trainer import Trainer


def trainer_for(cfg: TrainConfig, out: str | Path, *, resume: bool = False) -> Trainer:
    """The engine set up for ``cfg`` with the callbacks its application uses."""
    if objective_name(cfg) in translation.train.METHODS:
        return translation.translation_trainer(cfg, out, resume=resume)
    return gan_trainer(cfg, out, resume=resume)


__all__ = ["gan_trainer", "trainer_for"]
