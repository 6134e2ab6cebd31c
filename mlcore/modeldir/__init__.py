"""A trained model's directory: config.json, weights, checkpoints.

`directory` is what training writes and prediction reads; `checkpoints`
writes weights with a SHA-256 sidecar and loads only what matches it.
"""

from mlcore._face import lazy_face, names

_EXPORTS = names(
    directory="BEST CONFIG LAST METRICS load_model read_config",
    checkpoints="CheckpointRefused load_checkpoint read_sidecar save_checkpoint sha256_of",
)
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_face(__name__, _EXPORTS)
