"""Image-to-image translation: pix2pix (paired) and CycleGAN (unpaired).

    from ganforge.apps.translation import TranslationConfig, train_translation
    train_translation(TranslationConfig(method="pix2pix", data="mnist-edges", steps=1500),
                      "runs/p2p-edges")
    tr = load_translator("runs/p2p-edges")      # tr(x) -> translated batch
    apply_translation("runs/p2p-edges", "my_digits/", "out/")
    export_translator(tr, "exported/p2p-edges", dtype="fp16")  # safetensors + config.json
    tr = load_translator("zoo:pix2pix-edges")   # a shipped model (hash-checked)

See :mod:`.models` (U-Net, ResNet generator, PatchGAN, history pool), :mod:`.data`
(paired/side-by-side/unpaired folders, ``mnist-edges`` and ``mnist-color`` tasks) and
:mod:`.objectives` (the pix2pix and CycleGAN steps of the shared engine) and :mod:`.train`
(runs, evaluation, loading, export). Command line: ``ganforge translate``.
"""

from __future__ import annotations

from ganforge.apps.translation import objectives  # noqa: F401  (registers pix2pix, cyclegan)
from ganforge.apps.translation.data import (
    SYNTHETIC_TASKS,
    TranslationData,
    load_translation_data,
    synthetic_task,
)
from ganforge.apps.translation.models import (
    HistoryPool,
    PatchDiscriminator,
    ResnetGenerator,
    UNetGenerator,
)
from ganforge.apps.translation.train import (
    TranslationConfig,
    Translator,
    apply_translation,
    evaluate_translation,
    export_translator,
    load_translator,
    train_translation,
    translation_trainer,
)

__all__ = [
    "SYNTHETIC_TASKS",
    "TranslationData",
    "load_translation_data",
    "synthetic_task",
    "HistoryPool",
    "PatchDiscriminator",
    "ResnetGenerator",
    "UNetGenerator",
    "TranslationConfig",
    "Translator",
    "apply_translation",
    "evaluate_translation",
    "export_translator",
    "load_translator",
    "train_translation",
    "translation_trainer",
]
