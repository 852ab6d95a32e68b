from __future__ import annotations

import pytest

from ganforge.core.config import (
    ConfigError,
    TrainConfig,
    apply_override,
    dumps,
    load_toml,
    save_toml,
)
from ganforge.core.presets import PRESETS, load_preset_or_file


def test_toml_round_trip(tmp_path):
    cfg = TrainConfig()
    cfg = apply_override(cfg, "optim.lr_g=1e-3")
    cfg = apply_override(cfg, "model.args.ngf=32")
    cfg = apply_override(cfg, "eval.metrics=fid,kid")
    cfg = apply_override(cfg, "log.progress=false")
    save_toml(cfg, tmp_path / "c.toml")
    back = load_toml(tmp_path / "c.toml")
    assert back == cfg
    assert back.optim.lr_g == 1e-3
    assert back.model.args == {"ngf": 32}
    assert back.eval.metrics == ("fid", "kid")
    assert back.log.progress is False


def test_partial_toml_takes_defaults(tmp_path):
    (tmp_path / "p.toml").write_text("steps = 7\n[optim]\nlr_d = 0.01\n")
    cfg = load_toml(tmp_path / "p.toml")
    assert cfg.steps == 7 and cfg.optim.lr_d == 0.01 and cfg.optim.lr_g == TrainConfig().optim.lr_g


def test_unknown_key_in_file_lists_valid_keys(tmp_path):
    (tmp_path / "bad.toml").write_text("[optim]\nlearning_rate = 0.1\n")
    with pytest.raises(ConfigError) as e:
        load_toml(tmp_path / "bad.toml")
    msg = str(e.value)
    assert "bad.toml" in msg and "learning_rate" in msg and "lr_g" in msg


def test_wrong_type_in_file(tmp_path):
    (tmp_path / "bad.toml").write_text('steps = "many"\n')
    with pytest.raises(ConfigError, match="steps: expected int"):
        load_toml(tmp_path / "bad.toml")


@pytest.mark.parametrize(
    "assignment, match",
    [
        ("optim.lr_g=fast", "expected float"),
        ("steps=1.5", "expected int"),
        ("optim.nope=1", "Valid keys: name, lr_g"),
        ("optim=1", "is a table"),
        ("noequals", "key=value"),
    ],
)
def test_override_errors(assignment, match):
    with pytest.raises(ConfigError, match=match):
        apply_override(TrainConfig(), assignment)


def test_override_types():
    cfg = apply_override(TrainConfig(), "steps=12")
    assert cfg.steps == 12 and isinstance(cfg.steps, int)
    cfg = apply_override(cfg, "optim.lr_d=3")  # ints are accepted for floats
    assert cfg.optim.lr_d == 3.0 and isinstance(cfg.optim.lr_d, float)
    # list values: a comma list or a TOML array, the same tuple
    a = apply_override(cfg, "eval.metrics=fid5k_lenet,classes_mnist").eval.metrics
    b = apply_override(cfg, 'eval.metrics=["fid5k_lenet", "classes_mnist"]').eval.metrics
    assert a == b == ("fid5k_lenet", "classes_mnist")
    # strings: bare or TOML-quoted, never with the quotes kept; numbers stay text
    cases = [("a b.csv", "a b.csv"), ("'a b.csv'", "a b.csv"), ('"x"', "x"), ("12", "12")]
    for text, want in cases:
        assert apply_override(cfg, f"data.spec={text}").data.spec == want


def test_every_preset_loads_and_dumps():
    assert {"dcgan-mnist", "mlp-mnist", "gan-ring8", "gan-grid25"} <= set(PRESETS.names())
    for name in PRESETS.names():
        run_name, cfg = load_preset_or_file(name)
        assert run_name == name
        assert "[model]" in dumps(cfg)


def test_tutorial_preset_is_the_tutorial_model():
    _, cfg = load_preset_or_file("mlp-mnist-tutorial")
    assert cfg.model.name == "mlp" and cfg.loss.name == "ns" and cfg.optim.name == "adam"
    assert cfg.steps == 1000 and "d_hidden" not in cfg.model.args  # its conv D
