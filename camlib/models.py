"""The networks of the course: the GAP network, its GMP variant, the FC-head baseline, and ``gapify``.

Every model exposes ``features(x) -> (B, K, h, w)`` and a ``classifier``. For the global-pooling networks the
classifier is ONE ``nn.Linear`` after the pooling, which is what makes the class activation map exact
(Zhou et al., CVPR 2016, Sec. 2):

    S_c = sum_k w_k^c * mean_xy f_k(x, y) + b_c = mean_xy M_c(x, y) + b_c,   M_c = sum_k w_k^c f_k.
"""

from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import torch
from torch import Tensor, nn

Pool = Literal["avg", "max"]


@dataclass(frozen=True)
class NetConfig:
    """Shape of the convolutional trunk shared by :class:`GAPNet` and :class:`FCNet`.

    Attributes:
        widths: output channels of each conv block (conv 3x3 -> BatchNorm -> ReLU, ``convs_per_block`` times).
            The default narrows the early, full-resolution blocks: on a 2-core CPU, 16-32-64-128 trains at
            ~700 images/s against ~280 for 32-64-128-128 (the first blocks work on the most pixels), with half
            the parameters and the same 16x16 map.
        downsample: total stride of the last conv map, a power of two. The first ``log2(downsample)`` blocks
            end with a 2x2 max-pool; a 64 px image with ``downsample=4`` gives a 16x16 last map. The paper
            removed layers to get 14x14 maps from 224 px images: coarse maps give blurry CAMs.
        in_channels: channels of the input images.
        convs_per_block: conv-BN-ReLU layers per block.
        dilation_after_downsample: dilation of the blocks after the last pooling stage; > 1 widens the
            receptive field without coarsening the map.
    """

    widths: tuple[int, ...] = (16, 32, 64, 128)
    downsample: int = 4
    in_channels: int = 3
    convs_per_block: int = 1
    dilation_after_downsample: int = 1

    def __post_init__(self) -> None:
        stages = int(math.log2(self.downsample)) if self.downsample > 0 else -1
        if self.downsample < 1 or 2**stages != self.downsample:
            raise ValueError(f"downsample must be a power of two (1, 2, 4, ...), got {self.downsample}")
        if stages > len(self.widths):
            raise ValueError(
                f"downsample={self.downsample} needs {stages} pooling stages but there are only "
                f"{len(self.widths)} blocks: add widths or lower downsample"
            )
        if not self.widths or any(w < 1 for w in self.widths):
            raise ValueError(f"widths must be positive channel counts, got {self.widths}")


def conv_trunk(config: NetConfig) -> nn.Sequential:
    """Conv blocks of ``config``: (B, in_channels, H, W) -> (B, widths[-1], H/downsample, W/downsample)."""
    stages = int(math.log2(config.downsample))
    layers: list[nn.Module] = []
    c_in = config.in_channels
    for i, c_out in enumerate(config.widths):
        dil = config.dilation_after_downsample if i >= stages else 1
        for _ in range(config.convs_per_block):
            layers += [
                nn.Conv2d(c_in, c_out, 3, padding=dil, dilation=dil, bias=False),
                nn.BatchNorm2d(c_out),
                nn.ReLU(inplace=True),
            ]
            c_in = c_out
        if i < stages:
            layers.append(nn.MaxPool2d(2))  # (B, c, H, W) -> (B, c, H/2, W/2)
    return nn.Sequential(*layers)


class GlobalPoolNet(nn.Module):
    """features -> global average (or max) pooling -> one ``nn.Linear``: the CAM architecture.

    Args:
        features: module mapping (B, C_in, H, W) -> (B, channels, h, w).
        channels: K, the channels of the last conv map.
        num_classes: C, the number of classes.
        pool: ``"avg"`` (GAP, the paper's choice) or ``"max"`` (GMP, its foil).
    """

    def __init__(self, features: nn.Module, channels: int, num_classes: int, pool: Pool = "avg") -> None:
        super().__init__()
        if pool not in ("avg", "max"):
            raise ValueError(f"pool must be 'avg' or 'max', got {pool!r}")
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        self.pool_kind: Pool = pool
        self.features = features
        self.pool = nn.AdaptiveAvgPool2d(1) if pool == "avg" else nn.AdaptiveMaxPool2d(1)
        self.classifier = nn.Linear(channels, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        f = self.features(x)  # (B, K, h, w)
        return self.classifier(torch.flatten(self.pool(f), 1))  # (B, K, 1, 1) -> (B, K) -> (B, C)


class GAPNet(GlobalPoolNet):
    """The course's GAP network: :func:`conv_trunk` -> global pooling -> linear.

    >>> net = GAPNet(6, NetConfig(widths=(8, 16), downsample=2))
    >>> net(torch.zeros(2, 3, 32, 32)).shape, net.features(torch.zeros(2, 3, 32, 32)).shape
    (torch.Size([2, 6]), torch.Size([2, 16, 16, 16]))
    """

    def __init__(self, num_classes: int, config: NetConfig | None = None, pool: Pool = "avg") -> None:
        config = config or NetConfig()
        super().__init__(conv_trunk(config), config.widths[-1], num_classes, pool)
        self.config = config


class FCNet(nn.Module):
    """The FC-head baseline (AlexNet/VGG style): conv trunk -> pool to a fixed grid -> flatten -> MLP.

    Flattening ties every weight of the first FC layer to one position: the head can learn *what* but the
    class score no longer decomposes into a map of *where*.

    Args:
        num_classes: C.
        config: the conv trunk (the same :class:`NetConfig` as :class:`GAPNet`).
        hidden: widths of the hidden FC layers (VGG: 4096, 4096).
        grid: the trunk's map is average-pooled to ``grid x grid`` before flattening (VGG: 7).
        dropout: dropout before each hidden FC layer.

    >>> FCNet(6, NetConfig(widths=(8, 16), downsample=2), hidden=(32,), grid=2)(torch.zeros(1, 3, 32, 32)).shape
    torch.Size([1, 6])
    """

    def __init__(
        self,
        num_classes: int,
        config: NetConfig | None = None,
        hidden: tuple[int, ...] = (256, 256),
        grid: int = 4,
        dropout: float = 0.3,
    ) -> None:
        super().__init__()
        self.config = config or NetConfig()
        self.hidden, self.grid, self.dropout = tuple(hidden), grid, dropout
        self.features = conv_trunk(self.config)
        self.avgpool = nn.AdaptiveAvgPool2d(grid)
        layers: list[nn.Module] = []
        width = self.config.widths[-1] * grid * grid
        for h in hidden:
            layers += [nn.Dropout(dropout), nn.Linear(width, h), nn.ReLU(inplace=True)]
            width = h
        layers.append(nn.Linear(width, num_classes))
        self.classifier = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        f = self.avgpool(self.features(x))  # (B, K, h, w) -> (B, K, grid, grid)
        return self.classifier(torch.flatten(f, 1))  # (B, K * grid * grid) -> (B, C)


def gapify(model: nn.Module, num_classes: int, width: int = 1024, pool: Pool = "avg") -> nn.Module:
    """The paper's conversion of a torchvision classifier into a CAM network, as a NEW model.

    ``model`` is never changed: the result holds copies of the layers it keeps (pretrained weights included),
    so training it leaves ``model`` as it was; it gets ``model``'s train/eval mode. By family:

    * VGG, AlexNet, SqueezeNet, MobileNetV2/V3, EfficientNet, ConvNeXt (``model.features`` is a ``Sequential``
      of conv layers or blocks): keep ``features`` up to its last block that holds a conv (and the BatchNorm /
      ReLU after it; a trailing pooling goes, and every FC layer), add a 3x3 conv with ``width`` units + ReLU,
      global pooling and one linear layer (Zhou et al., Sec. 3.1: 1024 units, 14x14 maps for VGG at 224 px).
    * DenseNet (``features`` and ONE linear ``classifier``, pooled in ``forward``): all of ``features`` + ReLU,
      global pooling, a new linear layer.
    * ResNet, RegNet, GoogLeNet, Inception v3 (``avgpool`` + ``fc``): already GAP + one linear layer; a copy
      with a new ``fc`` (auxiliary classifiers dropped; ``pool="max"`` swaps in global max pooling).
    * :class:`GlobalPoolNet` (the course's models): a copy with a new classifier.

    Args:
        model: a torchvision classifier of a family above (pretrained or not).
        num_classes: classes of the new linear layer (>= 1).
        width: channels of the added conv layer (>= 1).
        pool: ``"avg"`` or ``"max"``.

    Returns:
        A :class:`GlobalPoolNet` (``features``, ``pool``, ``classifier``), or a copy of the ResNet-style model.

    Raises:
        TypeError: a model of no family above (a ViT, a ShuffleNet, ...), naming how to build one yourself.
        ValueError: ``num_classes`` or ``width`` < 1, or ``pool`` not ``"avg"``/``"max"``.
    """
    if isinstance(width, bool) or not isinstance(width, int) or width < 1:
        raise ValueError(f"width must be a positive number of channels, got {width!r} (the paper uses 1024)")
    if pool not in ("avg", "max"):
        raise ValueError(f"pool must be 'avg' or 'max', got {pool!r}")
    if isinstance(model, GlobalPoolNet):
        new: nn.Module = GlobalPoolNet(
            copy.deepcopy(model.features), model.classifier.in_features, num_classes, pool
        )
        return new.train(model.training)
    fc = getattr(model, "fc", None)
    if isinstance(fc, nn.Linear) and isinstance(getattr(model, "avgpool", None), nn.AdaptiveAvgPool2d):
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        new = copy.deepcopy(model)
        new.fc = nn.Linear(fc.in_features, num_classes)
        if pool == "max":
            new.avgpool = nn.AdaptiveMaxPool2d(1)
        for aux in ("aux1", "aux2", "AuxLogits"):  # GoogLeNet / Inception's side heads: not part of the CAM
            if getattr(new, aux, None) is not None:
                setattr(new, aux, None)
        if hasattr(new, "aux_logits"):
            setattr(new, "aux_logits", False)  # noqa: B010 -- an attribute of torchvision's model, not a module
        return new.train(model.training)
    features, head = getattr(model, "features", None), getattr(model, "classifier", None)
    if isinstance(features, nn.Sequential) and isinstance(head, nn.Linear):  # DenseNet: features, ReLU, GAP
        trunk = nn.Sequential(*copy.deepcopy(list(features.children())), nn.ReLU())
        return GlobalPoolNet(trunk, head.in_features, num_classes, pool).train(model.training)
    name = type(model).__name__
    fix = "build GlobalPoolNet(features, channels, num_classes) from the model's conv trunk yourself"
    if not isinstance(features, nn.Sequential):
        raise TypeError(
            f"gapify supports torchvision VGG, AlexNet, SqueezeNet, MobileNet, EfficientNet, ConvNeXt (a "
            f"`features` Sequential), DenseNet and ResNet-style models (`avgpool` + `fc`); got {name}: {fix}"
        )
    layers = list(features.children())
    convs = [i for i, m in enumerate(layers) if any(isinstance(c, nn.Conv2d) for c in m.modules())]
    if not convs:
        raise TypeError(f"{name}.features holds no Conv2d layer, so there is no conv map to keep: {fix}")
    keep = convs[-1] + 1
    while keep < len(layers) and not any(isinstance(c, (nn.Conv2d, *_POOLS)) for c in layers[keep].modules()):
        keep += 1  # keep the BatchNorm / ReLU that follow the last conv block, drop a pooling after it
    kept = nn.Sequential(*copy.deepcopy(layers[:keep]))
    conv = next(m for m in kept.modules() if isinstance(m, nn.Conv2d))
    with torch.no_grad():  # the kept trunk's output channels (a Fire module concatenates two convs)
        channels = int(kept.eval()(torch.zeros(1, conv.in_channels, 64, 64)).shape[1])
    trunk = nn.Sequential(*kept, nn.Conv2d(channels, width, 3, padding=1), nn.ReLU(inplace=True))
    return GlobalPoolNet(trunk, width, num_classes, pool).train(model.training)


_POOLS = (nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)


# --- specs, so a checkpoint can rebuild its model -------------------------------------------------------


@dataclass(frozen=True)
class ModelSpec:
    """Everything needed to rebuild a course model: ``arch`` in {"gap", "gmp", "fc"}."""

    arch: str
    num_classes: int
    config: NetConfig = field(default_factory=NetConfig)
    options: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain types only (safe for ``torch.load(weights_only=True)``)."""
        d = asdict(self)
        d["config"]["widths"] = list(self.config.widths)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelSpec:
        cfg = dict(d["config"])
        cfg["widths"] = tuple(cfg["widths"])
        opts = {k: tuple(v) if isinstance(v, list) else v for k, v in d.get("options", {}).items()}
        return cls(d["arch"], int(d["num_classes"]), NetConfig(**cfg), opts)


def build_model(spec: ModelSpec) -> nn.Module:
    """Instantiate the model a :class:`ModelSpec` describes (weights freshly initialised).

    >>> type(build_model(ModelSpec("gmp", 6))).__name__, build_model(ModelSpec("gmp", 6)).pool_kind
    ('GAPNet', 'max')
    """
    if spec.arch in ("gap", "gmp"):
        return GAPNet(spec.num_classes, spec.config, pool="avg" if spec.arch == "gap" else "max")
    if spec.arch == "fc":
        return FCNet(spec.num_classes, spec.config, **spec.options)
    raise ValueError(f"unknown arch {spec.arch!r}: use 'gap', 'gmp' or 'fc'")


def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    """Number of (trainable) parameters.

    >>> count_parameters(nn.Linear(128, 6))
    774
    """
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
