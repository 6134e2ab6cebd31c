"""mlcore: Scarp's plain Python library for landslide mapping.

One package per stage of the pipeline, each with a face (`__all__`) that
lists its public names: `raster` (GeoTIFF/COG by windows, terrain, tiles),
`vector` (inventories in and out, areas), `data` (training chips), `models`
(the networks), `modeldir` (a trained model's directory), `training`,
`predict`, `evaluation`. `errors` holds `MlcoreError` and the one
cancellation, `Cancelled`. It never imports Django: the web app talks to it
through paths, arrays, GeoDataFrames and config dataclasses, and imports it
through these faces (`from mlcore.vector import read_polygons`). Usable
alone as `python -m mlcore`. Faces import on first use (see `_face`).
"""

from mlcore._face import lazy_face

__version__ = "0.1.0"

_EXPORTS: dict[str, str | None] = {
    "MlcoreError": "errors",
    "Cancelled": "errors",
    **dict.fromkeys(
        ["raster", "vector", "data", "models", "modeldir", "training", "predict", "evaluation"]
    ),
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_face(__name__, _EXPORTS)
