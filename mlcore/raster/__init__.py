"""Rasters: GeoTIFF and COG reading and writing by windows, terrain, map tiles."""
