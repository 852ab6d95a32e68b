"""Character-level text GAN without reinforcement learning: the 1-D convolutional WGAN-GP
language model of Gulrajani et al., "Improved Training of Wasserstein GANs" (NeurIPS
2017, section 6 and their ``gan_language.py``).

Items are sequences of ``L`` characters over a ``V``-symbol vocabulary (index 0 pads),
one-hot (N, V, L). G never samples discrete characters: it outputs a softmax over the
vocabulary at every position, and D (the critic) scores that continuous (N, V, L) tensor
against one-hot real data. With a WGAN-GP critic this trains by plain backpropagation —
no REINFORCE, no Gumbel trick — because the gradient penalty keeps the critic smooth
even though real inputs are vertices of the simplex and fake ones lie inside it.

G: a dense layer maps z to (dim, L); ``n_blocks`` residual blocks
``h + 0.3 * conv5(relu(conv5(relu(h))))`` (kernel 5, "same" padding); a 1x1 convolution
to V logits; softmax over V. D: a 1x1 convolution from V to dim, the same residual
blocks, and a dense layer from (dim x L) to one score. The paper uses dim 512, 5 blocks,
L = 32, batch 64, 10 critic updates per G update, Adam(1e-4, betas (0.5, 0.9)); ``dim``
scales it down for a CPU.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from ganforge.core.registry import MODELS
from ganforge.models.base import Generator

Tensor = torch.Tensor
RESIDUAL_SCALE = 0.3  # the paper's residual branch weight


class ResBlock1d(nn.Module):
    """``x + 0.3 * conv(relu(conv(relu(x))))`` on (N, dim, L), length preserved."""

    def __init__(self, dim: int, kernel: int = 5) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.ReLU(),
            nn.Conv1d(dim, dim, kernel, padding=kernel // 2),
            nn.ReLU(),
            nn.Conv1d(dim, dim, kernel, padding=kernel // 2),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + RESIDUAL_SCALE * self.body(x)


def _placeholder_vocab(size: int) -> str:
    """A vocabulary of ``size`` symbols used until real data is bound: the ``words``
    vocabulary when the size matches, else padding + printable placeholders."""
    from ganforge.data.text import PAD, WORDS_VOCAB

    if size == len(WORDS_VOCAB):
        return WORDS_VOCAB
    return PAD + "".join(chr(0x21 + (i % 94)) for i in range(size - 1))


class TextGenerator(Generator):
    """z (N, z_dim) -> per-position character probabilities (N, V, L) (softmax over V).

    The vocabulary that decodes its output is stored in the buffer ``vocab_codes``
    (V,) of Unicode code points, so checkpoints carry it and ``ganforge sample`` can write
    text. :meth:`bind_data` copies it from the training data.
    """

    sample_suffixes = (".txt",)

    def __init__(
        self, z_dim: int, out_shape: tuple[int, ...], dim: int = 128, n_blocks: int = 5
    ) -> None:
        super().__init__(z_dim, out_shape)
        vocab_size, length = out_shape
        self.dim, self.length = int(dim), int(length)
        self.fc = nn.Linear(z_dim, dim * length)
        self.blocks = nn.Sequential(*[ResBlock1d(dim) for _ in range(n_blocks)])
        self.to_logits = nn.Conv1d(dim, vocab_size, 1)
        codes = [ord(c) for c in _placeholder_vocab(vocab_size)]
        self.register_buffer("vocab_codes", torch.tensor(codes, dtype=torch.int64))

    def forward(self, z: Tensor) -> Tensor:
        h = self.fc(z).view(len(z), self.dim, self.length)
        return torch.softmax(self.to_logits(self.blocks(h)), dim=1)

    @property
    def vocab(self) -> str:
        """The V characters; ``vocab[0]`` is the padding symbol."""
        return "".join(chr(int(c)) for c in self.vocab_codes.tolist())

    def bind_data(self, data: Any) -> None:
        """Take the vocabulary of a :class:`~ganforge.data.text.TextData` (no-op for data
        without one).

        Raises:
            ValueError: the data's vocabulary size is not this G's V.
        """
        vocab = getattr(data, "vocab", "")
        if not vocab:
            return
        if len(vocab) != self.out_shape[0]:
            raise ValueError(
                f"data vocabulary has {len(vocab)} symbols but G was built for {self.out_shape[0]}"
            )
        codes = torch.tensor([ord(c) for c in vocab], dtype=torch.int64)
        self.vocab_codes.copy_(codes.to(self.vocab_codes.device))

    def decode(self, x: Tensor) -> list[str]:
        """Probabilities or one-hot (N, V, L) -> strings (argmax, padding dropped)."""
        from ganforge.data.text import decode

        return decode(x.detach().cpu(), self.vocab)

    def write_samples(self, x: Tensor, path: Path) -> Path:
        """Write decoded samples, one per line, UTF-8.

        ``path`` ending in ``.txt`` is written as given; any other name (the trainer's
        ``samples/step_XXXXXXX.png``) gets the ``.txt`` suffix instead.

        Returns:
            The text file written.
        """
        path = Path(path)
        if path.suffix.lower() != ".txt":
            path = path.with_suffix(".txt")
        path.parent.mkdir(parents=True, exist_ok=True)
        text = "\n".join(line.replace("\n", " ") for line in self.decode(x)) + "\n"
        path.write_text(text, encoding="utf-8")
        return path


class TextCritic(nn.Module):
    """(N, V, L) one-hot or probabilities -> critic scores (N,)."""

    def __init__(self, in_shape: tuple[int, ...], dim: int = 128, n_blocks: int = 5) -> None:
        super().__init__()
        vocab_size, length = in_shape
        self.from_onehot = nn.Conv1d(vocab_size, dim, 1)
        self.blocks = nn.Sequential(*[ResBlock1d(dim) for _ in range(n_blocks)])
        self.fc = nn.Linear(dim * length, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(self.blocks(self.from_onehot(x)).flatten(1)).squeeze(1)


@MODELS.register("textgan", help="char-level WGAN-GP with residual 1-D convs (Gulrajani 2017)")
def build_textgan(
    *,
    z_dim: int,
    out_shape: tuple[int, ...],
    dim: int = 128,
    d_dim: int = 0,
    n_blocks: int = 5,
) -> tuple[TextGenerator, TextCritic]:
    """Build the text G and critic for items of shape ``(V, L)``.

    Args:
        z_dim: latent size (128 in the paper).
        out_shape: ``(V, L)``: vocabulary size (with padding) and sequence length.
        dim: channels of G's residual blocks (512 in the paper).
        d_dim: channels of D's blocks (0 = ``dim``).
        n_blocks: residual blocks in each network (5 in the paper).
    """
    if len(out_shape) != 2:
        raise ValueError(f"textgan needs one-hot text items (V, L), got shape {out_shape}")
    if out_shape[0] < 2:
        raise ValueError(f"textgan needs a vocabulary of at least 2 symbols, got {out_shape[0]}")
    G = TextGenerator(z_dim, out_shape, dim, n_blocks)
    D = TextCritic(out_shape, d_dim or dim, n_blocks)
    return G, D
