"""Text data: the built-in ``words`` corpus and any UTF-8 text file, as one-hot sequences.

Items are character sequences of length ``L`` encoded one-hot: ``x`` is float32
(N, V, L), where ``V`` counts the vocabulary including index 0, the padding symbol that
fills lines shorter than ``L``. ``DataConfig.resolution`` is ``L`` (0 -> 32, the length
Gulrajani et al. 2017 use for their character-level WGAN-GP).

* ``words`` (built-in): English prose of the Python language reference that ships with
  every CPython as ``pydoc_data.topics`` (the text behind ``help("if")``, ~470k chars).
  Python installs have no word list (no ``/usr/share/dict`` in slim images, no nltk
  data), but this text is always there and is real English. Only prose is kept: code
  blocks (indented) and heading rules are dropped, text is lower-cased, and only tokens
  made of letters (with inner ``-``/``'`` and a trailing ``.``/``,``) are kept. The
  tokens are word-wrapped into lines of at most ``L`` characters, so every line holds
  whole words. Every tenth paragraph is held out (:func:`words_corpus`) for the
  metrics and never trained on (paragraphs repeated across topics are kept once, so
  none leaks from one split into the other). Vocabulary: padding, space, ``a``-``z``, ``.,'-``.
* **Any UTF-8 text file** (:func:`load_text_file`), with its own character vocabulary
  (padding + every character in the file, by code point; when there are more than
  :data:`MAX_VOCAB` distinct characters the rarest become ``"\\ufffd"``). When at least
  90 % of its non-empty lines fit in ``L`` characters, each line is one item (a word
  list, names, short sentences; longer lines are cut at ``L``). Otherwise the text is
  whitespace-normalised and word-wrapped into lines of at most ``L`` characters, as for
  ``words``.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import torch

from ganforge.core.config import DataConfig
from ganforge.core.registry import DATASETS
from ganforge.data.base import TensorData

PAD = "\x00"
UNK = "\ufffd"
DEFAULT_LENGTH = 32
MAX_VOCAB = 128
LINES_MODE_SHARE = 0.9
WORDS_VOCAB = PAD + " abcdefghijklmnopqrstuvwxyz.,'-"
HELDOUT_EVERY = 10  # paragraph i is held out when i % 10 == 9

_TOKEN = re.compile(r"^[a-z]+(?:['-][a-z]+)*[.,]?$")


@dataclass
class TextData(TensorData):
    """:class:`TensorData` of one-hot text (N, V, L) plus what decodes it.

    Attributes:
        vocab: the V characters, ``vocab[0]`` is the padding symbol ``"\\x00"``.
        lines: the decoded training lines (padding removed), in item order.
    """

    vocab: str = ""
    lines: tuple[str, ...] = ()


def sequence_length(cfg: DataConfig) -> int:
    """The sequence length ``L`` a config asks for (``resolution``, 0 -> 32)."""
    length = cfg.resolution or DEFAULT_LENGTH
    if length < 2:
        raise ValueError(f"data.resolution={length} is too short for text; use e.g. 32")
    return int(length)


def wrap_words(tokens: list[str], length: int) -> list[str]:
    """Greedy word wrap: lines of whole tokens joined by spaces, each <= ``length`` chars
    (a token longer than ``length`` is cut)."""
    lines: list[str] = []
    cur = ""
    for tok in tokens:
        tok = tok[:length]
        if not cur:
            cur = tok
        elif len(cur) + 1 + len(tok) <= length:
            cur = f"{cur} {tok}"
        else:
            lines.append(cur)
            cur = tok
    if cur:
        lines.append(cur)
    return lines


def encode(lines: list[str], vocab: str, length: int) -> torch.Tensor:
    """Lines -> one-hot float32 (N, V, L); characters missing from ``vocab`` map to
    :data:`UNK` when the vocabulary has it, else raise ValueError."""
    index = {c: i for i, c in enumerate(vocab)}
    unk = index.get(UNK)
    ids = torch.zeros(len(lines), length, dtype=torch.long)  # 0 = padding
    for n, line in enumerate(lines):
        for t, ch in enumerate(line[:length]):
            i = index.get(ch, unk)
            if i is None:
                raise ValueError(f"character {ch!r} of line {n} is not in the vocabulary")
            ids[n, t] = i
    return torch.nn.functional.one_hot(ids, len(vocab)).permute(0, 2, 1).float()


def decode(x: torch.Tensor, vocab: str) -> list[str]:
    """One-hot or probabilities (N, V, L) -> strings (argmax per position; padding
    dropped, trailing spaces stripped)."""
    if x.dim() != 3 or x.shape[1] != len(vocab):
        raise ValueError(f"expected (N, {len(vocab)}, L) for a {len(vocab)}-symbol vocabulary")
    ids = x.argmax(1).tolist()
    return ["".join(vocab[i] for i in row if i != 0).rstrip() for row in ids]


_WORD = re.compile(r"[^\W\d_]+(?:['-][^\W\d_]+)*")


def split_words(line: str) -> list[str]:
    """The lower-cased words of a line: letter runs with inner ``'``/``-`` (no digits)."""
    return _WORD.findall(line.lower())


# ----------------------------------------------------------------------- words corpus


def _prose_paragraphs() -> list[list[str]]:
    """Token lists of the prose paragraphs of ``pydoc_data.topics``, in a fixed order."""
    try:
        from pydoc_data.topics import topics
    except ImportError as e:  # pragma: no cover - part of every CPython's stdlib
        raise ImportError(
            "the 'words' data set reads pydoc_data.topics from Python's standard library, "
            "which this Python install lacks; train on a text file instead (--data FILE.txt)"
        ) from e
    paragraphs: list[list[str]] = []
    seen: set[tuple[str, ...]] = set()
    for key in sorted(topics):
        for block in re.split(r"\n\s*\n", topics[key]):
            lines = block.splitlines()
            if not lines or lines[0].startswith((" ", "\t")):
                continue  # code examples and grammar productions are indented
            if any(set(ln.strip()) <= set("*=-~^") for ln in lines if ln.strip()):
                continue  # headings with their underline rules
            tokens = []
            for raw in " ".join(lines).lower().split():
                tok = raw.strip("\"'`()[]{}*:;!?.,")
                tail = raw[raw.rfind(tok) + len(tok) :] if tok else ""
                tok += "." if "." in tail else "," if "," in tail else ""  # keep end marks
                if _TOKEN.match(tok):
                    tokens.append(tok)
            if len(tokens) >= 5 and tuple(tokens) not in seen:
                # topics repeat whole paragraphs; a repeat would leak into the held-out split
                seen.add(tuple(tokens))
                paragraphs.append(tokens)
    return paragraphs


@functools.lru_cache(maxsize=8)
def _words_cached(length: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    paragraphs = _prose_paragraphs()
    train: list[str] = []
    heldout: list[str] = []
    for i, tokens in enumerate(paragraphs):
        (heldout if i % HELDOUT_EVERY == HELDOUT_EVERY - 1 else train).extend(
            wrap_words(tokens, length)
        )
    return tuple(train), tuple(heldout)


def words_corpus(length: int = DEFAULT_LENGTH, split: str = "train") -> list[str]:
    """Lines of the ``words`` corpus wrapped at ``length`` characters.

    Args:
        length: maximum line length L.
        split: ``"train"`` (9 paragraphs in 10) or ``"heldout"`` (every tenth).
    """
    train, heldout = _words_cached(int(length))
    if split not in ("train", "heldout"):
        raise ValueError(f"split must be 'train' or 'heldout', got {split!r}")
    return list(train if split == "train" else heldout)


def words_vocabulary() -> frozenset[str]:
    """Every word of the ``words`` training split (punctuation stripped): the reference
    vocabulary for :func:`ganforge.metrics.modality.word_share`."""
    return frozenset(w for line in words_corpus(DEFAULT_LENGTH) for w in split_words(line))


@DATASETS.register(
    "words",
    help="English prose of Python's reference manual (pydoc_data), L-char lines (L=resolution)",
)
def load_words(cfg: DataConfig) -> TextData:
    length = sequence_length(cfg)
    lines = words_corpus(length)
    return TextData(
        encode(lines, WORDS_VOCAB, length), None, "words", 0, vocab=WORDS_VOCAB, lines=tuple(lines)
    )


# ----------------------------------------------------------------------- text files


def build_vocab(text: str, max_vocab: int = MAX_VOCAB) -> str:
    """Padding + the characters of ``text`` sorted by code point; beyond ``max_vocab``
    symbols the rarest characters are replaced by :data:`UNK`."""
    counts = Counter(c for c in text if c not in "\n\r" and c != PAD)
    chars = sorted(counts)
    if len(chars) + 1 > max_vocab:
        keep = {c for c, _ in counts.most_common(max_vocab - 2)}
        chars = sorted(keep) + [UNK]
    return PAD + "".join(chars)


def text_items(text: str, length: int) -> tuple[list[str], str]:
    """Split ``text`` into items and say how: ``(lines, "lines" | "wrapped")``."""
    lines = [ln.rstrip() for ln in text.splitlines()]
    lines = [ln for ln in lines if ln.strip()]
    if lines and sum(len(ln) <= length for ln in lines) >= LINES_MODE_SHARE * len(lines):
        return [ln[:length] for ln in lines], "lines"
    return wrap_words(text.split(), length), "wrapped"


def load_text_file(path: str | Path, cfg: DataConfig) -> TextData:
    """Load a UTF-8 text file as one-hot sequences (N, V, L) with its own vocabulary.

    Args:
        path: the text file.
        cfg: ``resolution`` is L (0 -> 32).

    Raises:
        ValueError (DataError): the file is not UTF-8 or holds no text.
    """
    from ganforge.data.files import DataError

    path = Path(path)
    length = sequence_length(cfg)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise DataError(
            f"{path}: not UTF-8 text (byte {e.start}: {e.reason}); re-save it as UTF-8"
        ) from None
    items, _mode = text_items(text, length)
    if not items:
        raise DataError(f"{path}: holds no text")
    vocab = build_vocab("\n".join(items))
    return TextData(
        encode(items, vocab, length), None, str(path), 0, vocab=vocab, lines=tuple(items)
    )


def is_text_file(path: str | Path) -> bool:
    """Routing rule for :func:`ganforge.data.load_data`: a ``.txt``/``.text`` file."""
    p = Path(path)
    return p.is_file() and p.suffix.lower() in (".txt", ".text")
