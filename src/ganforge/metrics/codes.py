"""Scores of coded and class-conditional generators through a classifier: how well a learned
categorical code matches the classes (InfoGAN, Chen et al. 2016, section 7.1) and how often
a class-conditional G draws the class it was asked for."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from ganforge.models.base import Generator
from ganforge.sampling.controls import sample_class

Tensor = torch.Tensor


@torch.no_grad()
def predict_labels(classifier: nn.Module, x: Tensor, batch_size: int = 500) -> Tensor:
    """Arg-max predictions (N,) of ``classifier`` (images in [-1, 1] -> logits) in eval mode."""
    was = classifier.training
    classifier.eval()
    dev = next(classifier.parameters()).device
    preds = [
        classifier(x[i : i + batch_size].to(dev)).argmax(1).cpu()
        for i in range(0, len(x), batch_size)
    ]
    classifier.train(was)
    return torch.cat(preds) if preds else torch.empty(0, dtype=torch.long)


def categorical_code_accuracy(
    G: Generator,
    classifier: nn.Module,
    *,
    code: str = "cat0",
    n_per_value: int = 500,
    seed: int = 0,
    num_classes: int | None = None,
) -> dict[str, Any]:
    """How well a learned categorical code matches the classifier's classes (InfoGAN's
    unsupervised classification, paper section 7.1).

    For every value ``k`` of ``code``, ``n_per_value`` images are generated with the rest
    of the latent random; the classifier labels them. The one-to-one map code value ->
    class maximising agreement (Hungarian method, ``scipy.optimize.linear_sum_assignment``)
    gives the accuracy: the share of images whose predicted class is their code value's.

    Returns:
        ``{"acc": float, "mapping": [class of value 0, ...], "confusion": (K, C) list}``.
    """
    from scipy.optimize import linear_sum_assignment

    spec = G.code(code)  # type: ignore[attr-defined]
    if spec.kind != "categorical":
        raise ValueError(f"code {code!r} is continuous; the matching needs a categorical code")
    k = spec.dim
    preds = []
    for v in range(k):
        z = G.make_latents(n_per_value, seed=seed * 1000 + v, codes={code: v})  # type: ignore[attr-defined]
        preds.append(predict_labels(classifier, G.generate(z)))
    n_cls = int(num_classes or max(k, int(max(int(p.max()) for p in preds)) + 1))
    conf = np.zeros((k, n_cls), dtype=np.int64)
    for v, p in enumerate(preds):
        conf[v] = np.bincount(p.numpy(), minlength=n_cls)[:n_cls]
    rows, cols = linear_sum_assignment(-conf)
    mapping = [-1] * k
    for r, c in zip(rows, cols, strict=True):
        mapping[int(r)] = int(c)
    acc = float(conf[rows, cols].sum() / conf.sum())
    return {"acc": acc, "mapping": mapping, "confusion": conf.tolist()}


def per_class_accuracy(
    G: Generator,
    classifier: nn.Module,
    *,
    classes: list[int] | None = None,
    n_per_class: int = 200,
    seed: int = 0,
) -> dict[str, Any]:
    """The classifier's accuracy on generated images of each requested class (cgan).

    Returns:
        ``{"per_class": {k: acc}, "mean": float, "min": float}``.
    """
    ks = list(range(G.num_classes)) if classes is None else [int(c) for c in classes]  # type: ignore[attr-defined]
    res = {}
    for k in ks:
        x = sample_class(G, n_per_class, k, seed=seed * 1000 + k)
        res[k] = float((predict_labels(classifier, x) == k).float().mean())
    vals = list(res.values())
    return {"per_class": res, "mean": float(np.mean(vals)), "min": float(np.min(vals))}
