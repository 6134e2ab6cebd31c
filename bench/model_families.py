"""Every model family on the same generated data: pixel F1, IoU, object F1 and time.

The data is a generated pre/post pair (tests/factories/change_scenes.py):
landslides that appear after the event (the labels), and bright bare ground
that is there on both dates. Single-image families see the post image only
and cannot tell the two apart; the Siamese family sees both. Each family
trains through its real path (mlcore.training.tuning.train_and_tune, which
picks the family's task, and mlcore.training.pretrain), predicts a second,
unseen pair through mlcore.predict.predictor (and Mask R-CNN's polygons
through mlcore.predict.instances), and is scored
against that pair's landslides: pixels at the model's own threshold, objects
matched one to one at IoU >= 0.5.

    .venv/bin/python bench/model_families.py --quick        # a few minutes on a CPU
    .venv/bin/python bench/model_families.py --device cuda  # the full run, on a GPU
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import rasterio
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mlcore.data import SceneSpec, label_scenes, read_vector  # noqa: E402
from mlcore.evaluation.metrics import ConfusionCounts  # noqa: E402
from mlcore.evaluation.objects import match_objects  # noqa: E402
from mlcore.models.registry import ModelConfig, build_model, family_of  # noqa: E402
from mlcore.predict.probability_raster import NODATA, threshold_value  # noqa: E402
from mlcore.predict.scene import predict_scene  # noqa: E402
from mlcore.training.config import TrainConfig  # noqa: E402
from mlcore.training.pretrain import PretrainConfig, finetune_config, pretrain  # noqa: E402
from mlcore.training.tuning import train_and_tune  # noqa: E402
from tests.factories.change_scenes import make_change_pair  # noqa: E402
from tests.factories.rasters import UTM47N  # noqa: E402


@dataclass(frozen=True)
class Family:
    name: str
    arch: str
    encoder: str
    quick_encoder: str | None = None  # a lighter one for --quick on a CPU
    pretrained: bool = False
    batch_size: int = 8
    lr: float = 3e-3

    @property
    def pair(self) -> bool:
        """Whether the family sees the post,pre pair (its registry traits say so)."""
        return family_of(self.arch).inputs == "pair"


FAMILIES = (
    Family("U-Net", "unet", "none"),
    Family("U-Net ResNet-34", "unet", "resnet34"),
    Family("U-Net++", "unetplusplus", "resnet34"),
    Family("DeepLabv3+", "deeplabv3plus", "resnet34"),
    Family("SegFormer", "segformer", "mit_b0"),
    Family("Siamese change", "siamese_unet", "resnet34", quick_encoder="none"),
    Family("Mask R-CNN", "maskrcnn", "resnet34", quick_encoder="none", batch_size=4, lr=2e-3),
    Family("U-Net pretrained", "unet", "none", pretrained=True),
)


@dataclass
class Settings:
    size: int
    chip: int
    epochs: int
    chips: int
    base: int
    quick: bool
    device: str


def _model(family: Family, s: Settings) -> ModelConfig:
    encoder = family.quick_encoder if s.quick and family.quick_encoder else family.encoder
    depth = 3 if encoder == "none" and s.quick else 4 if encoder == "none" else 5
    return ModelConfig(
        arch=family.arch,
        encoder=encoder,
        in_channels=6 if family.pair else 3,
        encoder_depth=depth,
        base_channels=s.base,
    )


def _train(family: Family, model: ModelConfig, data, s: Settings, out: Path) -> None:
    pair, _ = data
    rasters = [pair.post, pair.pre] if family.pair else [pair.post]
    scenes = label_scenes(
        [SceneSpec(rasters)], [read_vector(pair.landslides)], [read_vector(pair.extents)]
    )
    config = TrainConfig(
        model=model,
        epochs=s.epochs,
        batch_size=family.batch_size,
        chip_size=s.chip,
        lr=family.lr,
        chips_per_epoch=s.chips,
        early_stopping_patience=None,
        num_workers=0,
        device=s.device,
    )
    if family.pretrained:
        unlabelled = [SceneSpec([pair.post]), SceneSpec([pair.pre])]
        pre = PretrainConfig(
            model=model,
            epochs=s.epochs,
            chip_size=s.chip,
            chips_per_epoch=2 * s.chips,
            lr=3e-3,
            patch_size=s.chip // 8,
            device=s.device,
        )
        pretrain(pre, unlabelled, out / "pretrained")
        config = finetune_config(config, out / "pretrained")
    train_and_tune(config, scenes, scenes, out / "model")  # the family's own task; no tuning


def _scores(family: Family, model_dir: Path, test, reference, out: Path) -> dict[str, float]:
    rasters = [test.post, test.pre] if family.pair else [test.post]
    result = predict_scene(model_dir, rasters, out / "prob.tif", polygons_path=out / "p.gpkg")
    with rasterio.open(result.probability_path) as src:
        stored = src.read(1)
    predicted = (stored >= threshold_value(result.threshold)) & (stored != NODATA)
    pixels = ConfusionCounts.from_masks(predicted, test.new_mask).scores()
    # Every family through predict_scene: Mask R-CNN's polygons are its own instances.
    polygons = result.polygons
    matched = match_objects(polygons.to_crs(UTM47N).geometry.values, reference)
    return {"f1": pixels.f1 or 0.0, "iou": pixels.iou or 0.0, "object_f1": matched.f1 or 0.0}


def run_family(family: Family, data, s: Settings, root: Path) -> dict[str, object]:
    model = _model(family, s)
    out = root / family.name.replace(" ", "_")
    started = time.perf_counter()
    _train(family, model, data, s, out)
    trained = time.perf_counter()
    pair, test = data
    reference = read_vector(test.landslides).to_crs(UTM47N).geometry.values
    scores = _scores(family, out / "model", test, reference, out)
    params = sum(p.numel() for p in build_model(model).parameters()) / 1e6
    return {
        "family": family.name,
        "model": f"{model.arch}/{model.encoder}",
        "params_m": params,
        **scores,
        "train_s": trained - started,
        "predict_s": time.perf_counter() - trained,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small scenes, few epochs (CPU)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=1, help="torch threads on the CPU")
    parser.add_argument("--only", default="", help="comma-separated family names to run")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    s = (
        Settings(256, 64, 3, 64, 16, True, args.device)
        if args.quick
        else Settings(768, 128, 10, 512, 32, False, args.device)
    )
    wanted = {n.strip() for n in args.only.split(",") if n.strip()}
    families = [f for f in FAMILIES if not wanted or f.name in wanted]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        data = (
            make_change_pair(root / "train", size=s.size, seed=1),
            make_change_pair(root / "test", size=s.size, seed=2),
        )
        print(
            f"train and test pairs {s.size} px, chips {s.chip} px, "
            f"{s.epochs} epochs x {s.chips} chips, device {args.device}, "
            f"torch threads {torch.get_num_threads()}"
        )
        header = (
            f"{'family':<18}{'model':<24}{'params':>8}{'F1':>7}{'IoU':>7}{'obj F1':>8}"
            f"{'train s':>9}{'pred s':>8}"
        )
        print(header)
        print("-" * len(header))
        for family in families:
            row = run_family(family, data, s, root)
            print(
                f"{row['family']:<18}{row['model']:<24}{row['params_m']:>7.2f}M"
                f"{row['f1']:>7.3f}{row['iou']:>7.3f}{row['object_f1']:>8.3f}"
                f"{row['train_s']:>9.1f}{row['predict_s']:>8.1f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
