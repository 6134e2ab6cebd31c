"""`python -m mlcore predict`: map landslides over a scene with a trained model."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from mlcore.predict.predictor import InferenceConfig
from mlcore.predict.scene import predict_scene

DESCRIPTION = """\
Run a trained model over a scene of any size, block by block, and write the
landslide probability as a Cloud-Optimised GeoTIFF (uint8: probability x 254,
255 = nodata). With --polygons, also write the landslides as a GeoPackage
(layer "landslides": area_m2, mean_prob, max_prob) in the scene's CRS.
The scene's rasters must be given in the order the model was trained on.

An instance model (Mask R-CNN, arch "maskrcnn") gives one polygon per
landslide with a score (column "score"; mean_prob and max_prob hold it too),
so touching landslides stay apart; its map holds each landslide's score.
"""


def _paths(text: str) -> list[Path]:
    paths = [Path(p) for p in text.split(",") if p.strip()]
    if not paths:
        raise argparse.ArgumentTypeError("give at least one raster, e.g. post.tif,dem.tif")
    return paths


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "predict",
        help="probability map and landslide polygons of a scene",
        description=DESCRIPTION,
    )
    parser.add_argument("--model", required=True, type=Path, metavar="DIR", help="model directory")
    parser.add_argument(
        "--scene",
        required=True,
        type=_paths,
        metavar="POST.TIF[,DEM.TIF,...]",
        help="the scene's rasters, comma-separated, stacked on the first one's grid",
    )
    parser.add_argument("--out", required=True, type=Path, help="probability COG to write")
    parser.add_argument("--polygons", type=Path, metavar="OUT.GPKG", help="polygons to write")
    parser.add_argument(
        "--threshold",
        type=float,
        help="probability at or above which a pixel is a landslide, or for an instance "
        "model the score a landslide needs (default: the model's best validation threshold)",
    )
    parser.add_argument(
        "--min-area", type=float, default=0.0, metavar="M2", help="drop smaller polygons (m2)"
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        metavar="N",
        help="chips per forward pass (default: the fastest here, probed once per machine and "
        "kept in the model directory)",
    )
    parser.add_argument(
        "--channels-last",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="NHWC memory format for the network (default: whichever the probe found faster)",
    )
    parser.add_argument(
        "--amp",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="mixed precision (default: on CUDA; on a CPU with native bfloat16 where the "
        "probe found it faster and as exact as the stored map)",
    )
    parser.add_argument(
        "--runtime",
        choices=("torch", "onnxruntime"),
        help="what runs the network on the CPU (default: PyTorch, or ONNX Runtime where a "
        "long prediction's probe found it faster here)",
    )
    parser.add_argument(
        "--chip-size", type=int, metavar="N", help="chip side in pixels (default: as trained)"
    )
    parser.add_argument(
        "--overlap",
        type=int,
        metavar="N",
        help="pixels chips share (default: a quarter chip; half for an instance model)",
    )
    parser.add_argument(
        "--block-size", type=int, default=2048, metavar="N", help="pixels read at once (memory)"
    )
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument(
        "--tta",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="average each chip's map with its flips' (default: as the model was tuned)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config = InferenceConfig(
        chip_size=args.chip_size,
        overlap=args.overlap,
        batch_size=args.batch_size,
        channels_last=args.channels_last,
        amp=args.amp,
        block_size=args.block_size,
        device=args.device,
        tta=args.tta,
        runtime=args.runtime,
    )
    progress = _Progress()
    result = predict_scene(
        args.model,
        args.scene,
        args.out,
        polygons_path=args.polygons,
        config=config,
        threshold=args.threshold,
        min_area_m2=args.min_area,
        on_progress=progress,
    )
    progress.finish()
    print(
        f"{result.width} x {result.height} px in {result.blocks} blocks on {result.device}: "
        f"{result.seconds:.1f} s, {result.megapixels_per_s:.2f} Mpx/s"
    )
    print(f"probability map written to {result.probability_path}")
    if result.polygons is not None:
        area = float(result.polygons["area_m2"].sum())
        written = f" written to {result.polygons_path}" if result.polygons_path else ""
        print(
            f"{len(result.polygons)} polygons at threshold {result.threshold:.2f} "
            f"({area:,.0f} m2){written}"
        )
    return 0


class _Progress:
    """One updating line on a terminal; a line per tenth of the way when piped to a log."""

    def __init__(self) -> None:
        self.tty = sys.stdout.isatty()
        self.started = time.monotonic()
        self.shown = -1

    def __call__(self, fraction: float, message: str) -> None:
        elapsed = time.monotonic() - self.started
        line = f"{fraction:6.1%}  {elapsed:6.1f} s  {message}"
        if self.tty:
            print(f"\r{line:<70}", end="", flush=True)
        elif int(fraction * 10) > self.shown:
            self.shown = int(fraction * 10)
            print(line, flush=True)

    def finish(self) -> None:
        if self.tty:
            print()
