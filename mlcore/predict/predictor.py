"""Tiled inference: a scene of any size in, a probability COG (and polygons) out.

The scene is read in blocks (default 2048 px); each block is prepared the
way training prepared chips, cut into overlapping chips on a scene-wide
lattice, run in batches, and blended with Hann weights so chip borders leave
no seams. The next block is read in a background thread while the model
works on this one. Memory depends on the block and chip sizes, not on the
scene's size (a cache of border chips grows with its width, to 128 MB at
most). See `mlcore.predict.probability_raster` for the stored encoding (0-254, 255 nodata).

One worker: `predict_scene`. Many workers: `plan_blocks` once, `predict_block`
for each block anywhere (blocks are JSON-serialisable), then `merge_blocks`
and `vectorize`; the result equals one worker's, bit for bit on the CPUs
tried (at most 1/254 apart where a kernel rounds a batch differently).

A Mask R-CNN model (`is_instance_model`) goes through `predict_scene` too, on
one worker only: `mlcore.predict.instances` outlines each landslide whole, so a
block border must not cut one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import rasterio
import torch

from mlcore.data.bands import InputSpec
from mlcore.data.model_input import Region, open_scene, read_region
from mlcore.data.scenes import SceneSpec, StackedScene
from mlcore.device import amp_dtype, resolve_device
from mlcore.errors import Cancelled, MlcoreError
from mlcore.modeldir.directory import load_model, read_config
from mlcore.models.registry import INSTANCE, family_of
from mlcore.predict.forward_plan import (
    ONNX_WORTH_S,
    RUNTIMES,
    ForwardPlan,
    cpu_has_bf16,
    forward_plan,
    try_onnxruntime,
)
from mlcore.predict.onnx_forward import (
    OnnxForward,
    forward_file,
    forward_path,
    onnxruntime_available,
)
from mlcore.predict.postprocess import Postprocess
from mlcore.predict.probability_raster import (
    encode,
    merge_block_files,
    probability_writer,
    threshold_value,
    write_block,
)
from mlcore.predict.tiling import Block, blend_weights, check_tiling, plan_grid
from mlcore.predict.vectorize import write_polygons_gpkg

ProgressCallback = Callable[[float, str], None]
StopCallback = Callable[[], bool]

# GDAL's block cache defaults to 5% of RAM; prediction streams, so a small one is enough.
_GDAL_CACHE_MB = 64
# Shares of the progress bar: inference, COG writing, vectorising.
_INFER_SHARE, _COG_SHARE = 0.85, 0.05
# Test-time augmentation: the chip as it is, mirrored left-right, top-bottom, and both.
_FLIPS: tuple[tuple[int, ...], ...] = ((), (-1,), (-2,), (-2, -1))


# should_stop() asked to stop; nothing was written at the output paths.
PredictionCancelled = Cancelled


@dataclass(frozen=True, kw_only=True)
class InferenceConfig:
    """How to run a model over a scene. None means "as the model was trained" (chip size)
    or a quarter of the chip (overlap); `amp` None means mixed precision on CUDA only.

    `batch_size`, `channels_last` and `runtime` None mean "the fastest here":
    a rule on CUDA, a short probe cached in the model directory on the CPU
    (see `mlcore.predict.forward_plan`); a value given is used as it is.
    `runtime` "onnxruntime" runs the network in ONNX Runtime (CPU only).
    """

    chip_size: int | None = None
    overlap: int | None = None
    batch_size: int | None = None
    block_size: int = 2048
    device: str = "auto"
    amp: bool | None = None
    channels_last: bool | None = None
    # Test-time augmentation: each chip's map averaged with those of its three flips
    # (4x the network's work). None: as the model's recipe chose (config.json).
    tta: bool | None = None
    runtime: str | None = None

    def resolved(self, model_chip_size: int, model_tta: bool = False) -> InferenceConfig:
        """Concrete sizes, checked; a bad value is an MlcoreError that says which."""
        chip = self.chip_size or model_chip_size
        overlap = chip // 4 if self.overlap is None else self.overlap
        check_tiling(chip, overlap, self.block_size)
        if self.batch_size is not None and self.batch_size < 1:
            raise MlcoreError(f"The batch size must be at least 1, not {self.batch_size}.")
        if self.runtime is not None and self.runtime not in RUNTIMES:
            raise MlcoreError(
                f"Unknown runtime {self.runtime!r}; choose one of: {', '.join(RUNTIMES)}."
            )
        if self.runtime == "onnxruntime" and self.amp:
            raise MlcoreError(
                "The onnxruntime runtime computes in float32; leave amp unset or predict "
                "with the torch runtime."
            )
        tta = model_tta if self.tta is None else self.tta
        return replace(self, chip_size=chip, overlap=overlap, tta=tta)


def model_tta(model_config: dict[str, Any]) -> bool:
    """Whether a model directory predicts with test-time flips: its recipe asked for them
    (TrainConfig.tta) and its family draws maps that flips can average."""
    asked = bool((model_config.get("train") or {}).get("tta", False))
    return asked and family_of(model_config["model"]["arch"]).flips_at_prediction


@dataclass
class PredictResult:
    probability_path: Path
    polygons_path: Path | None
    polygons: gpd.GeoDataFrame | None
    width: int
    height: int
    blocks: int
    threshold: float
    device: str
    seconds: float

    @property
    def megapixels_per_s(self) -> float:
        return self.width * self.height / 1e6 / max(self.seconds, 1e-9)


class Predictor:
    """A model loaded on its device, ready to predict blocks; reuse it across blocks.

    `expected_sha256` is the checkpoint hash the caller recorded (the web app
    keeps it on the ModelVersion); without it, config.json's is trusted.
    """

    def __init__(
        self,
        model_dir: str | Path,
        config: InferenceConfig | None = None,
        *,
        expected_sha256: str | None = None,
    ) -> None:
        self.model_dir = Path(model_dir)
        self.model_config: dict[str, Any] = read_config(self.model_dir)
        config = config or InferenceConfig()
        self.device = resolve_device(config.device)
        if config.amp and self.device.type != "cuda" and not cpu_has_bf16():
            raise MlcoreError(
                "Mixed precision (amp) runs on CUDA, or on a CPU with native bfloat16 "
                "(AVX512-BF16, AMX); this CPU has neither: leave it unset."
            )
        model, _, meta = load_model(self.model_dir, expected_sha256=expected_sha256)
        self.spec = meta["input"]
        self.threshold: float = float(meta["threshold"])
        self.config = config.resolved(int(meta["chip_size"]), model_tta(self.model_config))
        self.amp_dtype = amp_dtype(config.amp, self.device)
        self.model = model.to(self.device)
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True
        self.forward_choice = self._forward_plan()
        self.config = replace(
            self.config,
            batch_size=self.forward_choice.batch_size,
            channels_last=self.forward_choice.channels_last,
        )
        if self.forward_choice.channels_last:
            self.model.to(memory_format=torch.channels_last)
        if self.device.type == "cpu" and self.forward_choice.bf16:
            self.amp_dtype = torch.bfloat16
        self.onnx: OnnxForward | None = None
        wanted = config.runtime or self.forward_choice.runtime
        if wanted == "onnxruntime":
            self._use_onnxruntime(given=config.runtime is not None)

    def _use_onnxruntime(self, *, given: bool) -> None:
        """Run the network in ONNX Runtime from now on (float32, the exported graph).

        Given by the user, a failure is theirs to see; taken from a stored
        plan, ONNX Runtime is only the faster way, and anything that stops it
        here (the package gone, a graph that cannot be written or read) keeps
        PyTorch as planned, bfloat16 included.
        """
        if self.device.type != "cpu" or self._kind == INSTANCE:
            if not given:
                return
            raise MlcoreError(
                "The onnxruntime runtime predicts mask models on the CPU; this is "
                f"{'an instance model' if self._kind == INSTANCE else self.device.type}: "
                "use the torch runtime."
            )
        sha = self.model_config["checkpoint"]["sha256"]
        if not given and not forward_path(self.model_dir, sha).is_file():
            # A stored plan is no reason for a silent export in every worker that opens the
            # model (a split run's blocks): without the graph at hand, PyTorch as planned.
            self.forward_choice = replace(self.forward_choice, runtime="torch")
            return
        try:
            runtime = OnnxForward(forward_file(self.model_dir, sha), torch.get_num_threads())
        except Exception as exc:  # noqa: BLE001 - exporter and runtime raise many kinds
            if given:
                raise MlcoreError(
                    f"{self.model_dir.name} cannot run in ONNX Runtime here ({exc}); "
                    "predict with the torch runtime."
                ) from exc
            self.forward_choice = replace(self.forward_choice, runtime="torch")
            return
        self._adopt(runtime)

    def _adopt(self, runtime: OnnxForward) -> None:
        self.onnx = runtime
        self.amp_dtype = None
        self.forward_choice = replace(self.forward_choice, runtime="onnxruntime")

    def consider_onnxruntime(self, chips: int, on_start: Callable[[], None] | None = None) -> None:
        """Time ONNX Runtime against the plan when `chips` chips are enough work to pay for an
        export (`ONNX_WORTH_S`), once per machine and model; a runtime given is kept.
        `on_start` hears when the export and timing begin (tens of seconds)."""
        plan = self.forward_choice
        forwards = chips * (4 if self.config.tta else 1)
        if (
            self.onnx is not None
            or self.config.runtime is not None
            or plan.source not in ("probe", "cached probe")
            or plan.onnx_checked
            or self.device.type != "cpu"
            or self._kind == INSTANCE
            or not plan.chips_per_s
            or forwards / plan.chips_per_s < ONNX_WORTH_S
            or not onnxruntime_available()
        ):
            return
        if on_start:
            on_start()
        self.forward_choice, runtime = try_onnxruntime(
            plan,
            self.model,
            in_channels=len(self.spec.ranges),
            chip_size=int(self.config.chip_size),
            model_dir=self.model_dir,
            sha256=self.model_config["checkpoint"]["sha256"],
        )
        if runtime is not None:
            self._adopt(runtime)

    @property
    def _kind(self) -> str:
        return family_of(self.model_config["model"]["arch"]).kind

    def _forward_plan(self) -> ForwardPlan:
        """Batch size and memory format: the user's where given, else the fastest here."""
        cfg = self.config
        if self._kind == INSTANCE:  # lists of images
            return ForwardPlan(cfg.batch_size or 8, bool(cfg.channels_last), "given")
        return forward_plan(
            self.model,
            self.device,
            in_channels=len(self.spec.ranges),
            chip_size=int(cfg.chip_size),
            model_dir=self.model_dir,
            batch_size=cfg.batch_size,
            channels_last=cfg.channels_last,
            amp=cfg.amp,
        )

    def open_scene(self, scene_paths: Sequence[str | Path]) -> StackedScene:
        return open_scene(scene_paths, self.spec, self.model_config)

    def plan(self, scene: StackedScene) -> list[Block]:
        cfg = self.config
        return plan_grid(
            scene.width,
            scene.height,
            chip_size=cfg.chip_size,
            overlap=cfg.overlap,
            block_size=cfg.block_size,
        )

    def read(self, scene: StackedScene, block: Block) -> Region:
        if (scene.width, scene.height) != (block.scene_width, block.scene_height):
            raise MlcoreError(
                f"Block {block.index} was planned on a {block.scene_width} x "
                f"{block.scene_height} scene, not on {scene.spec.name} "
                f"({scene.width} x {scene.height}); plan the blocks again."
            )
        return read_region(scene, self.spec, block.region())

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        """Probabilities (N, rows, cols) as float32 for a batch of prepared chips."""
        if self.onnx is not None:
            return self._forward_onnx(batch)
        if self.config.channels_last:
            batch = batch.contiguous(memory_format=torch.channels_last)
        enabled = self.amp_dtype is not None
        # A landslide has no preferred side in a chip: flipped, the network sees it anew,
        # and the average of the four maps is steadier at outlines (measured in
        # bench/model_quality.py: fewer fragments on unseen ground).
        flips = _FLIPS if self.config.tta else _FLIPS[:1]
        total = torch.zeros((), device=batch.device)
        for dims in flips:
            with torch.autocast(
                self.device.type, dtype=self.amp_dtype or torch.float16, enabled=enabled
            ):
                logits = self.model(batch.flip(dims) if dims else batch)
            prob = torch.sigmoid(logits[:, 0].float())
            total = total + (prob.flip(dims) if dims else prob)
        return total / len(flips)

    def _forward_onnx(self, batch: torch.Tensor) -> torch.Tensor:
        """`forward` through ONNX Runtime, flips and all, on numpy arrays."""
        x = batch.cpu().numpy()
        flips = _FLIPS if self.config.tta else _FLIPS[:1]
        total = np.zeros((x.shape[0], x.shape[2], x.shape[3]), np.float32)
        for dims in flips:
            prob = self.onnx(np.flip(x, dims) if dims else x)
            total += np.flip(prob, dims) if dims else prob
        return torch.from_numpy(total / len(flips))

    @torch.inference_mode()
    def predict(
        self,
        region: Region,
        block: Block,
        should_stop: StopCallback | None = None,
        cache: ChipCache | None = None,
    ) -> np.ndarray:
        """The block's core as stored bytes (rows, cols): blended chips, 255 where nodata."""
        size = block.chip_size
        r_off, c_off = int(region.window.row_off), int(region.window.col_off)
        core_valid = region.valid[
            block.row - r_off : block.row - r_off + block.height,
            block.col - c_off : block.col - c_off + block.width,
        ]
        if not core_valid.any():
            return encode(np.zeros(core_valid.shape, np.float32), core_valid)
        chips = [
            (r, c)
            for r, c in block.chips()
            if region.valid[r - r_off : r - r_off + size, c - c_off : c - c_off + size].any()
        ]
        x = torch.from_numpy(region.x).to(self.device)
        weights = torch.tensor(blend_weights(size), device=self.device)
        outputs = {chip: cache.get(chip) for chip in chips} if cache else {}
        todo = [chip for chip in chips if outputs.get(chip) is None]
        for start in range(0, len(todo), self.config.batch_size):
            if should_stop and should_stop():
                raise PredictionCancelled("Prediction was cancelled; nothing was written.")
            batch = todo[start : start + self.config.batch_size]
            stack = [
                x[:, r - r_off : r - r_off + size, c - c_off : c - c_off + size] for r, c in batch
            ]
            outputs.update(zip(batch, self.forward(torch.stack(stack)) * weights, strict=True))
        total = torch.zeros((block.height, block.width), device=self.device)
        weight_sum = torch.zeros_like(total)
        # In lattice order, cached or not, so every pixel sums the same terms the same way.
        for r, c in chips:
            r0, r1 = max(r, block.row), min(r + size, block.row + block.height)
            c0, c1 = max(c, block.col), min(c + size, block.col + block.width)
            out = (slice(r0 - block.row, r1 - block.row), slice(c0 - block.col, c1 - block.col))
            inner = (slice(r0 - r, r1 - r), slice(c0 - c, c1 - c))
            total[out] += outputs[(r, c)][inner]
            weight_sum[out] += weights[inner]
            if cache:
                cache.done((r, c), block, outputs[(r, c)])
        prob = (total / weight_sum.clamp_min(1e-12)).cpu().numpy()
        return encode(prob, core_valid)


class ChipCache:
    """Weighted outputs of chips that straddle a block border, kept for the later
    blocks of the same run, so that one run computes each chip once.

    Without it a 2048 px block grid recomputes about one chip row and column
    per block, 10-20% of all chips. A chip is kept until the last block it
    touches (the one holding its bottom-right pixel; blocks go row by row),
    so the cache holds about two chip rows across the scene: it grows with
    the scene's width only, and past `max_bytes` chips are simply computed
    again (to the same values).
    """

    def __init__(self, blocks: Sequence[Block], max_bytes: int = 128 * 2**20) -> None:
        self.block_width, self.block_height = blocks[0].width, blocks[0].height
        self.columns = len({b.col for b in blocks})
        self.max_bytes, self.bytes = max_bytes, 0
        self._kept: dict[tuple[int, int], torch.Tensor] = {}

    def get(self, chip: tuple[int, int]) -> torch.Tensor | None:
        return self._kept.get(chip)

    def done(self, chip: tuple[int, int], block: Block, output: torch.Tensor) -> None:
        """`block` used `output` of `chip`: keep it for a later block, or let it go."""
        row = min(chip[0] + block.chip_size, block.scene_height) - 1
        col = min(chip[1] + block.chip_size, block.scene_width) - 1
        last = row // self.block_height * self.columns + col // self.block_width
        size = output.numel() * output.element_size()
        if last == block.index:
            if self._kept.pop(chip, None) is not None:
                self.bytes -= size
        elif chip not in self._kept and self.bytes + size <= self.max_bytes:
            self._kept[chip] = output.clone()  # not a view that would pin its whole batch
            self.bytes += size


def plan_blocks(
    model_dir: str | Path, scene_paths: Sequence[str | Path], config: InferenceConfig | None = None
) -> list[Block]:
    """The blocks a scene splits into, for `predict_block` on as many workers as there are.

    Reads only config.json and the rasters' headers, so planning is cheap; a
    scene whose bands do not fit the model is refused here, before any work.
    """
    model_config = read_config(model_dir)
    config = (config or InferenceConfig()).resolved(
        int(model_config["chip_size"]), model_tta(model_config)
    )
    spec = InputSpec.from_dict(model_config["input"])
    with open_scene(scene_paths, spec, model_config) as scene:
        width, height = scene.width, scene.height
    return plan_grid(
        width,
        height,
        chip_size=config.chip_size,
        overlap=config.overlap,
        block_size=config.block_size,
    )


def predict_block(
    model_dir: str | Path | Predictor,
    scene_paths: Sequence[str | Path],
    block: Block,
    out_dir: str | Path,
    *,
    config: InferenceConfig | None = None,
    should_stop: StopCallback | None = None,
) -> Path:
    """Predict one block's core into a small GeoTIFF in out_dir and return its path.

    The chip size and overlap are the block's (from the plan); `config` sets
    the device and batch size. Pass a Predictor to keep the model loaded
    between blocks.
    """
    predictor = model_dir if isinstance(model_dir, Predictor) else Predictor(model_dir, config)
    family = family_of(predictor.model_config["model"]["arch"])
    if not family.splits_into_blocks:
        raise MlcoreError(
            f"A {family.title} model predicts a scene whole (predict_scene): a landslide cut "
            "by a block border must be seen whole, so its blocks cannot be predicted apart."
        )
    with rasterio.Env(GDAL_CACHEMAX=_GDAL_CACHE_MB), predictor.open_scene(scene_paths) as scene:
        data = predictor.predict(predictor.read(scene, block), block, should_stop)
        crs, transform = scene.crs, scene.transform
    return write_block(block, data, crs=crs, transform=transform, out_dir=Path(out_dir))


def merge_blocks(
    block_paths: Sequence[str | Path],
    scene_paths: Sequence[str | Path],
    out_path: str | Path,
    *,
    model_dir: str | Path | None = None,
) -> Path:
    """Put the block files of one plan together into the scene's probability COG.

    The grid is the model's (`model_dir`: a model on coarser pixels than the
    scene predicted on those); without it, the scene's own.
    """
    scale = InputSpec.from_dict(read_config(model_dir)["input"]).scale if model_dir else 1
    with StackedScene(SceneSpec(list(scene_paths)), scale) as scene:
        grid = {"width": scene.width, "height": scene.height}
        grid.update(crs=scene.crs, transform=scene.transform)
    with rasterio.Env(GDAL_CACHEMAX=_GDAL_CACHE_MB):
        return merge_block_files([Path(p) for p in block_paths], Path(out_path), **grid)


def model_postprocess(
    model_dir: str | Path, *, threshold: float | None = None, min_area_m2: float | None = None
) -> Postprocess:
    """How this model's probability maps become polygons: what validation chose (saved in
    config.json by training), with the threshold or minimum area a user chose instead."""
    config = read_config(model_dir)
    saved = Postprocess.from_dict(config.get("postprocess"), float(config.get("threshold", 0.5)))
    return saved.overridden(threshold=threshold, min_area_m2=min_area_m2)


def scene_polygons(
    model_dir: str | Path,
    prob_path: str | Path,
    *,
    threshold: float | None = None,
    min_area_m2: float | None = None,
    block_size: int = 2048,
) -> gpd.GeoDataFrame:
    """The landslide polygons of a probability map this model wrote, the one way every
    prediction path (CLI, app job, split run) draws them."""
    post = model_postprocess(model_dir, threshold=threshold, min_area_m2=min_area_m2)
    return post.polygons(prob_path, block_size=block_size)


def is_instance_model(model_dir: str | Path) -> bool:
    """Whether the model outlines landslides one by one (Mask R-CNN) rather than drawing a mask."""
    return family_of(read_config(model_dir)["model"]["arch"]).kind == INSTANCE


def predict_semantic_scene(
    model_dir: str | Path,
    scene_paths: Sequence[str | Path],
    out_path: str | Path,
    *,
    polygons_path: str | Path | None = None,
    config: InferenceConfig | None = None,
    threshold: float | None = None,
    min_area_m2: float = 0.0,
    expected_sha256: str | None = None,
    on_progress: ProgressCallback | None = None,
    should_stop: StopCallback | None = None,
) -> PredictResult:
    """Predict a whole scene with a mask model (semantic or change) into a probability COG
    and, with polygons_path, a GeoPackage; `mlcore.predict.scene.predict_scene` calls it.

    `threshold` defaults to the model's best validation threshold. Raises
    PredictionCancelled when should_stop() turns true (between batches);
    output files appear whole or not at all.
    """
    started = time.monotonic()
    report = on_progress or (lambda fraction, message: None)
    predictor = Predictor(model_dir, config, expected_sha256=expected_sha256)
    threshold = predictor.threshold if threshold is None else threshold
    threshold_value(threshold)  # refuse a bad threshold before the long part
    post = model_postprocess(model_dir, threshold=threshold, min_area_m2=min_area_m2)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with rasterio.Env(GDAL_CACHEMAX=_GDAL_CACHE_MB), predictor.open_scene(scene_paths) as scene:
        blocks = predictor.plan(scene)
        predictor.consider_onnxruntime(
            sum(len(block.chips()) for block in blocks),
            on_start=lambda: report(0.0, "timing ONNX Runtime for this model (once here)"),
        )
        pixels, done = scene.width * scene.height, 0
        grid = {"width": scene.width, "height": scene.height}
        grid.update(crs=scene.crs, transform=scene.transform)
        with (
            probability_writer(out_path, **grid) as dst,
            ThreadPoolExecutor(1, thread_name_prefix="scarp-read") as reader,
        ):
            cache = ChipCache(blocks)
            pending = reader.submit(predictor.read, scene, blocks[0])
            for i, block in enumerate(blocks):
                region = pending.result()
                if i + 1 < len(blocks):
                    pending = reader.submit(predictor.read, scene, blocks[i + 1])
                data = predictor.predict(region, block, should_stop, cache)
                dst.write(data, 1, window=block.window)
                done += block.width * block.height
                report(_INFER_SHARE * done / pixels, f"block {i + 1}/{len(blocks)} predicted")
            report(_INFER_SHARE, "writing the probability COG")
    polygons = None
    if polygons_path is not None:
        if should_stop and should_stop():
            raise PredictionCancelled("Prediction was cancelled before vectorising.")
        report(_INFER_SHARE + _COG_SHARE, "vectorising")
        polygons = post.polygons(out_path, block_size=predictor.config.block_size)
        Path(polygons_path).parent.mkdir(parents=True, exist_ok=True)
        write_polygons_gpkg(polygons, Path(polygons_path))
    report(1.0, "done")
    return PredictResult(
        probability_path=out_path,
        polygons_path=Path(polygons_path) if polygons_path is not None else None,
        polygons=polygons,
        width=grid["width"],
        height=grid["height"],
        blocks=len(blocks),
        threshold=threshold,
        device=str(predictor.device),
        seconds=time.monotonic() - started,
    )
