"""`python -m mlcore train`: train a landslide segmentation model without the web app.

    python -m mlcore train --scene post.tif,dem.tif [--scene ...] \\
        --labels landslides.gpkg --extents extents.gpkg \\
        --arch unet --encoder resnet34 --epochs 20 --out models/first

Each --scene is one place: its rasters, comma-separated, stacked as bands on
the first one's grid. --labels and --extents take one or more vector files
(repeat the option or separate with commas) in any CRS; extents need a
`split` column of train, validation or test.
"""

from __future__ import annotations

import argparse
import signal
import threading
from pathlib import Path

from mlcore.data import DERIVED_BANDS, SceneSpec, StackedScene, label_scenes, read_vector
from mlcore.data.labels import check_extents
from mlcore.errors import MlcoreError
from mlcore.modeldir.checkpoints import read_sidecar
from mlcore.modeldir.directory import LAST
from mlcore.training.config import SCHEDULES
from mlcore.training.losses import LOSSES
from mlcore.training.recipes import DEFAULT_RECIPE, RECIPES, get_recipe
from mlcore.training.segmentation import EpochReport, TrainConfig, TrainingCancelled
from mlcore.training.tuning import train_and_tune


def _paths(values: list[str]) -> list[Path]:
    return [Path(p.strip()) for value in values for p in value.split(",") if p.strip()]


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "train",
        help="train a segmentation model on scenes, landslide polygons and mapped extents",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = p.add_argument
    add("--scene", action="append", required=True, metavar="RASTER[,RASTER...]")
    add("--labels", action="append", required=True, metavar="FILE[,FILE...]")
    add("--extents", action="append", required=True, metavar="FILE[,FILE...]")
    add("--out", required=True, type=Path, help="model directory to write")
    add(
        "--recipe",
        default=DEFAULT_RECIPE,
        help="; ".join(f"{r.name}: {r.summary}" for r in RECIPES.values())
        + f" (default {DEFAULT_RECIPE}); the options below override it",
    )
    add("--arch", default=None, help="unet, unetplusplus, deeplabv3plus, segformer, ...")
    add(
        "--encoder",
        default=None,
        help="resnet34, densenet121, mit_b0, ...; 'none' for the classic U-Net",
    )
    add("--encoder-depth", type=int, default=None)
    add("--base-channels", type=int, default=None, help="width of the classic U-Net")
    add("--epochs", type=int, default=None)
    add("--batch-size", type=int, default=None)
    add("--chip-size", type=int, default=None, help="chip side in model pixels")
    add("--scale", type=int, default=None, help="source pixels per model pixel (2: 1 m from 0.5 m)")
    add("--chips-per-epoch", type=int, default=None)
    add("--lr", type=float, default=None)
    add("--weight-decay", type=float, default=None)
    add("--loss", default=None, help=", ".join(LOSSES))
    add("--schedule", default=None, help=", ".join(SCHEDULES))
    add("--seed", type=int, default=None)
    add("--patience", type=int, default=None, help="early-stopping patience in epochs; 0: off")
    add("--val-stride", type=int, default=None, help="validation grid step in pixels")
    add("--max-val-chips", type=int, default=None, help="cap on validation chips per epoch")
    add(
        "--derive",
        default="auto",
        help=f"derived bands, comma-separated: {', '.join(DERIVED_BANDS)}; 'auto' (default): "
        "slope and relief when a scene has an elevation band (dsm, dem), in place of it",
    )
    add("--keep-elevation", action="store_true", help="give the network absolute elevation too")
    add("--no-tune", action="store_true", help="keep threshold 0.5-sweep only; no polygon tuning")
    add(
        "--tta",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="predict with test-time flips (4x the work; the recipe's choice by default)",
    )
    add("--workers", type=int, default=2, help="data loader processes (0: read in the main one)")
    add("--device", default="auto", help="auto, cpu or cuda (cuda without a GPU is an error)")
    add("--resume", action="store_true", help="continue the training saved in --out")
    p.set_defaults(func=run)


def _print_epoch(report: EpochReport) -> None:
    print(
        f"epoch {report.epoch}/{report.epochs}  loss {report.train_loss:.4f}  "
        f"val loss {report.val_loss:.4f}  F1@0.5 {report.f1:.3f}  "
        f"F1 {report.best_f1:.3f}@{report.best_threshold:.2f}  IoU {report.best_iou:.3f}  "
        f"P {report.best_precision:.3f} R {report.best_recall:.3f}  "
        f"lr {report.lr:.2e}  {report.seconds:.0f}s{'  *' if report.improved else ''}",
        flush=True,
    )


def run(args: argparse.Namespace) -> int:
    if (args.out / LAST).exists() and read_sidecar(args.out / LAST) and not args.resume:
        raise MlcoreError(
            f"{args.out} already holds a training; pass --resume to continue it "
            "or choose another --out."
        )
    scenes = [SceneSpec(_paths([value])) for value in args.scene]
    labels = [read_vector(p) for p in _paths(args.labels)]
    extents = []
    for path in _paths(args.extents):
        frame = read_vector(path)
        check_extents(frame, source=f"The extents in {path.name}")
        extents.append(frame)
    with StackedScene(scenes[0]) as first:
        bands = first.band_names
    config = _config(args, bands)
    labelled = label_scenes(scenes, labels, extents)
    stop = _StopOnInterrupt()
    try:
        with stop:
            result = train_and_tune(
                config, labelled, labelled, args.out, on_epoch=_print_epoch, should_stop=stop
            )
    except TrainingCancelled as exc:
        print(f"{exc} Rerun with --resume to continue.")
        return 130
    best = next(h for h in result.history if h["epoch"] == result.best_epoch)
    print(
        f"validation F1 {result.best_f1:.3f} at threshold {result.best_threshold:.2f} "
        f"(F1 {best['f1']:.3f} at 0.5, IoU {best['best_iou']:.3f}, epoch {result.best_epoch}"
        f"{', stopped early' if result.stopped_early else ''}); model in {args.out}"
    )
    if result.postprocess:
        post, tuned = result.postprocess["postprocess"], result.postprocess
        print(
            f"polygons: threshold {post['threshold']:.2f}, opening {post['opening']} px, "
            f"closing {post['closing']} px, smallest landslide {post['min_area_m2']:.0f} m2; "
            f"on validation pixel F1 {tuned['pixel_f1']:.3f}, object F1 {tuned['object_f1']:.3f}"
        )
    return 0


_OPTIONS = (
    "arch",
    "encoder",
    "encoder_depth",
    "base_channels",
    "epochs",
    "batch_size",
    "chip_size",
    "scale",
    "chips_per_epoch",
    "lr",
    "weight_decay",
    "loss",
    "schedule",
    "seed",
    "val_stride",
    "max_val_chips",
)


def _config(args: argparse.Namespace, bands: list[str]) -> TrainConfig:
    """The recipe's configuration with every option the user gave on top of it."""
    recipe = get_recipe(args.recipe)
    overrides = {k: getattr(args, k) for k in _OPTIONS if getattr(args, k) is not None}
    if args.patience is not None:
        overrides["early_stopping_patience"] = args.patience or None
    if args.derive.strip() != "auto":
        overrides["derived_bands"] = tuple(d.strip() for d in args.derive.split(",") if d.strip())
    if args.no_tune:
        overrides["tune_postprocess"] = False
    if args.tta is not None:
        overrides["tta"] = args.tta
    overrides.update(num_workers=args.workers, device=args.device)
    return recipe.config(bands, keep_elevation=args.keep_elevation, **overrides).validate()


class _StopOnInterrupt:
    """The first Ctrl-C asks training to stop after the batch (state saved); the second kills."""

    def __init__(self) -> None:
        self.asked = False
        self._previous = None

    def __call__(self) -> bool:
        return self.asked

    def _handle(self, signum, frame) -> None:
        if self.asked:
            raise KeyboardInterrupt
        self.asked = True
        print("\nstopping after this batch (Ctrl-C again to abort without saving)...", flush=True)

    def __enter__(self) -> _StopOnInterrupt:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
