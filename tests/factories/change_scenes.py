"""Generated scenes for the model families beyond single-image segmentation.

`make_change_pair` writes a pre-event and a post-event image of one place:
textured vegetation, bright bare ground that is there on both dates ("old"),
and landslides that appear only after the event ("new", the only ones
labelled). In the post image old and new look exactly alike, so only a model
that sees both dates can tell them apart.

`make_touching_scene` writes one image whose landslides come in touching
pairs of different tone, for instance outlines; `make_faint_scene` one whose
landslides barely stand out of noisy ground, for learning from few labels.

Rasters are real GeoTIFFs in UTM 47N; labels and extents are GeoPackages in
EPSG:4326, as in `landslide_scenes`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely
from rasterio.features import rasterize
from rasterio.transform import from_origin
from scipy.ndimage import gaussian_filter

from tests.factories.rasters import UTM47N, write_geotiff

ORIGIN = (500_000.0, 3_450_000.0)
BANDS = ["red", "green", "blue"]
_BARE = np.array([180.0, 160.0, 140.0])


@dataclass
class ChangePair:
    post: Path
    pre: Path
    landslides: Path
    extents: Path
    new_mask: np.ndarray  # landslides of the event, on the image grid
    old_mask: np.ndarray  # bare ground already there before it
    resolution: float


@dataclass
class GeneratedScene:
    image: Path
    landslides: Path
    extents: Path
    shapes: list[shapely.Polygon]  # in UTM 47N
    mask: np.ndarray


def blob(rng: np.random.Generator, cx: float, cy: float, radius: float) -> shapely.Polygon:
    """An irregular, smooth, star-shaped outline, a little elongated."""
    angles = np.linspace(0, 2 * np.pi, 20, endpoint=False)
    radii = radius * rng.uniform(0.75, 1.2, len(angles))
    radii = np.convolve(np.r_[radii[-2:], radii, radii[:2]], np.ones(5) / 5, "valid")
    stretch = rng.uniform(0.8, 1.3)
    return shapely.Polygon(
        zip(cx + radii * np.cos(angles) * stretch, cy + radii * np.sin(angles), strict=True)
    )


def _vegetation(rng: np.random.Generator, size: int) -> np.ndarray:
    texture = gaussian_filter(rng.normal(0, 1, (3, size, size)), (0, 2, 2)) * 30
    return np.array([70.0, 100.0, 60.0])[:, None, None] + texture


def _write(path: Path, image: np.ndarray, transform) -> Path:
    image = np.clip(image, 1, 255).astype(np.uint8)
    return write_geotiff(path, image, transform=transform, nodata=0, band_names=BANDS)


def _write_vectors(directory: Path, shapes, size: int, resolution: float) -> tuple[Path, Path]:
    x0, y1 = ORIGIN
    span, mid = size * resolution, ORIGIN[0] + size * resolution / 2
    labels = gpd.GeoDataFrame({"class": [1] * len(shapes)}, geometry=list(shapes), crs=UTM47N)
    labels.to_crs("EPSG:4326").to_file(directory / "landslides.gpkg", layer="landslides")
    extents = gpd.GeoDataFrame(
        {"split": ["train", "validation"]},
        geometry=[
            shapely.box(x0, y1 - span, mid - 2 * resolution, y1),
            shapely.box(mid + 2 * resolution, y1 - span, x0 + span, y1),
        ],
        crs=UTM47N,
    )
    extents.to_crs("EPSG:4326").to_file(directory / "extents.gpkg", layer="extent")
    return directory / "landslides.gpkg", directory / "extents.gpkg"


def _cells(rng: np.random.Generator, size: int, cell: int, resolution: float):
    """Jittered centres of a grid of cells (in map units), shuffled: blobs never overlap."""
    n = size // cell
    out = []
    for i in range(n):
        for j in range(n):
            dx, dy = rng.uniform(0.35, 0.65, 2)
            x = ORIGIN[0] + (j + dx) * cell * resolution
            y = ORIGIN[1] - (i + dy) * cell * resolution
            out.append((x, y))
    rng.shuffle(out)
    return out


def make_change_pair(
    directory: Path,
    *,
    size: int = 256,
    resolution: float = 1.0,
    cell: int = 32,
    seed: int = 0,
) -> ChangePair:
    """Write post.tif, pre.tif (RGB), landslides.gpkg (new only) and extents.gpkg.

    A third of the cells hold a new landslide, a third old bare ground; the
    left half is the train extent, the right half validation.
    """
    rng = np.random.default_rng(seed)
    transform = from_origin(*ORIGIN, resolution, resolution)
    centres = _cells(rng, size, cell, resolution)
    third = len(centres) // 3
    radius = cell * resolution * 0.22
    new = [blob(rng, x, y, radius * rng.uniform(0.7, 1.1)) for x, y in centres[:third]]
    old = [blob(rng, x, y, radius * rng.uniform(0.7, 1.1)) for x, y in centres[third : 2 * third]]
    new_mask = rasterize([(s, 1) for s in new], out_shape=(size, size), transform=transform)
    old_mask = rasterize([(s, 1) for s in old], out_shape=(size, size), transform=transform)
    ground = _vegetation(rng, size)
    shade = 1 + 0.15 * gaussian_filter(rng.normal(0, 1, (size, size)), 4)
    bare = _BARE[:, None, None] * shade
    pre = np.where(old_mask[None] == 1, bare, ground)
    post = np.where((old_mask | new_mask)[None] == 1, bare, ground)
    pre = 0.95 * pre + 4 + rng.normal(0, 5, pre.shape)  # another day, another light
    post = post + rng.normal(0, 5, post.shape)
    directory.mkdir(parents=True, exist_ok=True)
    post_path = _write(directory / "post.tif", post, transform)
    pre_path = _write(directory / "pre.tif", pre, transform)
    labels, extents = _write_vectors(directory, new, size, resolution)
    return ChangePair(post_path, pre_path, labels, extents, new_mask, old_mask, resolution)


def touching_pair(
    rng: np.random.Generator, cx: float, cy: float, radius: float
) -> list[shapely.Polygon]:
    """Two landslides side by side that share a stretch of boundary and do not overlap."""
    angle = rng.uniform(0, np.pi)
    dx, dy = np.cos(angle) * radius * 0.9, np.sin(angle) * radius * 0.9
    a = blob(rng, cx - dx, cy - dy, radius)
    b = blob(rng, cx + dx, cy + dy, radius)
    rest = b.difference(a)
    if rest.geom_type == "MultiPolygon":  # a sliver cut off by a's outline
        rest = max(rest.geoms, key=lambda g: g.area)
    return [a, rest]


def make_touching_scene(
    directory: Path,
    *,
    size: int = 256,
    resolution: float = 1.0,
    cell: int = 48,
    seed: int = 0,
    singles: float = 0.3,
) -> GeneratedScene:
    """Write image.tif, landslides.gpkg and extents.gpkg: pairs of touching landslides.

    The two of a pair differ in tone, as neighbouring scars of different age
    or rock do; a share of `singles` cells hold a lone landslide instead.
    """
    rng = np.random.default_rng(seed)
    shapes: list[shapely.Polygon] = []
    tones: list[float] = []
    for x, y in _cells(rng, size, cell, resolution):
        radius = cell * resolution * rng.uniform(0.16, 0.22)
        if rng.random() < singles:
            shapes.append(blob(rng, x, y, radius))
            tones.append(rng.uniform(0.75, 1.25))
        else:
            shapes.extend(touching_pair(rng, x, y, radius))
            tones.extend(rng.permutation([rng.uniform(0.72, 0.85), rng.uniform(1.1, 1.25)]))
    return _paint(directory, rng, shapes, tones, size, resolution)


def make_one_pair_scene(
    directory: Path, *, size: int = 96, radius: float = 9.0, seed: int = 0
) -> GeneratedScene:
    """A small scene with one pair of touching landslides at its centre, nothing else."""
    rng = np.random.default_rng(seed)
    shapes = touching_pair(rng, ORIGIN[0] + size / 2, ORIGIN[1] - size / 2, radius)
    return _paint(directory, rng, shapes, [0.8, 1.2], size, 1.0)


def _paint(directory, rng, shapes, tones, size: int, resolution: float) -> GeneratedScene:
    transform = from_origin(*ORIGIN, resolution, resolution)
    image = _vegetation(rng, size)
    mask = np.zeros((size, size), dtype=np.uint8)
    for shape, tone in zip(shapes, tones, strict=True):
        inside = rasterize([(shape, 1)], out_shape=(size, size), transform=transform) == 1
        image[:, inside] = (_BARE * tone)[:, None]
        mask[inside] = 1
    image = image + rng.normal(0, 5, image.shape)
    directory.mkdir(parents=True, exist_ok=True)
    image_path = _write(directory / "image.tif", image, transform)
    labels, extents = _write_vectors(directory, shapes, size, resolution)
    return GeneratedScene(image_path, labels, extents, shapes, mask)


def make_faint_scene(
    directory: Path,
    *,
    size: int = 256,
    cell: int = 32,
    contrast: float = 25.0,
    noise: float = 25.0,
    seed: int = 0,
) -> GeneratedScene:
    """Landslides only `contrast` brighter than ground whose pixels scatter by `noise`.

    A single pixel hardly tells a landslide from the ground; its neighbours
    do, so a model has to learn to look around, which few labels teach slowly.
    """
    rng = np.random.default_rng(seed)
    transform = from_origin(*ORIGIN, 1.0, 1.0)
    shapes = [
        blob(rng, x, y, cell * rng.uniform(0.15, 0.25))
        for x, y in _cells(rng, size, cell, 1.0)[: (size // cell) ** 2 // 2]
    ]
    mask = rasterize([(s, 1) for s in shapes], out_shape=(size, size), transform=transform)
    image = np.array([110.0, 120.0, 100.0])[:, None, None] + contrast * mask[None]
    image = image + rng.normal(0, noise, (3, size, size))
    directory.mkdir(parents=True, exist_ok=True)
    image_path = _write(directory / "image.tif", image, transform)
    labels, extents = _write_vectors(directory, shapes, size, 1.0)
    return GeneratedScene(image_path, labels, extents, shapes, mask)
