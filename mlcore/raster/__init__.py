"""Rasters: GeoTIFF and COG reading and writing by windows, terrain, map tiles.

`geotiff` is the only door from a user's file to GDAL (the GTiff driver,
network off); `terrain` derives slope, hillshade and relief by windows;
`render` makes the map's tiles from a stored COG.
"""

from mlcore._face import lazy_face, names

_EXPORTS = names(
    geotiff=(
        "BandStats RasterError RasterInfo RasterTooLarge SceneReader band_statistics "
        "footprint_wgs84 inspect_geotiff is_valid_cog open_geotiff pixels_to_map write_cog"
    ),
    terrain="horn_gradients relief slope_degrees write_hillshade write_slope",
    render=(
        "DEFAULT_COLORMAPS PRESETS PRESET_LABELS SUGGESTED_COLORMAPS TILE_SIZES available_presets "
        "check_tile default_preset empty_tile render_tile style_for"
    ),
)
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_face(__name__, _EXPORTS)
