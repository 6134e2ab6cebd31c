"""Predicting landslides over a scene with a trained model, on one worker or many.

The probability map becomes a Scene (kind probability) and the polygons a
predicted Inventory ready for review. A large scene can be split into window
blocks that several workers predict in parallel; a last step merges them and
vectorises, giving the same result as one worker. A Mask R-CNN model runs
on one worker and gives its own polygons, one per landslide.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import rasterio
from django.conf import settings
from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Concat
from django.utils import timezone

from inventories.errors import InvalidInput
from inventories.models import Inventory, Job, ModelVersion, Scene
from inventories.permissions import Action
from inventories.selectors.projects import require
from inventories.services import jobs
from inventories.services.files import media_path, new_relative_path, staged_files
from inventories.services.inventories import landslides_bulk_insert
from inventories.services.jobs import (
    Heartbeat,
    JobContext,
    JobDetached,
    PredictParams,
    job_continue,
    job_create,
)
from inventories.services.model_versions import check_change_pairs
from inventories.services.names import fit_name
from inventories.services.scenes import scene_register
from mlcore.modeldir.directory import read_config
from mlcore.models.registry import ARCHITECTURES
from mlcore.predict.predictor import (
    InferenceConfig,
    merge_blocks,
    plan_blocks,
    predict_block,
    scene_polygons,
)
from mlcore.predict.probability_raster import BLOCK_TAG
from mlcore.predict.scene import predict_scene
from mlcore.predict.tiling import Block
from mlcore.vector import polygons as vectors


def _scenes(version: ModelVersion, scene_ids: list[int]) -> list[Scene]:
    if not scene_ids:
        raise InvalidInput(
            "Choose the scene to predict (and its elevation layer if the model uses one)."
        )
    found = {s.pk: s for s in Scene.objects.filter(project=version.project, pk__in=scene_ids)}
    if set(scene_ids) - found.keys():
        raise InvalidInput(f"Some of the chosen scenes are not in {version.project.name}.")
    return [found[pk] for pk in scene_ids]


def _config() -> InferenceConfig:
    return InferenceConfig(
        device=settings.SCARP_TRAIN_DEVICE, block_size=settings.SCARP_PREDICT_BLOCK_SIZE
    )


def prediction_start(
    *,
    version: ModelVersion,
    scene_ids: list[int],
    user,
    threshold: float | None = None,
    min_area_m2: float = 0.0,
    split: bool = False,
) -> Job:
    """Refuse what cannot work (no right, model not ready, bands that do not fit) before queuing."""
    require(user, version.project, Action.MANAGE)
    if version.kind == ModelVersion.Kind.PRETRAINING:
        raise InvalidInput(
            f"{version.name} is a pretraining: it reconstructs imagery and maps no landslides. "
            "Train a model starting from it, then predict with that."
        )
    if version.status != ModelVersion.Status.READY:
        raise InvalidInput(f"{version.name} is not ready ({version.status}); train it first.")
    if threshold is not None and not 0 < threshold < 1:
        raise InvalidInput("The threshold must be between 0 and 1.")
    if min_area_m2 < 0:
        raise InvalidInput("The minimum area cannot be negative.")
    family = ARCHITECTURES.get(version.architecture)
    if split and family is not None and not family.splits_into_blocks:
        raise InvalidInput(
            f"{family.title} predicts a scene on one worker, since a landslide cut by a block "
            "border must be seen whole; start it without splitting."
        )
    scenes = _scenes(version, scene_ids)
    check_change_pairs(version.architecture, [scenes])
    # Reads only headers: a scene whose bands do not fit the model is refused here.
    plan_blocks(media_path(version.directory), [s.path for s in scenes], _config())
    return job_create(
        project=version.project,
        user=user,
        params=PredictParams(
            model_version=version.pk,
            scenes=scene_ids,
            threshold=threshold,
            min_area_m2=min_area_m2,
            split=split,
        ),
    )


def run_predict(job: Job, ctx: JobContext) -> dict:
    """One worker predicts the whole scene; or, with `split`, fan the blocks out."""
    params = PredictParams.of(job)
    version = ModelVersion.objects.get(pk=params.model_version)
    scenes = _scenes(version, params.scenes)
    if params.split:
        return _fan_out(job, ctx, version, scenes)
    started = time.monotonic()

    def progress(fraction: float, message: str) -> None:
        elapsed = time.monotonic() - started
        eta = f", about {elapsed * (1 - fraction) / fraction:.0f} s left" if fraction > 0.02 else ""
        ctx.progress(fraction * 0.9, f"{message}{eta}")

    relative = new_relative_path("scenes", ".tif", stem="probability")
    with staged_files() as written:
        written.append(media_path(relative))
        result = predict_scene(  # a cancel raises mlcore's Cancelled, which is JobCancelled
            media_path(version.directory),
            [s.path for s in scenes],
            media_path(relative),
            config=_config(),
            threshold=params.threshold,
            min_area_m2=params.min_area_m2 or 0.0,
            expected_sha256=version.checkpoint_sha256,
            polygons_path=None,
            on_progress=progress,
            should_stop=ctx.cancelled,
        )
        if result.polygons is not None:
            # An instance model's own outlines: vectorising would join touching landslides.
            polygons = result.polygons
        else:
            ctx.progress(0.9, "Vectorising")
            polygons = scene_polygons(
                media_path(version.directory),
                media_path(relative),
                threshold=result.threshold,
                min_area_m2=params.min_area_m2 or 0.0,
            )
        return _store(job, ctx, version, scenes, relative, polygons, result.threshold)


def _store(job, ctx, version, scenes, relative, polygons: gpd.GeoDataFrame, threshold) -> dict:
    """The probability Scene and the predicted Inventory, in one transaction."""
    ctx.progress(0.95, f"Storing {len(polygons)} predicted landslides")
    source = scenes[0]
    with transaction.atomic():
        ctx.assert_holds()  # a worker taken for dead stores nothing beside its successor
        probability = scene_register(
            project=version.project,
            relative=relative,
            kind=Scene.Kind.PROBABILITY,
            name=fit_name(f"{version.name} on {source.name}", " (probability)"),
            band_names=["probability"],
            phase=source.phase,
            acquired_on=source.acquired_on,
            original_filename="",
            source=source,
            user=job.created_by,
        )
        inventory = Inventory.objects.create(
            project=version.project,
            name=fit_name(f"{version.name} on {source.name}", f" (job {job.pk})"),
            kind=Inventory.Kind.PREDICTED,
            status=Inventory.Status.IN_REVIEW,
            model_version=version,
            probability_scene=probability,
            source_scene=source,
            source_format="prediction",
            source_crs=str(polygons.crs.to_string()) if polygons.crs else "",
            created_by=job.created_by,
        )
        # The model drew these, not the person who started the job: anyone may review them.
        landslides_bulk_insert(inventory, _as_inventory_frame(polygons), user=None)
    ctx.log(f"Predicted {len(polygons)} landslides at threshold {threshold:.2f}.")
    return {
        "inventory_id": inventory.pk,
        "probability_scene_id": probability.pk,
        "landslides": len(polygons),
        "threshold": threshold,
    }


def _as_inventory_frame(polygons: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    frame = polygons.to_crs("EPSG:4326")
    geometry = [vectors.repair_polygon(g)[0] for g in frame.geometry]
    mean = frame["mean_prob"].astype(float).to_numpy() if len(frame) else np.array([])
    return gpd.GeoDataFrame(
        {
            "area_m2": vectors.geodesic_area_m2(geometry) if geometry else [],
            "repaired": [False] * len(frame),
            "confidence": mean,
            "mean_prob": mean,
            "max_prob": frame["max_prob"].astype(float).to_numpy() if len(frame) else [],
        },
        geometry=geometry,
        crs="EPSG:4326",
    )


def _fan_out(job, ctx, version, scenes) -> dict:
    """Queue one task per window block; the task finishing the last block queues the merge.

    Counting finished blocks on the Job row (under a row lock) needs no Celery
    result backend, and a block delivered twice after a lost worker counts once.
    Each run (lease) has its own blocks folder, so a run that took the job over
    never deletes blocks an earlier one may still be writing. The blocks' task
    ids carry the run's prefix: while they wait for a free worker, nothing
    beats the job, and the reaper knows it alive by finding them in the queue.
    """
    blocks = plan_blocks(media_path(version.directory), [s.path for s in scenes], _config())
    folder = _blocks_folder(job.pk, job.lease)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    kept = _keep_done_blocks(job, blocks, folder)
    todo = [block for block in blocks if block.index not in kept]
    Job.objects.filter(pk=job.pk, lease=job.lease).update(
        result={"blocks": len(blocks), "done": sorted(kept.values())},
        merge_queued=not todo,
    )
    ctx.log(f"Split into {len(blocks)} blocks for parallel workers.")
    if kept:
        ctx.log(f"Kept {len(kept)} of {len(blocks)} blocks an earlier run had predicted.")
    ctx.progress(0.02 + 0.8 * len(kept) / len(blocks), f"{len(todo)} blocks queued", force=True)

    def send() -> None:
        if not todo:  # every block was done: only the merge was lost
            _send_merge(job.pk, job.lease)
        for block in todo:
            jobs.send(
                jobs.PREDICT_BLOCK,
                [job.pk, block.to_dict(), job.lease],
                queue="gpu",
                task_id=f"{jobs.task_prefix(job.pk, job.lease)}block-{block.index}",
            )

    transaction.on_commit(send)
    raise JobDetached()


def _keep_done_blocks(job: Job, blocks: list[Block], folder) -> dict[int, str]:
    """Move the blocks an earlier run of this job finished into this run's folder.

    A run taken over (its worker lost, or reaped while its blocks waited) had
    recorded each finished block on the row; a block file is kept only if it
    is one this job wrote and its tag is the very block planned now (same
    plan, same scene), so the result equals a run that did them all. Moving,
    not copying: the earlier run's blocks go once they are in use here.
    """
    planned = {block.index: block.to_dict() for block in blocks}
    jobs_folder = media_path(f"jobs/{job.pk}")
    kept: dict[int, str] = {}
    for done in (job.result or {}).get("done", []):
        path = Path(done)
        if jobs_folder not in path.parents or path.parent == folder or not path.is_file():
            continue
        try:
            with rasterio.open(path) as src:
                tag = json.loads(src.tags().get(BLOCK_TAG, "null"))
        except (rasterio.errors.RasterioError, ValueError):
            continue  # unreadable: predicted again
        if not isinstance(tag, dict) or planned.get(tag.get("index")) != tag:
            continue
        target = folder / path.name
        os.replace(path, target)
        kept[tag["index"]] = str(target)
    return kept


def _blocks_folder(job_id: int, lease: str):
    return media_path(f"jobs/{job_id}/blocks-{lease}")


def block_predict(job_id: int, block: dict, lease: str) -> None:
    """Predict one block of a split job; the last block to finish queues the merge, once.

    Blocks of a run that was since taken over (another lease) do nothing. A
    heartbeat beats the job while the block computes, so the reaper leaves
    live work alone.
    """
    job = Job.objects.filter(pk=job_id, lease=lease).first()
    if job is None or not job.is_active:
        return
    if job.cancel_requested:
        job_continue(job_id, lambda job, ctx: {}, lease=lease)
        return
    params = PredictParams.of(job)
    version = ModelVersion.objects.get(pk=params.model_version)
    scenes = _scenes(version, params.scenes)
    with Heartbeat(job_id, lease):
        path = predict_block(
            media_path(version.directory),
            [s.path for s in scenes],
            Block.from_dict(block),
            _blocks_folder(job_id, lease),
            config=_config(),
        )
    with transaction.atomic():
        job = Job.objects.select_for_update().filter(pk=job_id, lease=lease).first()
        if job is None or not job.is_active:
            return
        done = sorted(set(job.result.get("done", [])) | {str(path)})
        total = job.result["blocks"]
        job.result = {**job.result, "done": done}
        job.progress = 0.02 + 0.8 * len(done) / total
        job.message = f"{len(done)} of {total} blocks predicted"
        job.heartbeat_at = timezone.now()
        job.save(update_fields=["result", "progress", "message", "heartbeat_at"])
        # The transition to all-blocks-done happens once: a block delivered again
        # after the last one finds merge_queued already set and queues nothing.
        if len(done) == total and Job.objects.filter(
            pk=job_id, lease=lease, merge_queued=False
        ).update(merge_queued=True):
            Job.objects.filter(pk=job_id).update(
                log=Concat(F("log"), Value(f"All {total} blocks predicted; merging.\n"))
            )
            transaction.on_commit(lambda: _send_merge(job_id, lease))


def _send_merge(job_id: int, lease: str) -> None:
    """Queue the merge; its id carries the run's prefix, so the reaper sees it waiting."""
    jobs.send(
        jobs.FINISH_PREDICTION,
        [job_id, lease],
        queue="default",
        task_id=f"{jobs.task_prefix(job_id, lease)}merge",
    )


def blocks_finish(job: Job, ctx: JobContext) -> dict:
    """Merge the blocks into the probability COG, vectorise and store, as a single run would."""
    params = PredictParams.of(job)
    version = ModelVersion.objects.get(pk=params.model_version)
    scenes = _scenes(version, params.scenes)
    relative = new_relative_path("scenes", ".tif", stem="probability")
    threshold = params.threshold
    if threshold is None:
        threshold = float(read_config(media_path(version.directory)).get("threshold", 0.5))
    with staged_files() as written:
        written.append(media_path(relative))
        ctx.progress(0.85, "Merging blocks", force=True)
        media_path(relative).parent.mkdir(parents=True, exist_ok=True)
        merge_blocks(
            job.result["done"],
            [s.path for s in scenes],
            media_path(relative),
            model_dir=media_path(version.directory),
        )
        ctx.progress(0.9, "Vectorising", force=True)
        polygons = scene_polygons(
            media_path(version.directory),
            media_path(relative),
            threshold=threshold,
            min_area_m2=params.min_area_m2 or 0.0,
        )
        result = _store(job, ctx, version, scenes, relative, polygons, threshold)
    shutil.rmtree(_blocks_folder(job.pk, job.lease), ignore_errors=True)
    return result
