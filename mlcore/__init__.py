"""mlcore: Scarp's plain Python library for landslide mapping.

Raster I/O by windows, vector inventories, chips and labels, the model zoo,
training, tiled inference, vectorising and accuracy metrics. It never
imports Django: the web app talks to it through paths, arrays,
GeoDataFrames and config dataclasses. Usable alone as `python -m mlcore`.
"""

__version__ = "0.1.0"
