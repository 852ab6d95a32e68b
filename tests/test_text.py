"""Text: the words corpus, text files, the text GAN, n-gram JSD, samples and one step."""

from __future__ import annotations

import dataclasses
import math
from collections import Counter

import pytest
import torch

import ganforge.data.text  # noqa: F401  (registers "words")
import ganforge.models.textgan  # noqa: F401  (registers "textgan")
from ganforge.core.config import DataConfig, LossConfig, ModelConfig, OptimConfig
from ganforge.data.text import (
    PAD,
    UNK,
    WORDS_VOCAB,
    build_vocab,
    decode,
    encode,
    load_text_file,
    load_words,
    words_corpus,
    words_vocabulary,
    wrap_words,
)
from ganforge.metrics.modality import (
    CharNgramModel,
    js_divergence,
    ngram_counts,
    ngram_jsd,
    text_scores,
    word_share,
)
from ganforge.models.textgan import build_textgan
from tests.conftest import tiny_config


def test_words_corpus_is_english_lines_with_a_heldout_split():
    train, heldout = words_corpus(32), words_corpus(32, "heldout")
    assert len(train) > 5000 and len(heldout) > 500
    assert all(0 < len(line) <= 32 for line in train + heldout)
    assert set("".join(train)) <= set(WORDS_VOCAB[1:])
    shared = set(train) & set(heldout)  # only short common phrases, no repeated paragraphs
    assert len(shared) < 0.05 * len(heldout)
    vocab = words_vocabulary()
    for w in ("the", "statement", "function", "value", "expression"):
        assert w in vocab
    data = load_words(DataConfig(spec="words", resolution=16))
    assert data.x.shape == (len(words_corpus(16)), len(WORDS_VOCAB), 16)
    assert torch.equal(data.x.sum(1), torch.ones(len(data), 16))  # one-hot per position
    assert decode(data.x[:50], data.vocab) == list(data.lines[:50])


def test_wrap_and_encode_round_trip():
    assert wrap_words("a bb ccc dddd".split(), 6) == ["a bb", "ccc", "dddd"]
    assert wrap_words(["abcdefgh"], 4) == ["abcd"]
    x = encode(["ab", "b a"], PAD + " ab", 4)
    assert x.shape == (2, 4, 4)
    assert x[0, 0, 2] == 1  # padding fills the tail
    assert decode(x, PAD + " ab") == ["ab", "b a"]
    with pytest.raises(ValueError, match="not in the vocabulary"):
        encode(["z"], PAD + "ab", 3)


def test_text_file_lines_mode_and_vocabulary(tmp_path):
    f = tmp_path / "names.txt"
    names = ["Zoë", "anna", "bob", "carl", "dina", "eve", "fred", "gina", "hal", "ivy"]
    f.write_text(
        "\n".join(names[:3]) + "\n\nchristopher-alexander\n" + "\n".join(names[3:]),
        encoding="utf-8",
    )
    data = load_text_file(f, DataConfig(spec=str(f), resolution=12))
    # >= 90 % of the lines fit in L: one item per line, the long one cut at L
    assert data.lines == (*names[:3], "christopher-", *names[3:])
    assert data.vocab == PAD + "".join(sorted(set("".join(data.lines))))
    assert data.x.shape == (11, len(data.vocab), 12)
    assert decode(data.x, data.vocab) == list(data.lines)


def test_text_file_wrapped_mode_unk_and_errors(tmp_path):
    prose = tmp_path / "prose.txt"
    prose.write_text("word " * 40 + "\n" + "other " * 30, encoding="utf-8")  # 2 long lines
    data = load_text_file(prose, DataConfig(spec=str(prose), resolution=16))
    assert all(len(s) <= 16 for s in data.lines) and data.lines[0] == "word word word"
    many = "".join(chr(0x4E00 + i) * (i + 1) for i in range(200))
    vocab = build_vocab(many, max_vocab=50)
    assert len(vocab) == 50 and vocab[-1] == UNK and chr(0x4E00 + 199) in vocab
    assert chr(0x4E00) not in vocab  # the rarest character became UNK
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("caf\xe9\n".encode("latin-1"))
    with pytest.raises(ValueError, match="latin1.txt: not UTF-8"):
        load_text_file(bad, DataConfig(spec=str(bad)))


def test_textgan_shapes_softmax_and_vocab_binding(tmp_path):
    torch.manual_seed(0)
    G, D = build_textgan(z_dim=8, out_shape=(len(WORDS_VOCAB), 16), dim=8, n_blocks=2)
    x = G(torch.randn(4, 8))
    assert x.shape == (4, len(WORDS_VOCAB), 16)
    torch.testing.assert_close(x.sum(1), torch.ones(4, 16))
    assert D(x).shape == (4,)
    assert G.vocab == WORDS_VOCAB  # the words vocabulary until data is bound
    G2, _ = build_textgan(z_dim=8, out_shape=(4, 16), dim=8, n_blocks=1)
    G2.bind_data(type("Data", (), {"vocab": PAD + "xyz"})())
    G3, _ = build_textgan(z_dim=8, out_shape=(4, 16), dim=8, n_blocks=1)
    G3.load_state_dict(G2.state_dict())  # the vocabulary travels in the state dict
    assert G3.vocab == PAD + "xyz"
    with pytest.raises(ValueError, match="5 symbols"):
        G2.bind_data(type("Data", (), {"vocab": PAD + "abcd"})())
    lines = G3.decode(G3(torch.randn(3, 8)))
    assert len(lines) == 3 and set("".join(lines)) <= set("xyz")
    out = G3.write_samples(G3(torch.randn(3, 8)), tmp_path / "samples" / "step_0000005.png")
    assert out.name == "step_0000005.txt"
    assert len(out.read_text(encoding="utf-8").splitlines()) == 3


def test_ngram_jsd_closed_forms():
    assert ngram_jsd(["abcd", "bcda"], ["abcd", "bcda"], 2) == pytest.approx(0.0, abs=1e-12)
    assert ngram_jsd(["aaaa"], ["bbbb"], 1) == pytest.approx(1.0)  # disjoint: 1 bit
    assert ngram_jsd(["aaaa"], ["bbbb"], 3, base=math.e) == pytest.approx(math.log(2))
    # P = {a: 1}, Q = {a: 1/2, b: 1/2}, M = {a: 3/4, b: 1/4}
    expected = 0.5 * math.log2(4 / 3) + 0.5 * (0.5 * math.log2(2 / 3) + 0.5 * math.log2(2))
    assert js_divergence(Counter(a=3), Counter(a=1, b=1)) == pytest.approx(expected)
    assert ngram_counts(["ab", "cd"], 2) == Counter(ab=1, cd=1)  # never across lines
    assert js_divergence(Counter(), Counter(a=1)) == pytest.approx(1.0)


def test_word_share_and_text_scores():
    vocab = {"the", "value", "is"}
    assert word_share(["the value is", "the valeu"], vocab) == pytest.approx(4 / 5)
    assert word_share(["  ,. "], vocab) == 0.0
    s = text_scores(["the value"], ["the value"])
    assert s["js1"] == pytest.approx(0.0, abs=1e-12) and s["word_share"] == 1.0


def test_char_ngram_baseline_samples_from_its_corpus():
    model = CharNgramModel(2).fit(["abab", "ab"])
    lines = model.sample(20, 8, seed=0)
    assert all(line.startswith("a") and set(line) <= {"a", "b"} for line in lines)
    assert all("aa" not in line and "bb" not in line for line in lines)  # unseen bigrams
    assert model.sample(20, 8, seed=0) == lines


def _words_cfg(**kw):
    cfg = tiny_config(
        steps=2,
        batch_size=8,
        data=DataConfig(spec="words", resolution=16),
        model=ModelConfig(name="textgan", z_dim=8, args={"dim": 8, "n_blocks": 1}),
        loss=LossConfig(name="wgan-gp"),
        optim=OptimConfig(lr_g=1e-4, lr_d=1e-4, beta1=0.5, beta2=0.9, d_steps=2),
    )
    return dataclasses.replace(cfg, log=dataclasses.replace(cfg.log, sample_every=2), **kw)


def test_trainer_step_on_words(tmp_path):
    from ganforge.training.trainer import Trainer

    trainer = Trainer(_words_cfg(), tmp_path / "run")
    before = [p.clone() for p in trainer.G.parameters()]
    trainer.run()
    assert any(not torch.equal(a, b) for a, b in zip(before, trainer.G.parameters(), strict=True))
    lines = (tmp_path / "run" / "samples" / "step_0000002.txt").read_text().splitlines()
    assert len(lines) == trainer.cfg.log.n_samples
    assert (tmp_path / "run" / "samples.txt").is_file()


def test_cli_trains_preset_and_samples_text(tmp_path):
    from ganforge.cli import main

    run = tmp_path / "run"
    args = ["--set", "model.args.dim=8", "--set", "model.args.n_blocks=1"]
    args += ["--set", "batch_size=8", "--set", "optim.d_steps=1", "--no-progress"]
    assert main(["train", "textgan-words", "--out", str(run), "--steps", "1", *args]) == 0
    assert main(["sample", str(run), "-n", "5", "--out", str(tmp_path / "s.txt")]) == 0
    lines = (tmp_path / "s.txt").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 5 and set("".join(lines)) <= set(WORDS_VOCAB)
