"""The engine's built-in objectives; importing this package registers them in
:data:`ganforge.training.objective.OBJECTIVES`. Applications register their own
(``pix2pix``, ``cyclegan``, ``advgan``, ``tabular``) when imported."""

from ganforge.training.objectives import conditional, gan, infogan  # noqa: F401
