"""The model zoo: segmentation networks of the landslide literature, built by name.

One `ModelConfig` names an architecture and an encoder; `build_model` makes
the network for any number of input bands. Weights are never downloaded:
models start from scratch, or from a local Scarp checkpoint in training.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import asdict, dataclass

import segmentation_models_pytorch as smp
import torch
from torch import nn

from mlcore.errors import MlcoreError


class UnknownModel(MlcoreError):
    """An architecture or encoder name Scarp does not know, answered with the valid ones."""


@dataclass(frozen=True, kw_only=True)
class ModelConfig:
    """What network to build; stored in a model directory's config.json.

    `encoder="none"` is the classic U-Net of Ronneberger et al. (arch "unet"
    only), whose width is `base_channels`; `encoder_depth` sets how many times
    either kind of encoder halves the resolution.
    """

    arch: str = "unet"
    encoder: str = "resnet34"
    in_channels: int
    classes: int = 1
    encoder_depth: int = 5
    base_channels: int = 32

    def validate(self) -> ModelConfig:
        if self.arch not in ARCHITECTURES:
            raise UnknownModel(
                f"Unknown architecture {self.arch!r}; choose one of: {', '.join(ARCHITECTURES)}."
            )
        spec = ARCHITECTURES[self.arch]
        encoders = spec.encoders()
        if self.encoder not in encoders:
            raise UnknownModel(
                f"Architecture {self.arch!r} cannot use encoder {self.encoder!r}; "
                f"supported encoders: {', '.join(encoders)}."
            )
        if self.in_channels < 1 or self.classes < 1:
            raise MlcoreError("A model needs at least one input band and one class.")
        lo, hi = spec.depths
        if not lo <= self.encoder_depth <= hi:
            raise MlcoreError(
                f"Architecture {self.arch!r} takes an encoder depth from {lo} to {hi}, "
                f"not {self.encoder_depth}."
            )
        return self

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ModelConfig:
        return cls(**data).validate()


class _DoubleConv(nn.Sequential):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__(
            nn.Conv2d(cin, cout, 3, padding=1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
            nn.Conv2d(cout, cout, 3, padding=1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
        )


class ClassicUNet(nn.Module):
    """The original U-Net shape (double convs, max-pool, transposed-conv up), kept small.

    Inputs whose sides are not multiples of 2**depth are padded and cropped back.
    """

    def __init__(self, in_channels: int, classes: int, depth: int = 4, base: int = 32) -> None:
        super().__init__()
        widths = [base * 2**i for i in range(depth + 1)]
        self.down = nn.ModuleList([_DoubleConv(in_channels, widths[0])])
        self.down.extend(_DoubleConv(widths[i], widths[i + 1]) for i in range(depth))
        self.up = nn.ModuleList(
            nn.ConvTranspose2d(widths[i + 1], widths[i], 2, stride=2)
            for i in reversed(range(depth))
        )
        self.fuse = nn.ModuleList(
            _DoubleConv(2 * widths[i], widths[i]) for i in reversed(range(depth))
        )
        self.head = nn.Conv2d(widths[0], classes, 1)
        self.depth = depth

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        m = 2**self.depth
        x = nn.functional.pad(x, (0, -w % m, 0, -h % m))
        skips = []
        for i, block in enumerate(self.down):
            x = block(x if i == 0 else nn.functional.max_pool2d(x, 2))
            skips.append(x)
        skips.pop()
        for up, fuse in zip(self.up, self.fuse, strict=True):
            x = fuse(torch.cat([skips.pop(), up(x)], dim=1))
        return self.head(x)[..., :h, :w]


def _smp_encoders() -> list[str]:
    return sorted(smp.encoders.get_encoder_names())


def _smp(cls: type[nn.Module]) -> Callable[[ModelConfig], nn.Module]:
    def build(config: ModelConfig) -> nn.Module:
        kwargs = {"encoder_depth": config.encoder_depth}
        if cls is smp.Unet or cls is smp.UnetPlusPlus:
            kwargs["decoder_channels"] = [256, 128, 64, 32, 16][: config.encoder_depth]
        return cls(
            encoder_name=config.encoder,
            encoder_weights=None,
            in_channels=config.in_channels,
            classes=config.classes,
            **kwargs,
        )

    return build


def _unet(config: ModelConfig) -> nn.Module:
    if config.encoder == "none":
        return ClassicUNet(
            config.in_channels,
            config.classes,
            depth=config.encoder_depth,
            base=config.base_channels,
        )
    return _smp(smp.Unet)(config)


def _elsewhere(module: str, name: str) -> Callable:
    """A function of a module that builds on this one, imported when first called."""

    def call(*args):
        return getattr(importlib.import_module(module), name)(*args)

    return call


@dataclass(frozen=True)
class Architecture:
    build: Callable[[ModelConfig], nn.Module]
    encoders: Callable[[], list[str]]
    depths: tuple[int, int]
    summary: str


ARCHITECTURES: dict[str, Architecture] = {
    "unet": Architecture(
        _unet,
        lambda: ["none", *_smp_encoders()],
        (1, 5),
        "U-Net; encoder 'none' is the classic U-Net, or resnet34, densenet121, ...",
    ),
    "unetplusplus": Architecture(
        _smp(smp.UnetPlusPlus), _smp_encoders, (3, 5), "U-Net++ (nested skip paths)"
    ),
    "deeplabv3plus": Architecture(
        _smp(smp.DeepLabV3Plus), _smp_encoders, (3, 5), "DeepLabv3+ (atrous pyramid pooling)"
    ),
    "segformer": Architecture(
        _smp(smp.Segformer),
        _smp_encoders,
        (3, 5),
        "SegFormer: transformer encoder (use mit_b0..mit_b5) with an all-MLP decoder",
    ),
    "siamese_unet": Architecture(
        _elsewhere("mlcore.models.siamese_unet", "build_siamese_unet"),
        lambda: ["none", *_smp_encoders()],
        (1, 5),
        "Siamese change detection on a stacked post,pre pair (in_channels: 2 x bands)",
    ),
    "maskrcnn": Architecture(
        _elsewhere("mlcore.models.mask_rcnn", "build_mask_rcnn"),
        _elsewhere("mlcore.models.mask_rcnn", "backbone_names"),
        (3, 5),
        "Mask R-CNN instance outlines (train with mlcore.models.mask_rcnn.train_instances)",
    ),
}


def build_model(config: ModelConfig) -> nn.Module:
    """A freshly initialised network for `config` (validated first)."""
    config.validate()
    return ARCHITECTURES[config.arch].build(config)
