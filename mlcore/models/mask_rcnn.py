"""Instance outlines: Mask R-CNN (torchvision) trained on landslide polygons as instances.

Semantic segmentation draws one mask, so two landslides that touch come out
as one polygon; landslide inventories count them apart. Here every labelled
polygon is an instance of its own (a mask and a box), and the network
predicts one mask per landslide with a score.

Registered as arch "maskrcnn" in `mlcore.models.registry.ARCHITECTURES`: encoder
"none" (a small conv stack, `base_channels` wide) or a torchvision ResNet,
with an FPN of 2 x `base_channels` channels over the levels of stride 4 to
2**encoder_depth (as for smp encoders). Weights are never downloaded.

It runs through the same paths as the segmentation families:
- `train_instances` takes what `mlcore.training.trainer.train` takes and writes the same
  model directory (checkpoints, resume, cancel, config.json); only the
  training step differs, since Mask R-CNN learns from instance targets.
- In eval mode the network answers a batch with landslide logits (the best
  score x mask probability of any detection at each pixel), so validation
  and the accuracy reports work unchanged.
- `mlcore.predict.instances.predict_instances` gives per-landslide polygons
  with scores, merged across chip overlaps; `mlcore.predict.predictor.predict_scene`
  (the CLI, the web app's prediction job) runs it for arch "maskrcnn".
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely
import torch
import torchvision
from rasterio.features import rasterize
from rasterio.windows import Window
from rasterio.windows import transform as window_transform
from torch import nn
from torchvision.models.detection import MaskRCNN
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.backbone_utils import BackboneWithFPN
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
from torchvision.models.detection.mask_rcnn import MaskRCNNHeads, MaskRCNNPredictor
from torchvision.models.detection.transform import GeneralizedRCNNTransform
from torchvision.ops import MultiScaleRoIAlign

from mlcore.data import ChipDataset, ChipRef, InputSpec, LabelledScene, StackedScene, augment
from mlcore.data.bands import TERRAIN_BANDS
from mlcore.errors import MlcoreError
from mlcore.modeldir.directory import load_model
from mlcore.training import trainer as loop
from mlcore.training.losses import IGNORE
from mlcore.training.trainer import EpochReport, TrainConfig, Trainer, TrainResult

if TYPE_CHECKING:
    from mlcore.models.registry import ModelConfig

__all__ = [
    "InstanceChips",
    "InstanceTrainer",
    "LandslideMaskRCNN",
    "backbone_names",
    "build_mask_rcnn",
    "instance_targets",
    "train_instances",
]

_RESNETS = {"resnet18": 64, "resnet34": 64, "resnet50": 256}
MIN_INSTANCE_PIXELS = 4


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


def _backbone(config: ModelConfig) -> BackboneWithFPN:
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

    def __init__(self, config: ModelConfig) -> None:
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
                    "with mlcore.models.mask_rcnn.train_instances (the train command does so for "
                    "arch 'maskrcnn')."
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


def build_mask_rcnn(config: ModelConfig) -> LandslideMaskRCNN:
    """The network for a validated ModelConfig with arch "maskrcnn"."""
    if config.encoder not in backbone_names():
        raise MlcoreError(
            f"Mask R-CNN cannot use encoder {config.encoder!r}; "
            f"choose one of: {', '.join(backbone_names())}."
        )
    return LandslideMaskRCNN(config)


def instance_targets(ids: torch.Tensor) -> list[dict[str, torch.Tensor]]:
    """Mask R-CNN targets from a batch of instance-id rasters (N, H, W), 0 background.

    An instance needs MIN_INSTANCE_PIXELS pixels; fewer (a sliver at a chip
    edge) teaches nothing but noise.
    """
    out = []
    for chip in ids:
        found = [int(v) for v in torch.unique(chip) if v > 0]
        masks = torch.stack([chip == v for v in found]) if found else None
        if masks is not None:
            masks = masks[masks.flatten(1).sum(1) >= MIN_INSTANCE_PIXELS]
        if masks is None or not len(masks):
            h, w = chip.shape
            out.append(
                {
                    "boxes": torch.zeros((0, 4), device=chip.device),
                    "labels": torch.zeros(0, dtype=torch.int64, device=chip.device),
                    "masks": torch.zeros((0, h, w), dtype=torch.uint8, device=chip.device),
                }
            )
            continue
        rows, cols = masks.any(dim=2), masks.any(dim=1)
        boxes = torch.stack(
            [_first(cols), _first(rows), _last(cols) + 1, _last(rows) + 1], dim=1
        ).float()
        labels = torch.ones(len(masks), dtype=torch.int64, device=chip.device)
        out.append({"boxes": boxes, "labels": labels, "masks": masks.to(torch.uint8)})
    return out


def _first(hits: torch.Tensor) -> torch.Tensor:
    return hits.float().argmax(dim=1)


def _last(hits: torch.Tensor) -> torch.Tensor:
    return hits.shape[1] - 1 - hits.flip(1).float().argmax(dim=1)


class InstanceChips(torch.utils.data.Dataset):
    """Training chips with an instance-id raster as target: 0 background, k the k-th polygon.

    Wraps the segmentation ChipDataset (same windows, normalisation, extents
    and augmentation), so a batch collates like any other; pixels the loss
    would ignore (outside the train extents, nodata) are blanked in the image,
    because Mask R-CNN has no "unknown" label.
    """

    def __init__(self, chips: ChipDataset) -> None:
        self.chips = chips
        self.scenes = chips.scenes
        self._trees: list[shapely.STRtree] | None = None
        self._transforms = []
        for labelled in self.scenes:
            with StackedScene(labelled.scene) as scene:
                self._transforms.append(scene.transform)
        steady = TERRAIN_BANDS | {"ndvi"}
        self._jitter = np.array([c not in steady for c in chips.spec.channels])

    def _landslides(self, index: int) -> shapely.STRtree:
        if self._trees is None:
            self._trees = [shapely.STRtree(s.landslides) for s in self.scenes]
        return self._trees[index]

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_trees": None}

    def instance_ids(self, ref: ChipRef) -> np.ndarray:
        size = self.chips.chip_size
        affine = window_transform(Window(ref.col, ref.row, size, size), self._transforms[ref.scene])
        x0, y0 = affine * (0, 0)
        x1, y1 = affine * (size, size)
        tree = self._landslides(ref.scene)
        hits = tree.query(shapely.box(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)))
        if not len(hits):
            return np.zeros((size, size), dtype=np.int64)
        shapes = [(tree.geometries[i], k + 1) for k, i in enumerate(sorted(hits))]
        return rasterize(shapes, out_shape=(size, size), transform=affine, dtype="int32").astype(
            np.int64
        )

    def __getitem__(self, ref: ChipRef) -> tuple[torch.Tensor, torch.Tensor]:
        image, target = self.chips.read(ref)
        ids = self.instance_ids(ref)
        ids[target == IGNORE] = -1
        if self.chips.augment and ref.seed is not None:
            image, ids = augment(image, ids, np.random.default_rng(ref.seed), self._jitter)
        image = np.array(image, dtype=np.float32)
        image[:, ids < 0] = 0.0
        ids = np.where(ids < 0, 0, ids)
        return torch.from_numpy(image), torch.from_numpy(np.ascontiguousarray(ids))

    def close(self) -> None:
        self.chips.close()


class InstanceTrainer(Trainer):
    """The training loop's Trainer (checkpoints, resume, validation), with an instance step."""

    def train_step(self, images: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        images = images.to(self.device, non_blocking=True)
        instances = instance_targets(targets.to(self.device, non_blocking=True))
        dtype = self.amp_dtype or torch.bfloat16
        with torch.autocast(self.device.type, dtype=dtype, enabled=self.amp_dtype is not None):
            losses = self.model(images, instances)
        loss = sum(losses.values())
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        return loss.detach()


def train_instances(
    config: TrainConfig,
    train_data: Sequence[LabelledScene],
    val_data: Sequence[LabelledScene],
    out_dir: str | Path,
    *,
    on_epoch: Callable[[EpochReport], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    resume: bool = True,
) -> TrainResult:
    """`mlcore.training.trainer.train` for arch "maskrcnn": the same arguments, directory, result.

    Validation scores the semantic map (best score x mask at each pixel), so
    the best epoch and threshold mean what they mean for the other families.
    """
    config.validate()
    if config.model.arch != "maskrcnn":
        raise MlcoreError(
            f"train_instances trains arch 'maskrcnn', not {config.model.arch!r}; "
            "use mlcore.training.trainer.train for segmentation models."
        )
    loop.amp_dtype_for(config, loop.resolve_device(config.device))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if not resume:
        loop._clear(out_dir)
    state = loop._resume_state(out_dir) if resume else None
    spec = InputSpec.from_dict(state["fingerprint"]["input"]) if state else None
    data = loop.prepare_data(config, train_data, val_data, spec)
    data = replace(data, train=InstanceChips(data.train))
    if state and state["fingerprint"] != loop._fingerprint(config, data.spec):
        raise MlcoreError(
            f"{out_dir} holds a training with another model, chip size or input bands; "
            "use a new output directory, or start over without resuming."
        )
    init: dict[str, Any] | None = None
    if config.init_from and not state:
        init = load_model(config.init_from)[0].state_dict()
    run = InstanceTrainer(config, data, out_dir, init=init)
    try:
        return run.fit(state, on_epoch=on_epoch, should_stop=should_stop)
    finally:
        data.train.close()
        data.val.close()
