"""The training monitor: sample variety from real generators, and its verdicts."""

from __future__ import annotations

import torch

import ganforge
from ganforge.core.config import DataConfig
from ganforge.data import load_data
from ganforge.training.monitor import WINDOW, assess, mean_pairwise_distance


def _variety(G, real) -> float:
    z = G.make_z(64, seed=5)
    gen = torch.Generator().manual_seed(5)
    idx = torch.randperm(len(real), generator=gen)[:64]
    return mean_pairwise_distance(G.generate(z)) / mean_pairwise_distance(real[idx])


def test_sample_variety_tells_the_collapsed_tutorial_gan_from_dcgan():
    digits = load_data(DataConfig(spec="mnist5k")).x
    collapsed = _variety(ganforge.load("zoo:mlp-mnist-tutorial"), digits)  # one blurred digit
    healthy = _variety(ganforge.load("zoo:dcgan-mnist"), digits)
    assert collapsed < 0.25 < 0.6 < healthy, (collapsed, healthy)
    ring = load_data(DataConfig(spec="ring8")).x
    assert _variety(ganforge.load("zoo:gan-ring8"), ring) > 0.6


def test_verdicts_need_a_whole_window_and_name_a_setting():
    d_wins = [{"d_acc_real": 1.0, "d_acc_fake": 1.0}] * WINDOW
    found = assess(d_wins, [0.9] * WINDOW, loss="ns", ada=False)
    assert [f.kind for f in found] == ["d_wins"] and "optim.lr_d" in found[0].message
    assert assess(d_wins[1:], [0.9] * WINDOW, loss="ns", ada=False) == []  # not yet
    assert assess(d_wins, [0.9] * WINDOW, loss="wgan-gp", ada=False) == []  # no accuracy
    found = assess([{"d_acc_real": 0.7, "d_acc_fake": 0.8}] * WINDOW, [0.1] * WINDOW,
                   loss="ns", ada=False)  # fmt: skip
    assert [f.kind for f in found] == ["mode_collapse"]
    assert assess([{"d_acc_real": 0.7, "d_acc_fake": 0.8}] * WINDOW, [0.1] * 7 + [0.5],
                  loss="ns", ada=False) == []  # fmt: skip
    overfit = [{"d_acc_real": 0.9, "d_acc_fake": 0.9, "ada_rt": 0.95}] * WINDOW
    assert [f.kind for f in assess(overfit, [0.9] * WINDOW, loss="ns", ada=True)] == ["d_overfits"]


def _replay(name: str, loss: str = "ns", ada: bool = False) -> set[str]:
    """The monitor's verdicts over a whole real run, from its recorded log
    (scripts/record_monitor_logs.py wrote tests/data/monitor/NAME.jsonl)."""
    import json
    from pathlib import Path

    path = Path(__file__).parent / "data" / "monitor" / f"{name}.jsonl"
    records = [json.loads(x) for x in path.read_text().splitlines()]
    history: list[dict] = []
    variety: list[float] = []
    kinds: set[str] = set()
    for r in records:
        if "event" not in r:
            history.append(r)
        elif r["event"] == "monitor":
            variety.append(r["sample_diversity"])
            kinds |= {
                f.kind for f in assess(history[-WINDOW:], variety[-WINDOW:], loss=loss, ada=ada)
            }
    return kinds


def test_the_monitor_is_silent_on_healthy_presets_and_fires_on_the_tutorial_gan():
    for healthy in ("dcgan-mnist", "gan-ring8", "mlp-mnist", "stylegan-mnist"):
        assert _replay(healthy) == set(), healthy
    assert "mode_collapse" in _replay("mlp-mnist-tutorial")
