"""Class-conditional GANs: projection discriminator and AC-GAN, one family ``cgan``.

* ``mode="projection"`` — Miyato & Koyama, "cGANs with Projection Discriminator", ICLR
  2018: ``D(x, y) = psi(phi(x)) + <embed(y), phi(x)>``, the inner product taking the
  place of concatenating the label, which the paper shows to fit the log density ratio
  of a conditional model far better.
* ``mode="acgan"`` — Odena, Olah & Shlens, "Conditional Image Synthesis with Auxiliary
  Classifier GANs", ICML 2017: D has an auxiliary classifier head; both nets also
  minimise its cross-entropy (D on real and fake, G on fake).

G is the DCGAN generator with conditional BatchNorm (de Vries et al. 2017; Miyato &
Koyama's G): every BatchNorm's scale and shift are affine functions of the class
one-hot; the one-hot is also concatenated to the noise at the input.

Latent convention (shared with InfoGAN, :class:`~ganforge.models.infogan.CodedLatents`):
``G.z_dim = noise + num_classes`` — the latent carries the class as a one-hot code named
``class`` — so ``G(G.make_z(n))``, ``G.sample(n, seed=)`` (random classes) and
``ganforge.load`` keep working; :meth:`ConditionalGenerator.sample_class` fixes the class.
Because G is linear in the one-hot, a soft one-hot (projection, interpolation between
classes) is meaningful too.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ganforge.core.registry import MODELS
from ganforge.models import meta_safe
from ganforge.models.base import Generator
from ganforge.models.dcgan import init_dcgan_weights, plan_shape
from ganforge.models.infogan import CodedLatents, CodeSpec

Tensor = torch.Tensor


class ConditionalBatchNorm2d(nn.Module):
    """BatchNorm without its own affine, then ``(1 + y @ W_gamma) * x_hat + y @ W_beta``.

    Shape:
        x (N, C, H, W), y (N, K) one-hot (or soft) -> (N, C, H, W).
    """

    def __init__(self, channels: int, num_classes: int) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(channels, affine=False)
        self.gamma = nn.Linear(num_classes, channels, bias=False)
        self.beta = nn.Linear(num_classes, channels, bias=False)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        g = 1 + self.gamma(y)[:, :, None, None]
        b = self.beta(y)[:, :, None, None]
        return g * self.bn(x) + b


class ConditionalGenerator(CodedLatents, Generator):
    """Latents (N, noise + K) -> images (N, C, H, W) in [-1, 1], class from the one-hot.

    Attributes:
        num_classes: K.
        noise_dim: the config's ``model.z_dim``.
    """

    def __init__(
        self,
        noise_dim: int,
        out_shape: tuple[int, ...],
        num_classes: int,
        ngf: int = 64,
        max_channels: int = 512,
    ) -> None:
        if num_classes < 2:
            raise ValueError(f"cgan needs num_classes >= 2, got {num_classes}")
        super().__init__(int(noise_dim) + int(num_classes), out_shape)
        self.noise_dim = int(noise_dim)
        self.num_classes = int(num_classes)
        self.code_layout = [CodeSpec("class", "categorical", self.num_classes, self.noise_dim)]
        c_out, h, w = out_shape
        h0, w0, n_up = plan_shape(h, w, "cgan")
        chans = [min(ngf * 2 ** (n_up - 1 - i), max_channels) for i in range(n_up)]
        self.inp = nn.ConvTranspose2d(self.z_dim, chans[0], (h0, w0), 1, 0, bias=False)
        self.ups = nn.ModuleList(
            nn.ConvTranspose2d(chans[i], chans[i + 1], 4, 2, 1, bias=False) for i in range(n_up - 1)
        )
        self.norms = nn.ModuleList(ConditionalBatchNorm2d(c, self.num_classes) for c in chans)
        self.out = nn.ConvTranspose2d(chans[-1], c_out, 4, 2, 1)
        for m in self.modules():  # the CBN's own BatchNorm has no affine to initialise
            if not isinstance(m, nn.BatchNorm2d):
                init_dcgan_weights(m)
        for norm in self.norms:  # start as plain BatchNorm: scale 1, shift 0
            nn.init.zeros_(norm.gamma.weight)
            nn.init.zeros_(norm.beta.weight)

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        """Args: z (N, z_dim); y optional (N,) class indices overriding z's one-hot."""
        z = z.reshape(z.shape[0], self.z_dim)
        if y is not None:
            onehot = F.one_hot(y.long(), self.num_classes).to(z.dtype)
            z = torch.cat([z[:, : self.noise_dim], onehot], 1)
        onehot = z[:, self.noise_dim :]
        h = F.relu(self.norms[0](self.inp(z[:, :, None, None]), onehot))
        for up, norm in zip(self.ups, self.norms[1:], strict=True):
            h = F.relu(norm(up(h), onehot))
        return torch.tanh(self.out(h))

    def sample_class(
        self, n: int, class_id: int, *, seed: int | None = None, batch_size: int = 256
    ) -> Tensor:
        """``n`` images (n, C, H, W) in [-1, 1] of class ``class_id`` (CPU).

        With the same seed the noise equals that of ``sample(n, seed=)``; only the class
        changes, so grids of several classes share their styles.
        """
        if not 0 <= int(class_id) < self.num_classes:
            raise ValueError(f"class_id must be in 0..{self.num_classes - 1}, got {class_id}")
        z = self.make_latents(n, seed=seed, codes={"class": int(class_id)})
        return self.generate(z, batch_size=batch_size)


class ConditionalDiscriminator(nn.Module):
    """Images (N, C, H, W) [+ labels (N,)] -> logits (N,).

    ``phi``: DCGAN conv trunk (stride-2 4x4 convs, LeakyReLU(0.2)) then global sum
    pooling (Miyato & Koyama's ResNet D pools by summing); ``psi``: linear to one logit.
    Projection mode adds ``<embed(y), phi(x)>`` when labels are given (without labels —
    e.g. inside a gradient penalty, which the engine evaluates without them — D is the
    unconditional ``psi(phi(x))``). AC-GAN mode has a class head instead
    (:meth:`classify`).
    """

    def __init__(
        self,
        in_shape: tuple[int, ...],
        num_classes: int,
        mode: str = "projection",
        ndf: int = 64,
        max_channels: int = 512,
        batchnorm: bool = False,
        pool: str = "sum",
    ) -> None:
        super().__init__()
        if pool not in ("sum", "flatten"):
            raise ValueError(f"cgan D pool must be 'sum' or 'flatten', got {pool!r}")
        self.pool = pool
        if mode not in ("projection", "acgan"):
            raise ValueError(f"cgan mode must be 'projection' or 'acgan', got {mode!r}")
        self.mode = mode
        self.num_classes = int(num_classes)
        c_in, h, w = in_shape
        h0, w0, n_down = plan_shape(h, w, "cgan")
        layers: list[nn.Module] = []
        c = c_in
        for i in range(n_down):
            ch = min(ndf * 2**i, max_channels)
            layers.append(nn.Conv2d(c, ch, 4, 2, 1, bias=not (batchnorm and i > 0)))
            if batchnorm and i > 0:
                layers.append(nn.BatchNorm2d(ch))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            c = ch
        # One more 3x3 conv so phi sees the whole image before pooling.
        layers += [nn.Conv2d(c, c, 3, 1, 1), nn.LeakyReLU(0.2, inplace=True)]
        self.phi = nn.Sequential(*layers)
        c = c * h0 * w0 if pool == "flatten" else c
        self.psi = nn.Linear(c, 1)
        if mode == "projection":
            self.embed = nn.Embedding(
                self.num_classes, c, _weight=meta_safe.randn(self.num_classes, c)
            )
        else:
            self.cls = nn.Linear(c, self.num_classes)
        self.apply(init_dcgan_weights)
        if mode == "projection" and not self.embed.weight.is_meta:  # meta: a size-only build
            nn.init.normal_(self.embed.weight, 0.0, 0.02)

    def features(self, x: Tensor) -> Tensor:
        """phi(x): (N, C, H, W) -> (N, F): summed over positions, or flattened
        (F = C * h0 * w0)."""
        h = self.phi(x)
        return h.flatten(1) if self.pool == "flatten" else h.sum(dim=(2, 3))

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        h = self.features(x)
        logits = self.psi(h).flatten()
        if y is not None and self.mode == "projection":
            logits = logits + (self.embed(y.long()) * h).sum(1)
        return logits

    def classify(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """AC-GAN: ``(adversarial logits (N,), class logits (N, K))``."""
        if self.mode != "acgan":
            raise ValueError("classify() is the AC-GAN head; this D has mode='projection'")
        h = self.features(x)
        return self.psi(h).flatten(), self.cls(h)


@MODELS.register("cgan")
def build_cgan(
    *,
    z_dim: int,
    out_shape: tuple[int, ...],
    num_classes: int = 10,
    mode: str = "projection",
    ngf: int = 64,
    ndf: int = 64,
    max_channels: int = 512,
    d_batchnorm: bool = False,
    d_pool: str = "sum",
) -> tuple[Generator, nn.Module]:
    """Class-conditional DCGAN: projection D (Miyato & Koyama 2018) or AC-GAN (Odena 2017).

    Args:
        z_dim: noise size; ``G.z_dim`` becomes ``z_dim + num_classes``.
        out_shape: (C, H, W), the shorter side 4*2^k or 7*2^k, the aspect a power of two.
        num_classes: must equal the data's number of classes (the step checks it).
        mode: ``"projection"`` or ``"acgan"`` (the D head; the objective of the same name
            trains it, its ``lambda_cls`` in ``objective.args``).
        ngf, ndf, max_channels: widths; d_batchnorm: BatchNorm in D (off by default: it
            mixes real and fake statistics into the per-example projection term).
        d_pool: ``"sum"`` pools phi's last feature map over positions (Miyato & Koyama's
            ResNet D); ``"flatten"`` keeps the positions (the DCGAN D's last layer), which
            small D's at 28x28 need to tell digits apart (docs/infogan_conditional.md).
    """
    if len(out_shape) != 3:
        raise ValueError(f"the 'cgan' model generates images (C, H, W), not {out_shape}")
    plan_shape(out_shape[1], out_shape[2], "cgan")
    G = ConditionalGenerator(z_dim, out_shape, num_classes, ngf, max_channels)
    D = ConditionalDiscriminator(
        out_shape, num_classes, mode, ndf, max_channels, d_batchnorm, d_pool
    )
    return G, D
