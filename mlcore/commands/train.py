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

from mlcore.checkpoints import read_sidecar
from mlcore.data import DERIVED_BANDS, SceneSpec, StackedScene, label_scenes, read_vector
from mlcore.data.labels import check_extents
from mlcore.errors import MlcoreError
from mlcore.instances import train_instances
from mlcore.losses import LOSSES
from mlcore.modeldir import LAST
from mlcore.models import ModelConfig
from mlcore.train import EpochReport, TrainConfig, TrainingCancelled, train
from mlcore.trainconfig import SCHEDULES


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
    add("--arch", default="unet", help="unet, unetplusplus, deeplabv3plus, segformer")
    add(
        "--encoder",
        default="resnet34",
        help="resnet34, densenet121, mit_b0, ...; 'none' for the classic U-Net",
    )
    add("--encoder-depth", type=int, default=5)
    add("--base-channels", type=int, default=32, help="width of the classic U-Net")
    add("--epochs", type=int, default=20)
    add("--batch-size", type=int, default=8)
    add("--chip-size", type=int, default=256, help="chip side in pixels")
    add("--chips-per-epoch", type=int, default=1024)
    add("--lr", type=float, default=1e-3)
    add("--weight-decay", type=float, default=1e-4)
    add("--loss", default="bce_dice", help=", ".join(LOSSES))
    add("--schedule", default="cosine", help=", ".join(SCHEDULES))
    add("--seed", type=int, default=0)
    add("--patience", type=int, default=5, help="early-stopping patience in epochs; 0 turns it off")
    add("--val-stride", type=int, default=None, help="validation grid step in pixels")
    add("--max-val-chips", type=int, default=None, help="cap on validation chips per epoch")
    add("--derive", default="", help=f"derived bands, comma-separated: {', '.join(DERIVED_BANDS)}")
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
    derived = tuple(d.strip() for d in args.derive.split(",") if d.strip())
    with StackedScene(scenes[0]) as first:
        channels = first.count + len(derived)
    model = ModelConfig(
        arch=args.arch,
        encoder=args.encoder,
        in_channels=channels,
        encoder_depth=args.encoder_depth,
        base_channels=args.base_channels,
    )
    config = TrainConfig(
        model=model,
        epochs=args.epochs,
        batch_size=args.batch_size,
        chip_size=args.chip_size,
        chips_per_epoch=args.chips_per_epoch,
        lr=args.lr,
        weight_decay=args.weight_decay,
        loss=args.loss,
        schedule=args.schedule,
        seed=args.seed,
        early_stopping_patience=args.patience or None,
        val_stride=args.val_stride,
        max_val_chips=args.max_val_chips,
        derived_bands=derived,
        num_workers=args.workers,
        device=args.device,
    ).validate()
    labelled = label_scenes(scenes, labels, extents)
    stop = _StopOnInterrupt()
    try:
        with stop:
            fit = train_instances if config.model.arch == "maskrcnn" else train
            result = fit(
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
    return 0


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
