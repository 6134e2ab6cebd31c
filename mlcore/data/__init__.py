"""Chips for training: scenes, labels and extents, splits, normalisation, augmentation.

The modules follow the path of a chip: `scenes` (rasters stacked on one grid,
read by windows), `labels` (polygons in the scene CRS, burnt on a chip),
`sampling` (which windows a split may use), `bands` (derived bands and
normalisation), `dataset` (the torch Dataset that puts them together).
"""

from mlcore.data.bands import DERIVED_BANDS, BandRange, InputSpec, compute_input_spec
from mlcore.data.dataset import ChipDataset, augment
from mlcore.data.labels import SPLITS, LabelError, LabelledScene, label_scenes, read_vector
from mlcore.data.sampling import ChipRef, ChipSampler, SplitGrid, grid_refs
from mlcore.data.scenes import SceneError, SceneSpec, StackedScene

__all__ = [
    "DERIVED_BANDS",
    "SPLITS",
    "BandRange",
    "ChipDataset",
    "ChipRef",
    "ChipSampler",
    "InputSpec",
    "LabelError",
    "LabelledScene",
    "SceneError",
    "SceneSpec",
    "SplitGrid",
    "StackedScene",
    "augment",
    "compute_input_spec",
    "grid_refs",
    "label_scenes",
    "read_vector",
]
