"""Shared fixtures: tiny configs that train in a fraction of a second on the CPU."""

from __future__ import annotations

import dataclasses
import os

import pytest
import torch

from ganforge.core.config import DataConfig, LogConfig, ModelConfig, TrainConfig

# No test may reach the network: fetching code is tested with file:// URLs and a local
# server, with this unset inside the test (monkeypatch).
os.environ["GANFORGE_OFFLINE"] = "1"

# One thread: the tiny test models gain nothing from two, and OpenMP spin-waiting makes
# two threads several times slower whenever the machine has other work.
torch.set_num_threads(1)


def tiny_config(**overrides: object) -> TrainConfig:
    """A DCGAN-28 with 8 channels, batch 16 — a step takes a few milliseconds."""
    cfg = TrainConfig(
        steps=6,
        batch_size=16,
        device="cpu",
        precision="fp32",  # the autotuned defaults are tested on their own
        channels_last="false",
        data=DataConfig(spec="mnist5k"),
        model=ModelConfig(name="dcgan", z_dim=16, args={"ngf": 8, "ndf": 8}),
        log=LogConfig(every=2, sample_every=3, ckpt_every=3, n_samples=16, progress=False),
    )
    return dataclasses.replace(cfg, **overrides)


@pytest.fixture
def tiny_cfg() -> TrainConfig:
    return tiny_config()


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Caches (autotune choices, real features, downloads) in a folder of this test run."""
    os.environ["GANFORGE_CACHE"] = str(tmp_path_factory.mktemp("cache"))
