"""Old module paths (before the layered layout of 0.2) keep importing, with a warning.

``import ganforge.rejection`` returns the module ``ganforge.sampling.rejection`` itself (the
same object, so monkeypatching either name patches both). The table is the one in
ARCHITECTURE.md ("Moved modules"); these aliases go away in release 0.4.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import warnings
from types import ModuleType

MOVED = {
    "ganforge.registry": "ganforge.core.registry",
    "ganforge.config": "ganforge.core.config",
    "ganforge.presets": "ganforge.core.presets",
    "ganforge.imaging": "ganforge.core.imaging",
    "ganforge.engine": "ganforge.training",
    "ganforge.engine.checkpoint": "ganforge.core.checkpoint",
    "ganforge.engine.trainer": "ganforge.training.trainer",
    "ganforge.engine.guard": "ganforge.training.guard",
    "ganforge.losses": "ganforge.training.losses",
    "ganforge.optim": "ganforge.training.optim",
    "ganforge.regularizers": "ganforge.training.regularizers",
    "ganforge.regularizers_stylegan": "ganforge.training.path_length",
    "ganforge.augment": "ganforge.training.augment",
    "ganforge.tb": "ganforge.ui.tensorboard",
    "ganforge.rejection": "ganforge.sampling.rejection",
    "ganforge.latent_langevin": "ganforge.sampling.langevin",
    "ganforge.controls": "ganforge.sampling.controls",
    "ganforge.project": "ganforge.sampling.projection",
    "ganforge.export": "ganforge.hub.export",
    "ganforge.zoo": "ganforge.hub.zoo",
    "ganforge.modality_metrics": "ganforge.metrics.modality",
    "ganforge.applications": "ganforge.apps",
    "ganforge.applications.translation": "ganforge.apps.translation",
    "ganforge.applications.attacks": "ganforge.apps.adversarial.attacks",
    "ganforge.applications.advgan": "ganforge.apps.adversarial.advgan",
    "ganforge.applications.classifier": "ganforge.apps.adversarial.classifier",
    "ganforge.report": "ganforge.ui.report",
    "ganforge.serve": "ganforge.ui.serve",
}


class _MovedModuleFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Resolves an old name to the module now living under the new one."""

    def find_spec(self, fullname: str, path: object, target: object = None) -> object:
        if fullname not in MOVED:
            return None
        return importlib.machinery.ModuleSpec(fullname, self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        new = MOVED[spec.name]
        warnings.warn(
            f"{spec.name} moved to {new}; the old path stops working in ganforge 0.4",
            DeprecationWarning,
            stacklevel=2,
        )
        return importlib.import_module(new)

    def exec_module(self, module: ModuleType) -> None:
        """The module was executed under its new name already."""


def install() -> None:
    """Put the finder first on ``sys.meta_path`` (once)."""
    if not any(isinstance(f, _MovedModuleFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _MovedModuleFinder())
