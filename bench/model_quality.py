"""Model quality on ground a model never saw: each recipe trains on one Baige scene, maps the other.

For each direction (A -> B, B -> A) the training scene's mapped extent is cut
across the valley into a train part (about 75% of its area) and a validation
part (the rest, which chooses the threshold, the epoch and the polygon
clean-up). The model then maps the whole other scene through the same
`predict_scene` a user runs, and `mlcore.evaluation.report.build_report` (the code
behind `python -m mlcore evaluate` and the app's reports) scores its
polygons inside that scene's mapped extent: pixel precision, recall, F1 and
IoU, objects matched one to one at IoU >= 0.5, predicted / true area, and
how many predicted polygons merge several reference landslides and how many
references are split into several predictions.

In the same run, the floor a deep model must clear: a random forest and a
gradient-boosting classifier on per-pixel features (colour, local colour
mean and spread at two radii, slope, relief and local slope spread) on the
same 1 m grid, trained on the same train part, with the same post-processing
chosen on the same validation part.

    .venv/bin/python bench/model_quality.py --quick              # CPU, about an hour
    .venv/bin/python bench/model_quality.py --device cuda        # adds the GPU recipe
    .venv/bin/python bench/model_quality.py --quick --only cpu --directions A-B
    .venv/bin/python bench/model_quality.py --quick --only cpu,cpu+pretrained  # pretraining

The table is printed and written as JSON (--json, default var/bench/model_quality.json).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely
from rasterio.windows import Window
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mlcore.data import SceneSpec, StackedScene, label_scenes, read_vector  # noqa: E402
from mlcore.data.bands import ELEVATION_BANDS  # noqa: E402
from mlcore.evaluation.report import build_report  # noqa: E402
from mlcore.predict.postprocess import Validation, tune_postprocess  # noqa: E402
from mlcore.predict.probability_raster import encode, probability_writer  # noqa: E402
from mlcore.predict.scene import predict_scene  # noqa: E402
from mlcore.raster.terrain import horn_gradients, relief, slope_degrees  # noqa: E402
from mlcore.training.pretrain import PretrainConfig, finetune_config, pretrain  # noqa: E402
from mlcore.training.recipes import get_recipe  # noqa: E402
from mlcore.training.tuning import train_and_tune  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("SCARP_SHARED_DATA", ROOT.parent / "shared" / "data")) / "baige"
VALIDATION_SHARE = 0.25


@dataclass
class Scene:
    name: str
    paths: list[Path]
    landslides: gpd.GeoDataFrame
    extent: gpd.GeoDataFrame

    @classmethod
    def load(cls, name: str) -> Scene:
        folder = DATA / name
        paths = [folder / "image.tif", folder / "dsm.tif"]
        with StackedScene(SceneSpec(paths)) as scene:
            crs = scene.crs
        landslides = read_vector(folder / "landslides.gpkg").to_crs(crs)
        return cls(name, paths, landslides, read_vector(folder / "extent.gpkg").to_crs(crs))


def split_extent(scene: Scene) -> gpd.GeoDataFrame:
    """The scene's extent cut across its long axis: `validation` at one end, `train` the rest.

    The end whose cut-off part holds more reference landslides becomes
    validation, so that choosing objects on it means something.
    """
    extent = shapely.union_all(scene.extent.geometry.values)
    rect = shapely.minimum_rotated_rectangle(extent)
    xy = np.asarray(rect.exterior.coords)[:4]
    edges = np.diff(np.vstack([xy, xy[:1]]), axis=0)
    axis = edges[np.argmax(np.hypot(*edges.T))]
    axis = axis / np.hypot(*axis)
    normal = np.array([-axis[1], axis[0]])
    centre = np.asarray(extent.centroid.coords[0])
    reach = 2 * max(np.hypot(*edges.T))

    def beyond(t: float, sign: int) -> shapely.Geometry:
        base = centre + sign * t * axis
        far = centre + sign * reach * axis
        corners = [base + normal * reach, base - normal * reach]
        corners += [far - normal * reach, far + normal * reach]
        return shapely.intersection(extent, shapely.Polygon(corners))

    best = None
    for sign in (1, -1):
        lo, hi = -reach, reach
        for _ in range(40):  # the cut where the far part holds the validation share of area
            mid = (lo + hi) / 2
            if beyond(mid, sign).area > VALIDATION_SHARE * extent.area:
                lo = mid
            else:
                hi = mid
        part = beyond(lo, sign)
        inside = scene.landslides.geometry.intersection(part).area
        count = int((inside > 0.5 * scene.landslides.geometry.area).sum())
        if best is None or count > best[0]:
            best = (count, part)
    validation = best[1]
    train_part = shapely.difference(extent, validation)
    return gpd.GeoDataFrame(
        {"split": ["train", "validation"]}, geometry=[train_part, validation], crs=scene.extent.crs
    )


# ---------------------------------------------------------------- classical floor


def pixel_features(scene: StackedScene, window: Window) -> tuple[np.ndarray, np.ndarray]:
    """(features, rows, cols) and validity: colour, local colour mean/spread, slope, relief."""
    halo = 45
    c0, r0 = max(int(window.col_off) - halo, 0), max(int(window.row_off) - halo, 0)
    c1 = min(int(window.col_off + window.width) + halo, scene.width)
    r1 = min(int(window.row_off + window.height) + halo, scene.height)
    raw, valid = scene.read(Window(c0, r0, c1 - c0, r1 - r0))
    names = scene.band_names
    z_index = next(names.index(n) for n in ELEVATION_BANDS if n in names)
    rgb = raw[[i for i in range(len(names)) if i != z_index]] / 255.0
    z = raw[z_index].astype(np.float64)
    res = scene.res
    slope = slope_degrees(*horn_gradients(np.pad(z, 1, mode="edge"), np.pad(valid, 1), *res))
    feats = [*rgb, rgb.mean(0), rgb.max(0) - rgb.min(0)]
    grey = rgb.mean(0)
    for size in (5, 15):
        mean = ndimage.uniform_filter(grey, size)
        feats += [mean, np.sqrt(np.maximum(ndimage.uniform_filter(grey**2, size) - mean**2, 0))]
    feats += [slope / 90.0, ndimage.uniform_filter(slope, 9) / 90.0]
    slope_mean = ndimage.uniform_filter(slope, 9)
    feats.append(np.sqrt(np.maximum(ndimage.uniform_filter(slope**2, 9) - slope_mean**2, 0)) / 90)
    for radius in (10, 40):
        feats.append(relief(z, valid, radius) / 20.0)
    stack = np.stack(feats).astype(np.float32)
    core = (
        slice(int(window.row_off) - r0, int(window.row_off) - r0 + int(window.height)),
        slice(int(window.col_off) - c0, int(window.col_off) - c0 + int(window.width)),
    )
    return stack[:, core[0], core[1]], valid[core]


def _mask(geoms, scene: StackedScene) -> np.ndarray:
    from mlcore.data.labels import burn

    return burn(list(geoms), scene.transform, (scene.height, scene.width)).astype(bool)


def train_classical(kind: str, scene: Scene, extents: gpd.GeoDataFrame, seed: int = 0):
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier

    with StackedScene(SceneSpec(scene.paths), 2) as stacked:
        feats, valid = pixel_features(stacked, Window(0, 0, stacked.width, stacked.height))
        own = extents[extents["split"] == "train"].to_crs(stacked.crs).geometry
        inside = _mask(own, stacked) & valid
        labels = _mask(scene.landslides.to_crs(stacked.crs).geometry, stacked)
    rng = np.random.default_rng(seed)
    rows, cols = np.nonzero(inside)
    pick = rng.choice(len(rows), min(len(rows), 300_000), replace=False)
    x = feats[:, rows[pick], cols[pick]].T
    y = labels[rows[pick], cols[pick]]
    if kind == "random forest":
        model = RandomForestClassifier(
            n_estimators=100, min_samples_leaf=5, max_features="sqrt", n_jobs=2, random_state=seed
        )
    else:
        model = HistGradientBoostingClassifier(max_iter=300, learning_rate=0.1, random_state=seed)
    model.fit(x, y)
    return model


def predict_classical(model, scene: Scene, out: Path) -> Path:
    with StackedScene(SceneSpec(scene.paths), 2) as stacked:
        grid = {"width": stacked.width, "height": stacked.height}
        grid.update(crs=stacked.crs, transform=stacked.transform)
        with probability_writer(out, **grid) as dst:
            for top in range(0, stacked.height, 512):
                window = Window(0, top, stacked.width, min(512, stacked.height - top))
                feats, valid = pixel_features(stacked, window)
                prob = np.zeros(valid.shape, np.float32)
                if valid.any():
                    prob[valid] = model.predict_proba(feats[:, valid].T)[:, 1]
                dst.write(encode(prob, valid), 1, window=window)
    return out


# ---------------------------------------------------------------- scoring


def merges_and_splits(pred: np.ndarray, ref: np.ndarray) -> tuple[int, int]:
    """Predicted polygons that hold most of two or more references; references that two or
    more predicted polygons each cover a tenth of."""
    merges, split_refs = 0, 0
    tree = shapely.STRtree(ref)
    for p in pred:
        hits = tree.query(p, predicate="intersects")
        held = [r for r in hits if shapely.intersection(p, ref[r]).area > 0.5 * ref[r].area]
        merges += len(held) >= 2
    tree = shapely.STRtree(pred)
    for r in ref:
        hits = tree.query(r, predicate="intersects")
        parts = [p for p in hits if shapely.intersection(pred[p], r).area > 0.1 * r.area]
        split_refs += len(parts) >= 2
    return merges, split_refs


def score(polygons: gpd.GeoDataFrame, test: Scene) -> dict[str, float]:
    report = build_report(polygons, test.landslides, test.extent, iou_threshold=0.5)
    pixel, objects = report.pixel.scores(), report.objects
    merges, splits = merges_and_splits(report.pred.geoms, report.ref.geoms)
    return {
        "pixel_precision": pixel.precision,
        "pixel_recall": pixel.recall,
        "pixel_f1": pixel.f1,
        "pixel_iou": pixel.iou,
        "object_precision": objects.precision,
        "object_recall": objects.recall,
        "object_f1": objects.f1,
        "predicted": int(objects.n_pred),
        "references": int(objects.n_ref),
        "area_ratio": report.area.pred_m2 / max(report.area.ref_m2, 1e-9),
        "merging_polygons": merges,
        "split_references": splits,
    }


# ---------------------------------------------------------------- the run


PRETRAINED = "+pretrained"


def run_deep(recipe_name: str, train_scene: Scene, extents, test: Scene, args, work: Path):
    """Train a recipe; "<recipe>+pretrained" first pretrains its network without labels on
    the imagery of both scenes, the one to map included (after an event it is all there)."""
    recipe = get_recipe(recipe_name.removesuffix(PRETRAINED))
    labelled = label_scenes([SceneSpec(train_scene.paths)], [train_scene.landslides], [extents])
    with StackedScene(SceneSpec(train_scene.paths)) as scene:
        bands = scene.band_names
    overrides = {"device": args.device, "num_workers": args.workers, "seed": args.seed}
    overrides.update(args.set)
    config = recipe.config(bands, **overrides)
    out = work / f"{recipe_name}-{train_scene.name}"
    started = time.monotonic()
    if recipe_name.endswith(PRETRAINED):
        pre = PretrainConfig(
            model=config.model,
            derived_bands=config.derived_bands,
            dropped_bands=config.dropped_bands,
            scale=config.scale,
            chip_size=config.chip_size,
            batch_size=config.batch_size,
            epochs=args.pretrain_epochs,
            chips_per_epoch=config.chips_per_epoch,
            lr=config.lr,
            device=args.device,
            seed=args.seed,
        )
        pre_dir = work / f"pretrained-{train_scene.name}-{test.name}"
        scenes = [SceneSpec(train_scene.paths), SceneSpec(test.paths)]
        pretrain(pre, scenes, pre_dir, resume=False, on_epoch=_print_pretrain)
        config = finetune_config(config, pre_dir)
    train_and_tune(config, labelled, labelled, out, resume=False, on_epoch=_print_epoch)
    minutes = (time.monotonic() - started) / 60
    polygons = work / f"{recipe_name}-{train_scene.name}-on-{test.name}.gpkg"
    result = predict_scene(out, test.paths, work / f"{polygons.stem}.tif", polygons_path=polygons)
    config_json = json.loads((out / "config.json").read_text())
    return result.polygons, minutes, config_json.get("postprocess")


def _print_pretrain(report: dict) -> None:
    print(f"  pretrain {report['epoch']}/{report['epochs']} loss {report['loss']:.4f}", flush=True)


def _print_epoch(report) -> None:
    print(
        f"  epoch {report.epoch}/{report.epochs} loss {report.train_loss:.3f} "
        f"val F1 {report.best_f1:.3f}@{report.best_threshold:.2f} {report.seconds:.0f}s",
        flush=True,
    )


def run_classical(kind: str, train_scene: Scene, extents, test: Scene, work: Path):
    started = time.monotonic()
    model = train_classical(kind, train_scene, extents)
    slug = kind.replace(" ", "-")
    val_prob = predict_classical(model, train_scene, work / f"{slug}-{train_scene.name}-val.tif")
    validation = extents[extents["split"] == "validation"]
    tuned = tune_postprocess([Validation(val_prob, train_scene.landslides, validation)])
    minutes = (time.monotonic() - started) / 60
    prob = predict_classical(model, test, work / f"{slug}-{train_scene.name}-on-{test.name}.tif")
    return tuned.postprocess.polygons(prob), minutes, tuned.postprocess.to_dict()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the CPU recipes only")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (cuda adds the gpu recipe)")
    parser.add_argument("--directions", default="A-B,B-A", help="train-test pairs, e.g. A-B")
    parser.add_argument("--only", default="", help="comma-separated recipes to run")
    parser.add_argument("--workers", type=int, default=1, help="data loader processes")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pretrain-epochs", type=int, default=8, help="for <recipe>+pretrained")
    parser.add_argument("--json", type=Path, default=ROOT / "var" / "bench" / "model_quality.json")
    parser.add_argument("--keep", type=Path, help="keep models and maps in this folder")
    parser.add_argument(
        "--set",
        type=_setting,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a recipe setting for an experiment, e.g. --set scale=3",
    )
    args = parser.parse_args()
    recipes = ["random forest", "gradient boosting", "legacy", "cpu"]
    if args.device.startswith("cuda") and not args.quick:
        recipes.append("gpu")
    if args.only:
        recipes = [r.strip() for r in args.only.split(",")]
    scenes = {name: Scene.load(name) for name in ("A", "B")}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        for direction in args.directions.split(","):
            source, target = (scenes[n] for n in direction.split("-"))
            extents = split_extent(source)
            for name in recipes:
                if name in ("random forest", "gradient boosting"):
                    polygons, minutes, post = run_classical(name, source, extents, target, work)
                else:
                    polygons, minutes, post = run_deep(name, source, extents, target, args, work)
                row = {"recipe": name, "direction": f"{source.name} -> {target.name}"}
                row.update(score(polygons, target))
                row.update(train_minutes=minutes, postprocess=post)
                rows.append(row)
                print(_line(row), flush=True)
    print()
    print(_table(rows))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    payload = {"date": time.strftime("%Y-%m-%d"), "machine": _machine(), "rows": rows}
    args.json.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"\nwritten to {args.json}")


def _setting(text: str) -> tuple[str, object]:
    key, _, value = text.partition("=")
    return key.strip(), json.loads(value)


_COLUMNS = (
    ("pixel_precision", "P"),
    ("pixel_recall", "R"),
    ("pixel_f1", "F1"),
    ("pixel_iou", "IoU"),
    ("object_precision", "obj P"),
    ("object_recall", "obj R"),
    ("object_f1", "obj F1"),
    ("area_ratio", "area"),
    ("predicted", "pred"),
    ("merging_polygons", "merges"),
    ("split_references", "splits"),
    ("train_minutes", "min"),
)


def _fmt(value) -> str:
    if value is None:
        return "n/a"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def _line(row: dict) -> str:
    figures = "  ".join(f"{label} {_fmt(row[key])}" for key, label in _COLUMNS)
    return f"{row['recipe']:<18} {row['direction']}  {figures}"


def _table(rows: list[dict]) -> str:
    head = ["recipe", "direction", *(label for _, label in _COLUMNS)]
    body = [[r["recipe"], r["direction"], *(_fmt(r[k]) for k, _ in _COLUMNS)] for r in rows]
    widths = [max(len(str(c)) for c in col) for col in zip(head, *body, strict=True)]
    lines = [
        " | ".join(str(c).ljust(w) for c, w in zip(line, widths, strict=True))
        for line in [head, *body]
    ]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def _machine() -> str:
    import platform

    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, {gpu}"


if __name__ == "__main__":
    main()
