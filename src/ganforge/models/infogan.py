"""InfoGAN (Chen, Duan, Houthooft, Schulman, Sutskever & Abbeel, NeurIPS 2016).

G's input is the concatenation of incompressible noise ``z`` and structured latent codes
``c`` — categorical codes (one-hot, uniform prior) and continuous codes (Uniform(-1, 1)
prior). A recognition network ``Q(c | x)`` that shares every layer of D but the last
predicts the codes back from generated images; maximising the variational lower bound
of the mutual information ``I(c; G(z, c))`` (i.e. minimising the cross-entropy of the
categorical codes and the Gaussian negative log-likelihood of the continuous codes)
makes the codes control interpretable factors: on MNIST the 10-way code picks the digit,
the continuous codes rotation and stroke width.

Architecture (paper, appendix C.1, MNIST) at 28x28 — other ``4*2^k`` / ``7*2^k``
resolutions add stride-2 stages, and non-square images (power-of-two aspect) start from
an ``h0 x w0`` block (:func:`~ganforge.models.dcgan.plan_shape`):

* G: FC 1024-BN-ReLU, FC ``h0*w0*2*ngf``-BN-ReLU, stride-2 4x4 deconvs with BN-ReLU,
  a last deconv to C channels and tanh (the library's [-1, 1] range).
* D trunk: stride-2 4x4 convs with LeakyReLU(0.1) (BN from the second), FC 1024-BN-LReLU;
  D head: FC to one logit; Q head: FC 128-BN-LReLU, FC to the code parameters.

Latent convention in this library: ``G.z_dim`` is the *full* input size
(noise + sum(cat_dims) + cont_dim), so that ``G(G.make_z(n))``, ``G.sample`` and
``ganforge.load`` work as for every other generator; ``G.noise_dim`` is the config's
``model.z_dim`` (62 in the paper). :meth:`InfoGANGenerator.make_z` draws codes from their
priors (not Gaussians); :meth:`InfoGANGenerator.make_latents` fixes chosen codes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ganforge.core.registry import MODELS
from ganforge.models.base import Generator
from ganforge.models.dcgan import init_dcgan_weights, plan_shape, upsampling_layers

Tensor = torch.Tensor


@dataclass(frozen=True)
class CodeSpec:
    """One latent code: its name, kind and the columns it occupies in the latent vector.

    Attributes:
        name: ``cat0``, ``cat1`` ... for categorical codes, ``cont0``, ``cont1`` ... for
            continuous ones (the names ``ganforge sample --traverse`` takes).
        kind: ``"categorical"`` or ``"continuous"``.
        dim: number of categories (categorical) or 1 (each continuous code is one column).
        start: first column in the full latent vector.
    """

    name: str
    kind: str
    dim: int
    start: int

    @property
    def stop(self) -> int:
        return self.start + self.dim


def build_code_layout(noise_dim: int, cat_dims: Sequence[int], cont_dim: int) -> list[CodeSpec]:
    """Codes after the noise columns: categorical codes first, then continuous ones."""
    layout: list[CodeSpec] = []
    col = int(noise_dim)
    for i, k in enumerate(cat_dims):
        if int(k) < 2:
            raise ValueError(f"infogan cat_dims entries must be >= 2, got {list(cat_dims)}")
        layout.append(CodeSpec(f"cat{i}", "categorical", int(k), col))
        col += int(k)
    for i in range(int(cont_dim)):
        layout.append(CodeSpec(f"cont{i}", "continuous", 1, col))
        col += 1
    return layout


class CodedLatents:
    """Mixin for generators whose latent is ``[noise | one-hot / continuous codes]``.

    Subclasses set ``noise_dim``, ``code_layout`` and ``z_dim`` (the full width). Shared by
    InfoGAN (codes drawn from their priors) and the class-conditional G (one
    categorical code: the class).
    """

    noise_dim: int
    code_layout: list[CodeSpec]
    z_dim: int

    def code(self, name: str) -> CodeSpec:
        """The :class:`CodeSpec` called ``name``; unknown names list the valid ones."""
        for spec in self.code_layout:
            if spec.name == name:
                return spec
        valid = ", ".join(s.name for s in self.code_layout) or "(none)"
        raise ValueError(f"unknown latent code {name!r}; this generator's codes: {valid}")

    def draw_latents(self, n: int, generator: torch.Generator) -> Tensor:
        """(n, z_dim) latents: N(0, 1) noise, uniform categories, Uniform(-1, 1) codes.

        The draws happen in a fixed order (noise, then each code in layout order) from
        ``generator`` on the CPU, so a seed gives the same latents on every device.
        """
        parts = [torch.randn(n, self.noise_dim, generator=generator)]
        for spec in self.code_layout:
            if spec.kind == "categorical":
                idx = torch.randint(spec.dim, (n,), generator=generator)
                parts.append(F.one_hot(idx, spec.dim).float())
            else:
                parts.append(torch.rand(n, 1, generator=generator) * 2 - 1)
        return torch.cat(parts, dim=1)

    def make_z(self, n: int, *, seed: int | None = None) -> Tensor:
        """Full latents (n, z_dim): noise plus codes drawn from their priors."""
        gen = torch.Generator()
        if seed is None:
            gen.seed()
        else:
            gen.manual_seed(int(seed))
        return self.draw_latents(n, gen)

    def make_latents(
        self,
        n: int,
        *,
        seed: int | None = None,
        codes: Mapping[str, int | float | Sequence[float] | Tensor] | None = None,
    ) -> Tensor:
        """Latents (n, z_dim) with some codes fixed and the rest drawn as in :meth:`make_z`.

        Args:
            n: number of latents.
            seed: seeds the noise and the codes that are not fixed.
            codes: ``{name: value}``; a categorical value is a category index (int, or a
                (n,) tensor of indices), a continuous value a float or (n,) tensor (values
                outside the prior's [-1, 1] extrapolate, as the paper's traversals do).

        Returns:
            (n, z_dim) float32 on the CPU.
        """
        z = self.make_z(n, seed=seed)
        for name, value in (codes or {}).items():
            spec = self.code(name)
            v = torch.as_tensor(value)
            if v.dim() == 0:
                v = v.expand(n)
            if v.shape != (n,):
                raise ValueError(f"code {name!r}: expected a scalar or {n} values, got {v.shape}")
            if spec.kind == "categorical":
                idx = v.long()
                if bool((idx < 0).any() or (idx >= spec.dim).any()):
                    raise ValueError(f"code {name!r} takes categories 0..{spec.dim - 1}")
                z[:, spec.start : spec.stop] = F.one_hot(idx, spec.dim).float()
            else:
                z[:, spec.start] = v.float()
        return z

    def split_latents(self, z: Tensor) -> tuple[Tensor, Tensor | None, Tensor | None]:
        """Latents (N, z_dim) -> (noise (N, noise_dim), category indices (N, n_cat) long
        or None, continuous codes (N, n_cont) or None)."""
        cats = [
            z[:, s.start : s.stop].argmax(1) for s in self.code_layout if s.kind == "categorical"
        ]
        conts = [z[:, s.start] for s in self.code_layout if s.kind == "continuous"]
        return (
            z[:, : self.noise_dim],
            torch.stack(cats, 1) if cats else None,
            torch.stack(conts, 1) if conts else None,
        )


class InfoGANGenerator(CodedLatents, Generator):
    """Latents (N, z_dim = noise + codes) -> images (N, C, R, R) in [-1, 1].

    Attributes:
        noise_dim: incompressible noise size (the config's ``model.z_dim``).
        code_layout: list of :class:`CodeSpec`, categorical codes first.
    """

    def __init__(
        self,
        noise_dim: int,
        out_shape: tuple[int, ...],
        cat_dims: Sequence[int] = (10,),
        cont_dim: int = 2,
        ngf: int = 64,
        fc_dim: int = 1024,
    ) -> None:
        layout = build_code_layout(noise_dim, cat_dims, cont_dim)
        z_dim = layout[-1].stop if layout else int(noise_dim)
        super().__init__(z_dim, out_shape)
        self.noise_dim = int(noise_dim)
        self.code_layout = layout
        self.cat_dims = [int(k) for k in cat_dims]
        self.cont_dim = int(cont_dim)
        c_out, h, w = out_shape
        h0, w0, n_up = plan_shape(h, w, "infogan")
        chans = [ngf * 2 ** (n_up - 1 - i) for i in range(n_up)]  # 28x28: [128, 64]
        self.h0, self.w0, self.c0 = h0, w0, chans[0]
        self.fc = nn.Sequential(
            nn.Linear(z_dim, fc_dim, bias=False),
            nn.BatchNorm1d(fc_dim),
            nn.ReLU(True),
            nn.Linear(fc_dim, chans[0] * h0 * w0, bias=False),
            nn.BatchNorm1d(chans[0] * h0 * w0),
            nn.ReLU(True),
        )
        layers: list[nn.Module] = []
        layers += upsampling_layers(chans, c_out)
        self.net = nn.Sequential(*layers)
        self.apply(init_dcgan_weights)

    def forward(self, z: Tensor) -> Tensor:
        h = self.fc(z.reshape(z.shape[0], self.z_dim))
        return self.net(h.view(-1, self.c0, self.h0, self.w0))


@dataclass
class QOutput:
    """Q's code predictions for a batch.

    Attributes:
        cat_logits: one (N, K_i) tensor per categorical code.
        cont_mean: (N, n_cont) Gaussian means, or None without continuous codes.
        cont_log_std: (N, n_cont) log standard deviations (zeros when the std is fixed).
    """

    cat_logits: list[Tensor]
    cont_mean: Tensor | None
    cont_log_std: Tensor | None


class InfoGANDiscriminator(nn.Module):
    """Images (N, C, H, W) -> logits (N,); with ``with_q=True`` also Q's code predictions.

    D and Q share the trunk (paper section 5: Q costs one extra FC layer over D).
    """

    def __init__(
        self,
        in_shape: tuple[int, ...],
        cat_dims: Sequence[int] = (10,),
        cont_dim: int = 2,
        ndf: int = 64,
        fc_dim: int = 1024,
        q_dim: int = 128,
        learn_std: bool = False,
    ) -> None:
        super().__init__()
        c_in, h, w = in_shape
        h0, w0, n_down = plan_shape(h, w, "infogan")
        layers: list[nn.Module] = []
        c = c_in
        for i in range(n_down):
            ch = ndf * 2**i
            layers.append(nn.Conv2d(c, ch, 4, 2, 1, bias=i == 0))
            if i > 0:
                layers.append(nn.BatchNorm2d(ch))
            layers.append(nn.LeakyReLU(0.1, inplace=True))
            c = ch
        self.trunk = nn.Sequential(
            *layers,
            nn.Flatten(),
            nn.Linear(c * h0 * w0, fc_dim, bias=False),
            nn.BatchNorm1d(fc_dim),
            nn.LeakyReLU(0.1, inplace=True),
        )
        self.d_head = nn.Linear(fc_dim, 1)
        self.cat_dims = [int(k) for k in cat_dims]
        self.cont_dim = int(cont_dim)
        self.learn_std = bool(learn_std)
        n_out = sum(self.cat_dims) + self.cont_dim * (2 if learn_std else 1)
        self.q_head = nn.Sequential(
            nn.Linear(fc_dim, q_dim, bias=False),
            nn.BatchNorm1d(q_dim),
            nn.LeakyReLU(0.1, inplace=True),
            nn.Linear(q_dim, n_out),
        )
        self.apply(init_dcgan_weights)

    def forward(self, x: Tensor, with_q: bool = False) -> Tensor | tuple[Tensor, QOutput]:
        h = self.trunk(x)
        logits = self.d_head(h).flatten()
        if not with_q:
            return logits
        return logits, self.q_from_features(h)

    def q_from_features(self, h: Tensor) -> QOutput:
        out = self.q_head(h)
        cats = list(torch.split(out[:, : sum(self.cat_dims)], self.cat_dims, dim=1))
        rest = out[:, sum(self.cat_dims) :]
        if self.cont_dim == 0:
            return QOutput(cats, None, None)
        mean = rest[:, : self.cont_dim]
        if self.learn_std:
            # Bounded below so the NLL cannot run off to -inf on an over-confident Q.
            log_std = rest[:, self.cont_dim :].clamp(min=-5.0, max=5.0)
        else:
            log_std = torch.zeros_like(mean)
        return QOutput(cats, mean, log_std)


def mutual_info_loss(
    q: QOutput,
    cat_idx: Tensor | None,
    cont: Tensor | None,
    *,
    lambda_cat: float = 1.0,
    lambda_cont: float = 1.0,
) -> tuple[Tensor, dict[str, Tensor]]:
    """Negative variational MI lower bound, up to the constant entropy H(c) (paper eq. 5).

    Categorical codes: cross-entropy of Q's logits against the sampled category (mean over
    the batch, summed over codes). Continuous codes: factored Gaussian negative
    log-likelihood ``log sigma + (c - mu)^2 / (2 sigma^2)`` (constant dropped; mean over
    the batch, summed over codes).

    Args:
        q: Q's predictions on the generated batch.
        cat_idx: (N, n_cat) sampled categories, or None.
        cont: (N, n_cont) sampled continuous codes, or None.
        lambda_cat, lambda_cont: the weights of the two parts.

    Returns:
        ``(weighted loss scalar, {"info_cat": ..., "info_cont": ..., "q_cat_acc": ...})``
        with the unweighted parts detached for logging.
    """
    dev = q.cat_logits[0].device if q.cat_logits else q.cont_mean.device  # type: ignore[union-attr]
    zero = torch.zeros((), device=dev)
    l_cat, acc = zero, zero
    if q.cat_logits:
        assert cat_idx is not None
        for i, logits in enumerate(q.cat_logits):
            l_cat = l_cat + F.cross_entropy(logits.float(), cat_idx[:, i])
            acc = acc + (logits.argmax(1) == cat_idx[:, i]).float().mean()
        acc = acc / len(q.cat_logits)
    l_cont = zero
    if q.cont_mean is not None:
        assert cont is not None and q.cont_log_std is not None
        mu, log_std = q.cont_mean.float(), q.cont_log_std.float()
        nll = log_std + 0.5 * ((cont - mu) * torch.exp(-log_std)) ** 2
        l_cont = nll.sum(1).mean()
    total = lambda_cat * l_cat + lambda_cont * l_cont
    logs = {"info_cat": l_cat.detach(), "info_cont": l_cont.detach(), "q_cat_acc": acc.detach()}
    return total, logs


def real_cluster_loss(cat_logits: Sequence[Tensor]) -> tuple[Tensor, Tensor]:
    """Regularized information maximisation on real images (Krause et al. 2010).

    For each categorical code with Q's logits (N, K) on a real batch:
    ``E_x[H(p(c|x))] - H(E_x[p(c|x)])`` — confident predictions per image, balanced use
    of the K categories over the batch; its minimum ``-log K`` is reached by a confident,
    uniform clustering. Summed over codes.

    Returns:
        ``(loss scalar, mean conditional entropy H(c|x) detached for logging)``.
    """
    loss = cat_logits[0].new_zeros((), dtype=torch.float32)
    cond = loss.detach()
    for logits in cat_logits:
        logp = F.log_softmax(logits.float(), dim=1)
        p = logp.exp()
        h_cond = -(p * logp).sum(1).mean()
        marg = p.mean(0)
        h_marg = -(marg * marg.clamp_min(1e-12).log()).sum()
        loss = loss + h_cond - h_marg
        cond = cond + h_cond.detach()
    return loss, cond


@MODELS.register("infogan")
def build_infogan(
    *,
    z_dim: int,
    out_shape: tuple[int, ...],
    cat_dims: Sequence[int] = (10,),
    cont_dim: int = 2,
    learn_std: bool = False,
    ngf: int = 64,
    ndf: int = 64,
    fc_dim: int = 1024,
    q_dim: int = 128,
) -> tuple[Generator, nn.Module]:
    """InfoGAN (Chen et al. 2016): noise + categorical/continuous codes, Q head on D's trunk.

    The loss weights (``lambda_cat``, ``lambda_cont``, ...) are the ``infogan`` objective's
    (``objective.args``, :class:`ganforge.training.objectives.infogan.InfoGANArgs`).

    Args:
        z_dim: incompressible noise size (the paper uses 62 on MNIST); ``G.z_dim`` becomes
            ``z_dim + sum(cat_dims) + cont_dim``.
        out_shape: (C, H, W), the shorter side 4*2^k or 7*2^k, the aspect a power of two.
        cat_dims: number of categories of each categorical code.
        cont_dim: number of continuous Uniform(-1, 1) codes.
        learn_std: let Q predict the continuous codes' std (else fixed at 1, as the
            official MNIST experiment).
        ngf, ndf: conv widths (the paper: 64); fc_dim, q_dim: FC widths (1024, 128).
    """
    if len(out_shape) != 3:
        raise ValueError(f"the 'infogan' model generates images (C, H, W), not {out_shape}")
    plan_shape(out_shape[1], out_shape[2], "infogan")
    cat_dims = [int(k) for k in cat_dims]
    if not cat_dims and cont_dim == 0:
        raise ValueError("infogan needs at least one code: set cat_dims and/or cont_dim")
    G = InfoGANGenerator(z_dim, out_shape, cat_dims, cont_dim, ngf, fc_dim)
    D = InfoGANDiscriminator(out_shape, cat_dims, cont_dim, ndf, fc_dim, q_dim, learn_std)
    return G, D
