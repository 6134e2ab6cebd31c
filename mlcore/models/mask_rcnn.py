"""Mask R-CNN (torchvision) sized for landslides in chips: the network of the instance family.

Registered as arch "maskrcnn" in `mlcore.models.registry.ARCHITECTURES` (kind
instance): encoder "none" (a small conv stack, `base_channels` wide) or a
torchvision ResNet, with an FPN of 2 x `base_channels` channels over the
levels of stride 4 to 2**encoder_depth (as for smp encoders). Weights are
never downloaded. In eval mode the network answers a batch with landslide
logits (the best score x mask probability of any detection at each pixel), so
validation and the accuracy reports treat it like a segmenter; `detect` gives
the detections themselves. Training it is `mlcore.training.instances`.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
import torchvision
from torch import nn
from torchvision.models.detection import MaskRCNN
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.backbone_utils import BackboneWithFPN
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
from torchvision.models.detection.mask_rcnn import MaskRCNNHeads, MaskRCNNPredictor
from torchvision.models.detection.transform import GeneralizedRCNNTransform
from torchvision.ops import MultiScaleRoIAlign

from mlcore.errors import MlcoreError
from mlcore.models.shape import NetworkShape

__all__ = ["LandslideMaskRCNN", "backbone_names", "build_mask_rcnn", "semantic_logits"]

_RESNETS = {"resnet18": 64, "resnet34": 64, "resnet50": 256}


def backbone_names() -> list[str]:
    return ["none", *_RESNETS]


class _KeepSize(GeneralizedRCNNTransform):
    """torchvision rescales images to 800 px; a chip keeps its size, so a landslide its scale."""

    def resize(self, image, target=None):
        return image, target


def _small_body(in_channels: int, stages: int, base: int) -> tuple[nn.Module, list[int]]:
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    widths, cin = [], in_channels
    for i in range(stages):
        cout = base * 2**i
        layers[f"layer{i}"] = nn.Sequential(
            nn.Conv2d(cin, cout, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
            nn.Conv2d(cout, cout, 3, padding=1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
        )
        widths.append(cout)
        cin = cout
    return nn.Sequential(layers), widths


def _backbone(config: NetworkShape) -> BackboneWithFPN:
    """Feature levels of stride 4 .. 2**depth, then an FPN (plus its max-pool level)."""
    levels = config.encoder_depth - 1
    fpn = 2 * config.base_channels
    if config.encoder == "none":
        body, widths = _small_body(config.in_channels, config.encoder_depth, config.base_channels)
        names = [f"layer{i}" for i in range(1, levels + 1)]
        return BackboneWithFPN(body, {n: str(i) for i, n in enumerate(names)}, widths[1:], fpn)
    # Batch norm that learns: torchvision's frozen default assumes pretrained statistics.
    resnet = getattr(torchvision.models, config.encoder)(weights=None, norm_layer=nn.BatchNorm2d)
    resnet.conv1 = nn.Conv2d(config.in_channels, 64, 7, stride=2, padding=3, bias=False)
    first = _RESNETS[config.encoder]
    names = [f"layer{i}" for i in range(1, levels + 1)]
    widths = [first * 2**i for i in range(levels)]
    return BackboneWithFPN(resnet, {n: str(i) for i, n in enumerate(names)}, widths, fpn)


class LandslideMaskRCNN(nn.Module):
    """torchvision's Mask R-CNN, sized for landslides in chips, answering like a segmenter.

    `forward(images, targets)` in training returns the loss dict; in eval,
    `forward(images)` returns (N, 1, H, W) landslide logits, and `detect`
    the detections themselves.
    """

    def __init__(self, config: NetworkShape) -> None:
        super().__init__()
        backbone = _backbone(config)
        width = backbone.out_channels
        levels = [str(i) for i in range(config.encoder_depth - 1)]
        strides = [2 ** (i + 2) for i in range(len(levels) + 1)]  # the last: FPN's pool level
        anchors = AnchorGenerator(
            sizes=tuple((2 * s, 4 * s) for s in strides),
            aspect_ratios=((0.5, 1.0, 2.0),) * len(strides),
        )
        rep = 4 * width
        self.net = MaskRCNN(
            backbone,
            num_classes=None,
            rpn_anchor_generator=anchors,
            rpn_pre_nms_top_n_train=600,
            rpn_post_nms_top_n_train=300,
            rpn_pre_nms_top_n_test=300,
            rpn_post_nms_top_n_test=150,
            rpn_batch_size_per_image=128,
            box_roi_pool=MultiScaleRoIAlign(levels, output_size=7, sampling_ratio=2),
            box_head=TwoMLPHead(width * 49, rep),
            box_predictor=FastRCNNPredictor(rep, 2),
            box_batch_size_per_image=64,
            mask_roi_pool=MultiScaleRoIAlign(levels, output_size=14, sampling_ratio=2),
            mask_head=MaskRCNNHeads(width, [width, width], 1),
            mask_predictor=MaskRCNNPredictor(width, width, 2),
        )
        channels = config.in_channels
        # Chips arrive normalised by the InputSpec already.
        self.net.transform = _KeepSize(1, 1, [0.0] * channels, [1.0] * channels)

    def forward(
        self, images: torch.Tensor, targets: list[dict[str, torch.Tensor]] | None = None
    ) -> torch.Tensor | dict[str, torch.Tensor]:
        if self.training:
            if targets is None:
                raise MlcoreError(
                    "Mask R-CNN learns from landslide instances, not from a mask; train it "
                    "with mlcore.training.instances.train_instances (train_and_tune and the train "
                    "command do so for an instance model)."
                )
            return self.net(list(images), targets)
        return semantic_logits(self.detect(images), images.shape)

    def detect(self, images: torch.Tensor) -> list[dict[str, torch.Tensor]]:
        """Per image: boxes (K, 4) in pixels, scores (K,), masks (K, 1, H, W) probabilities."""
        if self.training:
            raise MlcoreError("Put the model in eval mode before detecting landslides.")
        return self.net(list(images))


def semantic_logits(detections: list[dict[str, torch.Tensor]], shape: torch.Size) -> torch.Tensor:
    """(N, 1, H, W) logits of the best score x mask probability at each pixel."""
    n, _, h, w = shape
    prob = torch.zeros((n, 1, h, w), device=detections[0]["scores"].device if n else "cpu")
    for i, det in enumerate(detections):
        if len(det["scores"]):
            weighted = det["masks"].float() * det["scores"].float()[:, None, None, None]
            prob[i] = weighted.amax(dim=0)
    return torch.logit(prob.clamp(1e-4, 1 - 1e-4))


def build_mask_rcnn(config: NetworkShape) -> LandslideMaskRCNN:
    """The network for a validated ModelConfig (its NetworkShape) with arch "maskrcnn"."""
    if config.encoder not in backbone_names():
        raise MlcoreError(
            f"Mask R-CNN cannot use encoder {config.encoder!r}; "
            f"choose one of: {', '.join(backbone_names())}."
        )
    return LandslideMaskRCNN(config)
