"""Prediction: blocks and chips, the predictor, probability rasters, polygons.

`scene.predict_scene` is the scene entry point (a model directory and
rasters in, a probability COG and polygons out, for any family; `predictor`
runs mask models, `instances` outlines landslides one by one); `tiling` says where it
looks, `probability_raster` how probabilities are stored, `vectorize` and
`postprocess` how they become the polygons a mapper would draw.
"""

from mlcore._face import lazy_face, names

_EXPORTS = names(
    predictor=(
        "InferenceConfig PredictResult Predictor merge_blocks plan_blocks predict_block "
        "predict_semantic_scene scene_polygons"
    ),
    scene="predict_scene",
    tiling="Block plan_grid",
    probability_raster="BLOCK_TAG NODATA SCALE encode probability_writer threshold_value",
    vectorize="write_polygons_gpkg",
    postprocess="Postprocess",
)
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_face(__name__, _EXPORTS)
