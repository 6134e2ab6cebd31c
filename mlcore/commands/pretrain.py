"""`python -m mlcore pretrain`: self-supervised pretraining on unlabelled scenes.

    python -m mlcore pretrain --scene post.tif,dem.tif [--scene ...] \\
        --arch unet --encoder resnet18 --epochs 10 --out models/pretrained

Each --scene is one place: its rasters, comma-separated, stacked as bands on
the first one's grid, exactly as they will be given to training. No labels
are needed. The output is a model directory to start training from
(TrainConfig.init_from, via mlcore.training.pretrain.finetune_config, which records
the pretraining in the fine-tuned model's config.json); train the same
--arch, --encoder and --encoder-depth on the same bands.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mlcore.data import SceneSpec, StackedScene
from mlcore.errors import MlcoreError
from mlcore.modeldir.checkpoints import read_sidecar
from mlcore.modeldir.directory import LAST
from mlcore.models.registry import ModelConfig
from mlcore.training.pretrain import METHODS, PretrainConfig, pretrain


def _scene(value: str) -> SceneSpec:
    return SceneSpec([Path(p.strip()) for p in value.split(",") if p.strip()])


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "pretrain",
        help="pretrain a segmentation network on unlabelled scenes (masked or denoising)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = p.add_argument
    add("--scene", action="append", required=True, metavar="RASTER[,RASTER...]")
    add("--out", required=True, type=Path, help="model directory to write")
    add("--arch", default="unet", help="unet, unetplusplus, deeplabv3plus, segformer, ...")
    add("--encoder", default="resnet34", help="resnet18, resnet34, ...; 'none': classic U-Net")
    add("--encoder-depth", type=int, default=5)
    add("--base-channels", type=int, default=32, help="width of the classic U-Net")
    add("--method", default="masked", choices=METHODS)
    add("--mask-ratio", type=float, default=0.6, help="share of patches hidden (masked)")
    add("--patch-size", type=int, default=16, help="side of a hidden patch in pixels")
    add("--noise-std", type=float, default=0.3, help="noise in normalised units (denoising)")
    add("--epochs", type=int, default=10)
    add("--batch-size", type=int, default=8)
    add("--chip-size", type=int, default=256, help="chip side in pixels")
    add("--chips-per-epoch", type=int, default=1024)
    add("--lr", type=float, default=1e-3)
    add("--seed", type=int, default=0)
    add("--workers", type=int, default=0, help="data loader processes (0: read in the main one)")
    add("--device", default="auto", help="auto, cpu or cuda (cuda without a GPU is an error)")
    add("--resume", action="store_true", help="continue the pretraining saved in --out")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if (args.out / LAST).exists() and read_sidecar(args.out / LAST) and not args.resume:
        raise MlcoreError(
            f"{args.out} already holds a pretraining; pass --resume to continue it "
            "or choose another --out."
        )
    scenes = [_scene(value) for value in args.scene]
    with StackedScene(scenes[0]) as first:
        channels = first.count
    config = PretrainConfig(
        model=ModelConfig(
            arch=args.arch,
            encoder=args.encoder,
            in_channels=channels,
            encoder_depth=args.encoder_depth,
            base_channels=args.base_channels,
        ),
        method=args.method,
        mask_ratio=args.mask_ratio,
        patch_size=args.patch_size,
        noise_std=args.noise_std,
        epochs=args.epochs,
        batch_size=args.batch_size,
        chip_size=args.chip_size,
        chips_per_epoch=args.chips_per_epoch,
        lr=args.lr,
        seed=args.seed,
        num_workers=args.workers,
        device=args.device,
    ).validate()

    def report(epoch: dict) -> None:
        print(
            f"epoch {epoch['epoch']}/{epoch['epochs']}  reconstruction loss {epoch['loss']:.4f}  "
            f"{epoch['seconds']:.0f}s",
            flush=True,
        )

    result = pretrain(config, scenes, args.out, on_epoch=report, resume=args.resume)
    print(
        f"pretrained {args.arch}/{args.encoder} ({args.method}) for {result.epochs_run} epochs, "
        f"final loss {result.final_loss:.4f}; fine-tune from {args.out}"
    )
    return 0
