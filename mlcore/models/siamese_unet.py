"""Bi-temporal change detection: a Siamese U-Net on a post-event / pre-event pair.

A landslide is new ground where there was vegetation; bright bare ground
that was already bare before the event is not one. A single post-event image
cannot tell the two apart, so this network sees both dates. The pair travels
through the ordinary pipeline as one stacked scene, SceneSpec([post, pre]):
the first half of the channels is the post-event image, the second half the
pre-event one (post then pre, so that the post image's grid is the scene's
grid, as everywhere else in Scarp). Both halves go through one shared
encoder; at every level the two feature maps are fused from their
concatenation and their absolute difference, and a U-Net decoder turns the
fused pyramid into landslide logits.

Registered as arch "siamese_unet" in `mlcore.models.registry.ARCHITECTURES`; its
`in_channels` is 2 x the bands of one date. Derived bands are appended after
both dates by the input spec, which would break the halves, so leave them out
(or add the derived band to each date's raster instead).
"""

from __future__ import annotations

import segmentation_models_pytorch as smp
import torch
from segmentation_models_pytorch.decoders.unet.decoder import UnetDecoder
from torch import nn

from mlcore.errors import MlcoreError
from mlcore.models.shape import NetworkShape

__all__ = ["SiameseUNet", "build_siamese_unet", "split_dates"]


def split_dates(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(post, pre) halves of a stacked (N, 2 x bands, H, W) batch."""
    bands = x.shape[1] // 2
    return x[:, :bands], x[:, bands:]


def _conv(cin: int, cout: int, kernel: int = 3) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel, padding=kernel // 2, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class SmallEncoder(nn.Module):
    """A plain conv encoder (encoder "none"): double convs after each 2x down-sampling.

    It answers like an smp encoder, a list [input, /2, /4, ...] with
    `out_channels`, so the same fusion and decoder serve both kinds.
    """

    def __init__(self, in_channels: int, depth: int, base: int) -> None:
        super().__init__()
        widths = [base * 2**i for i in range(depth)]
        self.out_channels = [in_channels, *widths]
        self.stages = nn.ModuleList(
            nn.Sequential(nn.MaxPool2d(2), _conv(cin, cout), _conv(cout, cout))
            for cin, cout in zip([in_channels, *widths[:-1]], widths, strict=True)
        )

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        features = [x]
        for stage in self.stages:
            features.append(stage(features[-1]))
        return features


class SiameseUNet(nn.Module):
    """Shared encoder on both dates, per-level fusion of [post, pre, |post - pre|], U-Net decoder.

    The difference carries "what changed"; the concatenation keeps "what is
    there now", so a change from water to mud and one from forest to rock
    are not the same signal.
    """

    def __init__(
        self, encoder: nn.Module, decoder_channels: list[int], classes: int, depth: int
    ) -> None:
        super().__init__()
        self.encoder = encoder
        channels = list(encoder.out_channels)
        self.fuse = nn.ModuleList(_conv(3 * c, c, kernel=1) for c in channels[1:])
        self.decoder = UnetDecoder(
            encoder_channels=channels, decoder_channels=decoder_channels, n_blocks=depth
        )
        self.head = nn.Conv2d(decoder_channels[-1], classes, 3, padding=1)
        self.depth = depth

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        m = 2**self.depth
        x = nn.functional.pad(x, (0, -w % m, 0, -h % m))
        post, pre = split_dates(x)
        # One encoder pass over both dates: the same weights, and batch norm
        # sees both, so neither date is normalised differently.
        both = self.encoder(torch.cat([post, pre], dim=0))
        n = post.shape[0]
        fused = [both[0][:n]]
        for fuse, feature in zip(self.fuse, both[1:], strict=True):
            a, b = feature[:n], feature[n:]
            fused.append(fuse(torch.cat([a, b, (a - b).abs()], dim=1)))
        return self.head(self.decoder(fused))[..., :h, :w]


def build_siamese_unet(config: NetworkShape) -> SiameseUNet:
    """The network for a validated ModelConfig (its NetworkShape) with arch "siamese_unet"."""
    if config.in_channels % 2:
        raise MlcoreError(
            f"A change-detection model takes a post-event and a pre-event image with the same "
            f"bands, so its input bands come in pairs; {config.in_channels} is odd. Stack the "
            "scene as post.tif,pre.tif and leave out derived bands."
        )
    bands, depth = config.in_channels // 2, config.encoder_depth
    if config.encoder == "none":
        encoder: nn.Module = SmallEncoder(bands, depth, config.base_channels)
        decoder = [config.base_channels * 2 ** (depth - 1 - i) for i in range(depth)]
    else:
        encoder = smp.encoders.get_encoder(
            config.encoder, in_channels=bands, depth=depth, weights=None
        )
        decoder = [256, 128, 64, 32, 16][:depth]
    return SiameseUNet(encoder, decoder, config.classes, depth)
