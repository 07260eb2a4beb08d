"""Plain ``nn.Module`` networks that map a batch of inputs to one logit per row."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from imbalance_lab.errors import ConfigError

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "tanh": nn.Tanh,
    "silu": nn.SiLU,
    "leaky_relu": nn.LeakyReLU,
}


class MLP(nn.Module):
    """``in_features -> hidden_sizes... -> 1`` with an activation and dropout after each layer."""

    def __init__(
        self,
        in_features: int,
        hidden_sizes: Sequence[int] = (64, 32),
        dropout: float = 0.1,
        activation: str = "relu",
    ) -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ConfigError(
                f"model.net.activation={activation!r} is unknown; use one of {sorted(ACTIVATIONS)}."
            )
        layers: list[nn.Module] = []
        width = in_features
        for size in hidden_sizes:
            layers += [nn.Linear(width, size), ACTIVATIONS[activation](), nn.Dropout(dropout)]
            width = size
        layers.append(nn.Linear(width, 1))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x.flatten(1)).squeeze(-1)


class CNN(nn.Module):
    """A small conv net for flat rows that are images: ``(N, in_features)`` is folded into
    ``(N, *input_shape)`` inside :meth:`forward`, so data, samplers and scalers stay flat.

    Each entry of ``channels`` adds ``conv(kernel_size, same padding) -> activation`` and, while
    the image is at least 2x2, a 2x2 max pool; then ``hidden`` units, dropout and one logit.
    ``input_shape`` ``(C, H, W)`` comes from the data config (``data.image_shape``).
    """

    def __init__(
        self,
        in_features: int,
        input_shape: Sequence[int] | None = None,
        channels: Sequence[int] = (16, 32),
        kernel_size: int = 3,
        hidden: int = 64,
        dropout: float = 0.1,
        activation: str = "relu",
    ) -> None:
        super().__init__()
        shape = _image_shape(input_shape, in_features, "cnn")
        if activation not in ACTIVATIONS:
            raise ConfigError(
                f"model.net.activation={activation!r} is unknown; use one of {sorted(ACTIVATIONS)}."
            )
        self.input_shape = shape
        layers: list[nn.Module] = []
        c, h, w = shape
        for out in channels:
            layers += [
                nn.Conv2d(c, out, kernel_size, padding=kernel_size // 2),
                ACTIVATIONS[activation](),
            ]
            if min(h, w) >= 2:
                layers.append(nn.MaxPool2d(2))
                h, w = h // 2, w // 2
            c = out
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(c * h * w, hidden),
            ACTIVATIONS[activation](),
            nn.Dropout(dropout),
            nn.Linear(hidden, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.reshape(x.shape[0], *self.input_shape)
        return self.head(self.features(x)).squeeze(-1)


def _image_shape(input_shape: Sequence[int] | None, in_features: int, model: str) -> tuple:
    """``(C, H, W)`` from the data (``data.image_shape``, or read from image files)."""
    if input_shape is None:
        raise ConfigError(
            f"model={model} needs the image shape of the data, data.image_shape (C, H, W), and "
            "this data config has none: use image data (data=images, data=digits), add "
            "+data.image_shape=[C,H,W], or choose model=mlp."
        )
    shape = tuple(int(d) for d in input_shape)
    if len(shape) == 2:
        shape = (1, *shape)
    if len(shape) != 3 or int(np.prod(shape)) != in_features:
        raise ConfigError(
            f"model.net.input_shape={list(shape)} (from data.image_shape) does not fold "
            f"{in_features} input features into (C, H, W); C*H*W must equal {in_features}."
        )
    return shape


class _BasicBlock(nn.Module):
    """Two 3x3 convolutions with batch norm and an identity (or 1x1 projection) shortcut."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.downsample = None
        if stride != 1 or c_in != c_out:
            self.downsample = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
        return self.relu(out + (x if self.downsample is None else self.downsample(x)))


class ResNet(nn.Module):
    """ResNet-18 (He, Zhang, Ren and Sun, "Deep Residual Learning for Image Recognition",
    CVPR 2016) with one logit, randomly initialised (nothing is downloaded).

    Layer for layer and name for name torchvision's ``resnet18(num_classes=1)`` (its weights
    load with ``load_state_dict``), with ``input_shape[0]`` input channels; written here
    because torchvision's CPU build is not installable from PyPI (see
    imbalance_lab.data.images). ``small_input=True`` (images under 64 pixels a side) replaces
    the 7x7 stride-2 stem and its max pool by a 3x3 stride-1 convolution, as for CIFAR, so a
    32x32 image is not reduced to 1x1 before the last stage. Input ``(N, C*H*W)`` or
    ``(N, C, H, W)``; output ``(N,)`` logits.
    """

    def __init__(
        self,
        in_features: int,
        input_shape: Sequence[int] | None = None,
        widths: Sequence[int] = (64, 128, 256, 512),
        blocks: Sequence[int] = (2, 2, 2, 2),
        small_input: bool | str = "auto",
    ) -> None:
        super().__init__()
        self.input_shape = _image_shape(input_shape, in_features, "resnet")
        c, h, w = self.input_shape
        if small_input not in (True, False, "auto"):
            raise ConfigError(f"model.net.small_input={small_input!r}: use true, false or auto.")
        small = min(h, w) < 64 if small_input == "auto" else small_input
        width = widths[0]
        if small:
            self.conv1 = nn.Conv2d(c, width, 3, 1, 1, bias=False)
            self.maxpool: nn.Module = nn.Identity()
        else:
            self.conv1 = nn.Conv2d(c, width, 7, 2, 3, bias=False)
            self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        for i, (out, n) in enumerate(zip(widths, blocks, strict=True)):
            stride = 1 if i == 0 else 2
            layer = [_BasicBlock(width if j == 0 else out, out, stride if j == 0 else 1)
                     for j in range(n)]  # fmt: skip
            setattr(self, f"layer{i + 1}", nn.Sequential(*layer))
            width = out
        self.n_layers = len(widths)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(width, 1)
        for m in self.modules():  # torchvision's initialisation
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.reshape(x.shape[0], *self.input_shape)
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        for i in range(self.n_layers):
            x = getattr(self, f"layer{i + 1}")(x)
        return self.fc(self.avgpool(x).flatten(1)).squeeze(-1)


@torch.no_grad()
def predict_probs(net: nn.Module, X: np.ndarray, batch_size: int = 65536) -> np.ndarray:
    """Probabilities of class 1 for ``X`` (float32, rows x features) -> shape (rows,), in eval
    mode, on the network's device and in its dtype: a network trained with
    ``trainer.precision=64-true`` or ``bf16-true`` holds float64 / bfloat16 weights, which
    refuse float32 rows."""
    was_training = net.training
    net.eval()
    first = next(net.parameters())
    out = [
        torch.sigmoid(net(torch.from_numpy(X[i : i + batch_size]).to(first.device, first.dtype)))
        .float()
        .cpu()
        for i in range(0, len(X), batch_size)
    ]
    net.train(was_training)
    return torch.cat(out).numpy() if out else np.zeros(0, dtype=np.float32)


def mean_probability_logit(logits: torch.Tensor, dim: int) -> torch.Tensor:
    """The logit of the mean of ``sigmoid(logits)`` along ``dim``, computed in log space so
    that confident members (logits of +-50) neither overflow nor round to 0 or 1."""
    log_k = float(np.log(logits.shape[dim]))
    log_p = torch.logsumexp(nn.functional.logsigmoid(logits), dim) - log_k
    log_q = torch.logsumexp(nn.functional.logsigmoid(-logits), dim) - log_k
    return log_p - log_q


class ProbabilityAverage(nn.Module):
    """Members' probabilities averaged, returned as one logit per row (its sigmoid is the mean
    of the members' sigmoids), so the ensemble is thresholded and scored as one network.

    ``members``: networks mapping ``(N, ...)`` to logits ``(N,)``. Used by the under-bagging
    ensemble (``model=underbagging``).
    """

    def __init__(self, members: Sequence[nn.Module]) -> None:
        super().__init__()
        if not members:
            raise ConfigError("model.members must be at least 1.")
        self.members = nn.ModuleList(members)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return mean_probability_logit(torch.stack([m(x) for m in self.members]), 0)  # (K, N)


class TabMNet(nn.Module):
    """TabM (Gorishniy et al., 2025, "TabM: Advancing Tabular Deep Learning with
    Parameter-Efficient Ensembling", ICLR) from the ``tabm`` package: ``k`` MLPs sharing most
    weights (BatchEnsemble), optionally after periodic numerical embeddings (Gorishniy et al.,
    2022, ``rtdl-num-embeddings``) shared by all of them.

    In training mode the output is ``(N, k)``, one logit per member, and the LightningModule
    trains each member on every row's label, as the paper does; in eval mode it is ``(N,)``,
    the logit of the members' mean probability (:class:`ProbabilityAverage`'s rule), so the
    threshold, metrics and bundle see one network. Input ``(N, in_features)``.
    """

    def __init__(
        self,
        in_features: int,
        k: int = 32,
        n_blocks: int = 3,
        d_block: int = 256,
        dropout: float = 0.1,
        num_embeddings: str = "none",
        d_embedding: int = 16,
    ) -> None:
        super().__init__()
        try:
            import tabm
            from rtdl_num_embeddings import PeriodicEmbeddings
        except ImportError as err:
            raise ConfigError(
                f"model=tabm needs tabm and rtdl-num-embeddings ({err}); install them with "
                "pip install 'imbalance-lab[tabm]', or choose another model."
            ) from None
        if num_embeddings not in ("none", "periodic"):
            raise ConfigError(
                f"model.net.num_embeddings={num_embeddings!r} is unknown; use none or periodic."
            )
        if not (isinstance(k, int) and k >= 1):
            raise ConfigError(f"model.net.k={k!r} must be a whole number >= 1.")
        embeddings = None
        if num_embeddings == "periodic":  # the "lite" variant of TabM's paper
            embeddings = PeriodicEmbeddings(in_features, d_embedding, lite=True)
        self.tabm = tabm.TabM.make(
            n_num_features=in_features,
            d_out=1,
            k=k,
            n_blocks=n_blocks,
            d_block=d_block,
            dropout=dropout,
            num_embeddings=embeddings,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.tabm(x.flatten(1)).squeeze(-1)  # (N, k)
        return logits if self.training else mean_probability_logit(logits, 1)
