"""Target classifiers for the attacks: a small CNN, its trainer, and loading by name or file.

Classifiers in the library take images in [-1, 1] (the library's convention) and return
logits (N, K). Attacks work in [0, 1]; :class:`Range01` adapts one to the other.

The default attack target is the LeNet on mnist5k shipped with the metrics package
(``ganforge.metrics.lenet``); :class:`SmallCNN` is the architecture trained here when a
user brings their own data (two conv + two dense layers, the Keras/PyTorch MNIST example
network, ~99% on MNIST when trained on the full set).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ganforge.data.base import TensorData

__all__ = [
    "SmallCNN",
    "Range01",
    "accuracy",
    "train_classifier",
    "save_classifier",
    "load_classifier",
    "load_target",
    "KNOWN_ARCHITECTURES",
]


class SmallCNN(nn.Module):
    """conv3x3(w)-ReLU-pool, conv3x3(2w)-ReLU-pool, dense(hidden)-ReLU, dense(K).

    Args:
        in_channels: image channels C.
        num_classes: number of logits K.
        width: channels of the first conv (the second has ``2 * width``).
        img_size: square input side; must be divisible by 4.
        hidden: units of the hidden dense layer.

    Shape:
        (N, C, img_size, img_size) in [-1, 1] -> logits (N, K).
    """

    def __init__(
        self,
        in_channels: int = 1,
        num_classes: int = 10,
        width: int = 32,
        img_size: int = 28,
        hidden: int = 128,
    ) -> None:
        super().__init__()
        if img_size % 4:
            raise ValueError(f"SmallCNN needs img_size divisible by 4, got {img_size}")
        self.args = dict(
            in_channels=in_channels,
            num_classes=num_classes,
            width=width,
            img_size=img_size,
            hidden=hidden,
        )
        self.conv1 = nn.Conv2d(in_channels, width, 3, padding=1)
        self.conv2 = nn.Conv2d(width, 2 * width, 3, padding=1)
        self.fc1 = nn.Linear(2 * width * (img_size // 4) ** 2, hidden)
        self.fc2 = nn.Linear(hidden, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return self.fc2(F.relu(self.fc1(x.flatten(1))))

    @staticmethod
    def args_from_state_dict(sd: dict[str, torch.Tensor]) -> dict[str, int]:
        """Recover the constructor arguments from the weight shapes of a state dict."""
        width, in_channels = sd["conv1.weight"].shape[:2]
        hidden, flat = sd["fc1.weight"].shape
        side = int(round((flat / (2 * width)) ** 0.5))
        return dict(
            in_channels=int(in_channels),
            num_classes=int(sd["fc2.weight"].shape[0]),
            width=int(width),
            img_size=4 * side,
            hidden=int(hidden),
        )


class Range01(nn.Module):
    """Wrap a classifier on [-1, 1] images so that it takes [0, 1] images (``x * 2 - 1``).

    The wrapped model is a submodule, so ``.eval()``/``.to()`` and attacks' freezing reach it.
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x * 2 - 1)


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 500) -> float:
    """Top-1 accuracy of ``model`` on (N, C, H, W) inputs ``x`` and (N,) labels, eval mode.

    ``x`` must be in whatever range the model expects; the model's mode is restored.
    """
    from ganforge.apps.adversarial.attacks import predict

    if len(x) == 0:
        return float("nan")
    dev = next(model.parameters()).device if any(True for _ in model.parameters()) else x.device
    pred = predict(model, x.to(dev), batch_size)
    return (pred.cpu() == y.cpu()).float().mean().item()


def train_classifier(
    model: nn.Module,
    data: TensorData,
    *,
    epochs: int = 5,
    lr: float = 1e-3,
    batch_size: int = 64,
    seed: int = 0,
    val_fraction: float = 0.1,
    device: str | torch.device = "cpu",
    progress: bool = False,
) -> dict[str, Any]:
    """Train ``model`` with Adam and cross-entropy on ``data`` (images as stored, [-1, 1]).

    A seeded ``val_fraction`` of the items is held out for the validation accuracy; the
    shuffling and the initial weights (when the caller seeded before building) make runs
    repeatable on the CPU.

    Args:
        model: classifier mapping ``data.x`` batches to logits (N, K); trained in place.
        data: labelled images; ``data.y`` must be set.
        epochs, lr, batch_size: the usual; Adam with default betas.
        seed: seeds the split and the batch order.
        val_fraction: share of items held out (0 trains on everything).
        device: where to train; the model is left there.
        progress: show a tqdm bar per epoch.

    Returns:
        ``{"acc", "train_acc", "val_acc", "loss", "epochs", "n_train", "n_val", "seconds"}``;
        ``acc`` is ``val_acc`` when there is a validation split, else ``train_acc``.
    """
    if data.y is None:
        raise ValueError(f"{data.name or 'data'} has no labels; a classifier needs them")
    if not 0 <= val_fraction < 1:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    gen = torch.Generator().manual_seed(seed)
    perm = torch.randperm(len(data), generator=gen)
    n_val = int(round(len(data) * val_fraction))
    val_idx, tr_idx = perm[:n_val], perm[n_val:]
    x_tr, y_tr = data.x[tr_idx], data.y[tr_idx]
    model.to(device).train()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    t0 = time.perf_counter()
    loss_val = float("nan")
    epoch_iter = range(epochs)
    if progress:
        from tqdm.auto import tqdm

        epoch_iter = tqdm(epoch_iter, desc="classifier", unit="epoch")
    for _ in epoch_iter:
        order = torch.randperm(len(x_tr), generator=gen)
        for i in range(0, len(order), batch_size):
            idx = order[i : i + batch_size]
            xb, yb = x_tr[idx].to(device), y_tr[idx].to(device)
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_val = loss.item()
    model.eval()
    train_acc = accuracy(model, x_tr, y_tr)
    val_acc = accuracy(model, data.x[val_idx], data.y[val_idx]) if n_val else float("nan")
    return {
        "acc": val_acc if n_val else train_acc,
        "train_acc": train_acc,
        "val_acc": val_acc,
        "loss": loss_val,
        "epochs": epochs,
        "n_train": len(tr_idx),
        "n_val": n_val,
        "seconds": time.perf_counter() - t0,
    }


# --- saving and loading ------------------------------------------------------------------


def save_classifier(model: SmallCNN, path: str | Path, *, input_range: str = "pm1") -> Path:
    """Write a :class:`SmallCNN` as safetensors, with its arguments and input range as metadata.

    Args:
        model: the classifier.
        path: target ``.safetensors`` file.
        input_range: ``"pm1"`` for [-1, 1] inputs (the library's), ``"01"`` for [0, 1].
    """
    from safetensors.torch import save_file

    if input_range not in ("pm1", "01"):
        raise ValueError(f"input_range must be 'pm1' or '01', got {input_range!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sd = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    meta = {
        "arch": "smallcnn",
        "args": json.dumps(getattr(model, "args", {})),
        "input_range": input_range,
    }
    tmp = path.with_name(f".{path.name}.tmp")
    save_file(sd, str(tmp), metadata=meta)
    tmp.replace(path)
    return path


def _read_state_dict(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    if not path.is_file():
        raise FileNotFoundError(f"classifier weights not found: {path}")
    if path.suffix == ".safetensors":
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as f:
            meta = dict(f.metadata() or {})
            sd = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (safe_open has no iter)
        return sd, meta
    # weights_only=True: never unpickle arbitrary objects from a file a user points at.
    obj = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ValueError(f"{path}: expected a state dict (name -> tensor) of a known architecture")
    return obj, {}


def _lenet_module() -> Any:
    try:
        import ganforge.metrics.lenet as lenet_mod
    except ImportError as e:
        raise ValueError(
            "the shipped LeNet (ganforge.metrics.lenet) is not available in this install"
        ) from e
    return lenet_mod


def _build_lenet() -> nn.Module:
    """An untrained instance of the metrics package's LeNet architecture."""
    mod = _lenet_module()
    for name in ("LeNet", "LeNet5"):
        if hasattr(mod, name):
            return getattr(mod, name)()
    raise ValueError("ganforge.metrics.lenet defines no LeNet class")


def _load_shipped_lenet() -> nn.Module:
    mod = _lenet_module()
    for name in ("load_lenet", "pretrained_lenet", "lenet"):
        fn = getattr(mod, name, None)
        if callable(fn):
            return fn()
    raise ValueError("ganforge.metrics.lenet defines no load_lenet()")


def _build_smallcnn(sd: dict[str, torch.Tensor]) -> nn.Module:
    return SmallCNN(**SmallCNN.args_from_state_dict(sd))


# name -> builder taking the state dict (to read shapes from); tried in this order.
KNOWN_ARCHITECTURES: dict[str, Any] = {
    "smallcnn": _build_smallcnn,
    "lenet": lambda sd: _build_lenet(),
}


def load_classifier(path: str | Path) -> tuple[nn.Module, str]:
    """Load a classifier from a ``.safetensors`` or ``.pt`` state dict of a known architecture.

    Accepted: a :class:`SmallCNN` (shapes give its arguments) or the metrics package's
    LeNet. The architecture comes from the safetensors metadata ``arch`` when present,
    else from whichever known architecture the keys and shapes match exactly.

    Returns:
        ``(model in eval mode, input_range)`` with ``input_range`` ``"pm1"`` or ``"01"``
        (metadata ``input_range``; ``"pm1"``, the library's convention, when absent).
    """
    path = Path(path)
    sd, meta = _read_state_dict(path)
    names = [meta["arch"]] if meta.get("arch") in KNOWN_ARCHITECTURES else KNOWN_ARCHITECTURES
    errors = []
    for name in names:
        try:
            model = KNOWN_ARCHITECTURES[name](sd)
            model.load_state_dict(sd, strict=True)
        except (KeyError, RuntimeError, ValueError) as e:
            errors.append(f"{name}: {str(e).splitlines()[0]}")
            continue
        return model.eval(), meta.get("input_range", "pm1")
    raise ValueError(
        f"{path}: the weights match none of the known architectures "
        f"({', '.join(KNOWN_ARCHITECTURES)}): " + "; ".join(errors)
    )


def load_target(name_or_path: str | Path) -> nn.Module:
    """The classifier to attack, wrapped to take [0, 1] inputs, in eval mode.

    Args:
        name_or_path: ``"lenet"`` for the shipped mnist5k LeNet, or a weights file that
            :func:`load_classifier` accepts.

    Returns:
        An ``nn.Module`` mapping (N, C, H, W) in [0, 1] to logits (N, K).
    """
    if str(name_or_path) == "lenet":
        return Range01(_load_shipped_lenet()).eval()
    model, input_range = load_classifier(name_or_path)
    return (Range01(model) if input_range == "pm1" else model).eval()
