"""The networks and the registry that builds them by name.

`registry` holds `ModelConfig`, the architectures and `build_model`;
`siamese_unet` (change detection) and `mask_rcnn` (instances) are the
families beyond the segmentation_models_pytorch ones.
"""

from mlcore._face import lazy_face, names

_EXPORTS = names(
    registry="ARCHITECTURES ModelConfig build_model",
)
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_face(__name__, _EXPORTS)
