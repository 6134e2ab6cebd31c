"""The model zoo: segmentation networks of the landslide literature, built by name.

One `ModelConfig` names an architecture and an encoder; `build_model` makes
the network for any number of input bands. Weights are never downloaded:
models start from scratch, or from a local Scarp checkpoint in training.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, fields

import segmentation_models_pytorch as smp
import torch
from torch import nn

from mlcore.errors import MlcoreError
from mlcore.models.mask_rcnn import backbone_names, build_mask_rcnn
from mlcore.models.siamese_unet import build_siamese_unet


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
        spec = family_of(self.arch)
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


SEMANTIC, CHANGE, INSTANCE = "semantic", "change", "instance"
KINDS = (SEMANTIC, CHANGE, INSTANCE)


@dataclass(frozen=True, kw_only=True)
class Family:
    """One architecture and what it can do; callers ask these traits, never the name.

    kind        semantic (a mask from one scene), change (a mask from a post,pre
                pair), instance (one outline per landslide, with a score)
    inputs      "scene" or "pair": a pair stacks the post-event scene's bands
                and then the pre-event scene's, so the network splits them in halves
    splits_into_blocks  whether a scene may be predicted block by block on
                several workers (an instance model must see a landslide whole)
    in_training_form / pretrainable  whether the web app's training and
                pretraining forms offer it (pretraining needs a decoder that can
                reconstruct imagery)
    terrain_and_scale   whether it takes derived terrain bands (slope,
                relief) and model pixels coarser than the scene's, as the
                recipes give; False: every band as it is, on the scene's pixels
    tunes_postprocess   whether its probability maps get a threshold and
                polygon clean-up chosen on validation (an instance model's
                polygons are its own detections)
    flips_at_prediction whether test-time flips (a recipe's `tta`) average its
                probability maps; an instance model's detections are not maps
    """

    name: str
    title: str  # what a person calls it in a message
    summary: str
    label: str  # what a comparison of models calls the family
    build: Callable[[ModelConfig], nn.Module]
    encoders: Callable[[], list[str]]
    depths: tuple[int, int]
    kind: str = SEMANTIC
    splits_into_blocks: bool = True
    in_training_form: bool = True
    pretrainable: bool = True
    terrain_and_scale: bool = True
    tunes_postprocess: bool = True
    flips_at_prediction: bool = True

    @property
    def inputs(self) -> str:
        return "pair" if self.kind == CHANGE else "scene"

    def traits(self) -> dict[str, object]:
        """The traits as plain data, for a page's template and its script: every field
        but the builders, so a trait added here reaches the pages too."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        plain = {name: value for name, value in data.items() if not callable(value)}
        return {**plain, "depths": list(self.depths), "inputs": self.inputs}


_SEGMENTATION = "Segmentation (U-Net family)"

ARCHITECTURES: dict[str, Family] = {
    f.name: f
    for f in (
        Family(
            name="unet",
            title="U-Net",
            summary="U-Net; encoder 'none' is the classic U-Net, or resnet34, densenet121, ...",
            label=_SEGMENTATION,
            build=_unet,
            encoders=lambda: ["none", *_smp_encoders()],
            depths=(1, 5),
        ),
        Family(
            name="unetplusplus",
            title="U-Net++",
            summary="U-Net++ (nested skip paths)",
            label=_SEGMENTATION,
            build=_smp(smp.UnetPlusPlus),
            encoders=_smp_encoders,
            depths=(3, 5),
        ),
        Family(
            name="deeplabv3plus",
            title="DeepLabv3+",
            summary="DeepLabv3+ (atrous pyramid pooling)",
            label=_SEGMENTATION,
            build=_smp(smp.DeepLabV3Plus),
            encoders=_smp_encoders,
            depths=(3, 5),
        ),
        Family(
            name="segformer",
            title="SegFormer",
            summary="SegFormer: transformer encoder (use mit_b0..mit_b5) with an all-MLP decoder",
            label=_SEGMENTATION,
            build=_smp(smp.Segformer),
            encoders=_smp_encoders,
            depths=(3, 5),
        ),
        Family(
            name="siamese_unet",
            title="Siamese U-Net",
            summary="Siamese change detection on a stacked post,pre pair (in_channels: 2 x bands)",
            label="Change detection (Siamese U-Net, pre+post)",
            build=build_siamese_unet,
            encoders=lambda: ["none", *_smp_encoders()],
            depths=(1, 5),
            kind=CHANGE,
        ),
        Family(
            name="maskrcnn",
            title="Mask R-CNN",
            summary="Mask R-CNN instance outlines: one polygon and score per landslide",
            label="Instances (Mask R-CNN)",
            build=build_mask_rcnn,
            encoders=backbone_names,
            depths=(3, 5),
            kind=INSTANCE,
            splits_into_blocks=False,
            pretrainable=False,
            terrain_and_scale=False,
            tunes_postprocess=False,
            flips_at_prediction=False,
        ),
    )
}


def family_of(arch: str) -> Family:
    """The family named `arch`; an unknown name is answered with the known ones."""
    try:
        return ARCHITECTURES[arch]
    except KeyError:
        raise UnknownModel(
            f"Unknown architecture {arch!r}; choose one of: {', '.join(ARCHITECTURES)}."
        ) from None


def families(**traits: object) -> list[Family]:
    """The families whose traits have these values, e.g. `families(pretrainable=True)`."""
    return [f for f in ARCHITECTURES.values() if all(getattr(f, k) == v for k, v in traits.items())]


def build_model(config: ModelConfig) -> nn.Module:
    """A freshly initialised network for `config` (validated first)."""
    config.validate()
    return ARCHITECTURES[config.arch].build(config)
