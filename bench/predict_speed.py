"""How fast prediction streams through a scene, and how much memory it holds.

    .venv/bin/python bench/predict_speed.py [--size 20000] [--device auto|cpu|cuda]
        [--model tiny|resnet18|resnet34] [--chip 256] [--overlap 64] [--batch 16]

Writes a synthetic scene (3-band uint8 image + float32 DEM, tiled and
DEFLATE-compressed, by windows, so making it needs no whole-scene array) and
an untrained model directory under --tmp, reused by later runs of the same
size. For one model, chip size and overlap it prints, in scene megapixels
per second:

  forward only  batched forward passes on chips already in device memory,
                as many as the scene's chip lattice needs (the ceiling)
  end to end    predict_scene in a fresh process: windowed reads of both
                rasters, stacking and normalising, forward, Hann blending,
                windowed writes and the COG; with its peak RSS
  naive loop    one chip at a time: read it, prepare it, forward it alone,
                no batching, no read-ahead (timed on a --naive-size window)

Target: end to end >= 0.8 of forward only; peak RSS < 2 GB at 20,000 x 20,000.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import rasterio
import torch
from rasterio.transform import from_origin
from rasterio.windows import Window

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mlcore.checkpoints import save_checkpoint  # noqa: E402
from mlcore.data.bands import BandRange, InputSpec  # noqa: E402
from mlcore.infer import InferenceConfig, Predictor, predict_scene  # noqa: E402
from mlcore.modeldir import BEST, CONFIG, FORMAT, write_json  # noqa: E402
from mlcore.models import ModelConfig, build_model  # noqa: E402
from mlcore.tiling import chip_starts  # noqa: E402

BANDS = ("red", "green", "blue", "dem")
MODELS = {
    "tiny": {"arch": "unet", "encoder": "none", "encoder_depth": 2, "base_channels": 8},
    "resnet18": {"arch": "unet", "encoder": "resnet18"},
    "resnet34": {"arch": "unet", "encoder": "resnet34"},
}


def write_scene(folder: Path, size: int) -> list[Path]:
    """image.tif and dem.tif of size x size px at 1 m, written 1024 rows at a time."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / "image.tif", folder / "dem.tif"]
    if all(p.exists() for p in paths):
        return paths
    profile = {
        "driver": "GTiff",
        "width": size,
        "height": size,
        "crs": "EPSG:32647",
        "transform": from_origin(500_000, 3_500_000, 1.0, 1.0),
        "tiled": True,
        "blockxsize": 512,
        "blockysize": 512,
        "compress": "DEFLATE",
        "bigtiff": "IF_SAFER",
    }
    rng = np.random.default_rng(0)
    x = np.arange(size, dtype=np.float32)
    with (
        rasterio.open(paths[0], "w", count=3, dtype="uint8", nodata=0, **profile) as image,
        rasterio.open(paths[1], "w", count=1, dtype="float32", nodata=-9999, **profile) as dem,
    ):
        image.descriptions = ("red", "green", "blue")
        for row in range(0, size, 1024):
            rows = min(1024, size - row)
            y = np.arange(row, row + rows, dtype=np.float32)[:, None]
            wave = 60 * np.sin(x / 97.0) * np.cos(y / 131.0)
            noise = rng.integers(0, 12, (3, rows, size), dtype=np.uint8)
            pixels = np.clip(110 + wave + noise, 1, 255).astype(np.uint8)
            window = Window(0, row, size, rows)
            image.write(pixels, window=window)
            dem.write(
                (3000 + 0.05 * x + 0.03 * y + wave / 4)[None].astype(np.float32), window=window
            )
    return paths


def write_model(folder: Path, name: str, chip: int) -> Path:
    """An untrained model directory in training's format: speed does not need skill."""
    if (folder / CONFIG).exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    config = ModelConfig(in_channels=len(BANDS), **MODELS[name])
    torch.manual_seed(0)
    sha = save_checkpoint(
        {"format": FORMAT, "epoch": 1, "model": build_model(config).state_dict()}, folder / BEST
    )
    ranges = [BandRange(b, 0.0, 255.0) for b in BANDS[:3]] + [BandRange("dem", 2900.0, 4000.0)]
    write_json(
        folder / CONFIG,
        {
            "format": FORMAT,
            "model": config.to_dict(),
            "input": InputSpec(BANDS, (), tuple(ranges)).to_dict(),
            "chip_size": chip,
            "threshold": 0.5,
            "best_epoch": 1,
            "checkpoint": {"file": BEST, "sha256": sha},
            "metrics": {},
            "scenes": {"train": ["image.tif,dem.tif"]},
        },
    )
    return folder


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


class Clock:
    """Wall and CPU time (all threads of this process) since it was made.

    On a shared machine wall time swings with the neighbours' load; Mpx per
    CPU second shows the work each way costs, whatever the load.
    """

    def __init__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def rates(self, mpx: float) -> tuple[float, float]:
        wall, cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu
        return mpx / wall, mpx / max(cpu, 1e-9)


@torch.inference_mode()
def forward_only(predictor: Predictor, size: int, seconds: float = 10.0) -> tuple[float, float]:
    """Scene Mpx/s if every chip of the scene's lattice were already in device memory."""
    cfg, device = predictor.config, predictor.device
    chips = len(chip_starts(size, cfg.chip_size, cfg.chip_size - cfg.overlap)) ** 2
    batch = torch.rand(cfg.batch_size, len(BANDS), cfg.chip_size, cfg.chip_size, device=device)
    for _ in range(2):
        predictor.forward(batch)
    _sync(device)
    done, clock = 0, Clock()
    while time.perf_counter() - clock.wall < seconds:
        predictor.forward(batch)
        done += cfg.batch_size
    _sync(device)
    return clock.rates(size * size / 1e6 * done / chips)


@torch.inference_mode()
def naive_loop(predictor: Predictor, paths: list[Path], window: int) -> tuple[float, float]:
    """Mpx/s of reading, preparing and predicting one chip at a time over a window."""
    cfg, device = predictor.config, predictor.device
    size, stride = cfg.chip_size, cfg.chip_size - cfg.overlap
    starts = chip_starts(window, size, stride)
    out = np.zeros((window, window), np.float32)
    with predictor.open_scene(paths) as scene:
        clock = Clock()
        for row in starts:
            for col in starts:
                raw, valid = scene.read(Window(col, row, size, size))
                x = predictor.spec.prepare(raw, valid, scene.res)
                prob = predictor.forward(torch.from_numpy(x)[None].to(device))[0].cpu().numpy()
                out[row : row + size, col : col + size] = prob
        _sync(device)
        return clock.rates(window * window / 1e6)


def peak_rss_mb() -> float:
    """This process's peak RSS: VmHWM on Linux, because ru_maxrss of a child also
    counts the parent's RSS at the fork."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def end_to_end_child(args: argparse.Namespace) -> None:
    """Run in a fresh process so that its peak RSS is prediction's alone."""
    config = _config(args)
    Predictor(args.model_dir, config)  # warm-up: imports, model load, cudnn choice
    rss_loaded = peak_rss_mb()
    clock = Clock()
    result = predict_scene(args.model_dir, args.scene, args.out, config=config)
    wall, cpu = clock.rates(result.width * result.height / 1e6)
    peak = peak_rss_mb()
    gpu_peak = torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else 0.0
    print(
        json.dumps(
            {
                "mpx_s": wall,
                "mpx_cpu_s": cpu,
                "seconds": result.seconds,
                "rss_loaded_mb": rss_loaded,
                "rss_peak_mb": peak,
                "gpu_peak_mb": gpu_peak,
                "device": result.device,
            }
        )
    )


def _config(args: argparse.Namespace) -> InferenceConfig:
    return InferenceConfig(
        chip_size=args.chip,
        overlap=args.overlap,
        batch_size=args.batch,
        block_size=args.block,
        device=args.device,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=20_000, help="scene side in pixels")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--model", default="tiny", choices=tuple(MODELS))
    parser.add_argument("--chip", type=int, default=256)
    parser.add_argument("--overlap", type=int, default=64)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--block", type=int, default=2048)
    parser.add_argument(
        "--naive-size", type=int, default=1024, help="window side for the naive loop"
    )
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    parser.add_argument("--tmp", type=Path, default=Path("/tmp"))
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--model-dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--scene", type=Path, nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.child:
        end_to_end_child(args)
        return

    work = args.tmp / "scarp-predict-bench"
    started = time.perf_counter()
    scene = write_scene(work / f"scene-{args.size}", args.size)
    made = time.perf_counter() - started
    model_dir = write_model(work / f"model-{args.model}-{args.chip}", args.model, args.chip)
    predictor = Predictor(model_dir, _config(args))
    child = [sys.executable, __file__, "--child", "--model-dir", str(model_dir), "--scene"]
    child += [str(p) for p in scene] + ["--out", str(work / "prob.tif")]
    child += [f"--{k}={getattr(args, k)}" for k in ("device", "chip", "overlap", "batch", "block")]
    child += [f"--threads={args.threads}"] if args.threads else []
    # Forward only before and after the long run, averaged: a shared machine's load drifts.
    before = forward_only(predictor, args.size)
    e2e = json.loads(subprocess.run(child, check=True, capture_output=True, text=True).stdout)
    after = forward_only(predictor, args.size)
    fwd = ((before[0] + after[0]) / 2, (before[1] + after[1]) / 2)
    naive = naive_loop(predictor, scene, min(args.naive_size, args.size))

    print(
        f"scene {args.size} x {args.size} ({args.size**2 / 1e6:.0f} Mpx, made in {made:.0f} s), "
        f"model {args.model}, chip {args.chip}, overlap {args.overlap}, batch {args.batch}, "
        f"block {args.block}, device {e2e['device']}, torch threads {torch.get_num_threads()}"
    )
    print(f"{'measure':<14}{'Mpx/s':>8}{'ratio':>7}{'Mpx/CPU-s':>11}{'ratio':>7}  notes")

    def row(name: str, rates: tuple[float, float], note: str) -> None:
        wall, cpu = rates
        print(
            f"{name:<14}{wall:>8.2f}{wall / fwd[0]:>7.2f}{cpu:>11.2f}{cpu / fwd[1]:>7.2f}  {note}"
        )

    row("forward only", fwd, f"in-memory chips; {before[0]:.2f} before, {after[0]:.2f} after e2e")
    gpu = f", GPU peak {e2e['gpu_peak_mb']:.0f} MB" if e2e["gpu_peak_mb"] else ""
    row(
        "end to end",
        (e2e["mpx_s"], e2e["mpx_cpu_s"]),
        f"{e2e['seconds']:.0f} s incl. COG; peak RSS {e2e['rss_peak_mb']:.0f} MB "
        f"({e2e['rss_loaded_mb']:.0f} MB once loaded){gpu}",
    )
    row("naive loop", naive, f"one chip at a time, {min(args.naive_size, args.size)} px window")


if __name__ == "__main__":
    main()
