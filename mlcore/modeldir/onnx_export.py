"""A trained segmentation model as one ONNX file other tools run (QGIS Deepness, onnxruntime).

The graph is the network and a sigmoid: it takes the prepared channels
(N, C, H, W, float32; H and W any multiple of the network's stride) and
gives the landslide probability (N, 1, H, W). The input preparation stays
outside, described in the metadata:

- what QGIS Deepness reads (https://qgis-plugin-deepness.readthedocs.io,
  "Adding metadata to ONNX model"), each value JSON-encoded as it expects:
  `model_type`, `class_names`, `resolution` (cm per model pixel),
  `tiles_size`, `tiles_overlap`, `seg_thresh`, and `standardization_mean` /
  `standardization_std`. Deepness divides 8-bit pixels by 255 and then
  standardises; with mean = low / 255 and std = (high - low) / 255 that is
  exactly Scarp's (x - low) / (high - low). This holds for imagery bands
  only: a model that also reads derived terrain (slope, relief) needs
  those bands prepared by Scarp, which `scarp_channels` names.
- Scarp's own: `scarp_input` (the InputSpec: bands, derived bands, ranges,
  scale) and `scarp_checkpoint_sha256`, so the file says which weights it is.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from mlcore.errors import MlcoreError
from mlcore.modeldir.checkpoints import write_atomic
from mlcore.modeldir.directory import load_model

ONNX_FILE = "model.onnx"
OPSET = 18
CLASS_NAMES = {0: "background", 1: "landslide"}
# Deepness's overlap between tiles, in percent of a tile.
TILES_OVERLAP = 10


class OnnxExportError(MlcoreError):
    """The model cannot be written as ONNX; the message says why."""


class _Probability(nn.Module):
    """The network and its sigmoid: what a client of the file wants out of it."""

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.network = network

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.network(x)[:, :1])


@dataclass(frozen=True)
class OnnxExport:
    path: Path
    metadata: dict[str, str]
    channels: list[str]


def deepness_metadata(meta: dict[str, Any], resolution_m: float | None) -> dict[str, Any]:
    """The metadata Deepness reads, from a model directory's meta (see load_model)."""
    spec = meta["input"]
    metadata: dict[str, Any] = {
        "model_type": "Segmentor",
        "class_names": CLASS_NAMES,
        "tiles_size": int(meta["chip_size"]),
        "tiles_overlap": TILES_OVERLAP,
        "seg_thresh": float(meta["threshold"]),
        "standardization_mean": [r.low / 255.0 for r in spec.ranges],
        "standardization_std": [max(r.high - r.low, 1e-6) / 255.0 for r in spec.ranges],
    }
    if resolution_m:
        metadata["resolution"] = round(resolution_m * spec.scale * 100.0, 4)
    return metadata


def export_onnx(
    model_dir: str | Path,
    out_path: str | Path | None = None,
    *,
    resolution_m: float | None = None,
    expected_sha256: str | None = None,
) -> OnnxExport:
    """Write the model directory's best network as ONNX (default `<model_dir>/model.onnx`).

    `resolution_m` is the imagery's pixel size the model was trained on
    (before its own `scale`); the web app knows it from the training scenes.
    The file is written atomically: a reader sees the old one or the new one.
    """
    import onnx  # the exporter's own dependency; only export needs it

    model_dir = Path(model_dir)
    out_path = Path(out_path) if out_path else model_dir / ONNX_FILE
    network, model_config, meta = load_model(model_dir, expected_sha256=expected_sha256)
    if model_config.classes < 1:
        raise OnnxExportError(f"{model_dir} has no output class to export.")
    chip = int(meta["chip_size"])
    example = torch.zeros(1, model_config.in_channels, chip, chip)
    dims = {0: "batch", 2: "height", 3: "width"}
    buffer = io.BytesIO()
    try:
        torch.onnx.export(
            _Probability(network).eval(),
            (example,),
            buffer,
            input_names=["input"],
            output_names=["probability"],
            dynamic_axes={"input": dims, "probability": dims},
            opset_version=OPSET,
            # The TorchScript exporter gave wrong numbers for these networks in
            # torch 2.14; the dynamo exporter matches PyTorch to 1e-6.
            dynamo=True,
            verbose=False,
        )
    except Exception as exc:  # noqa: BLE001 - the exporter raises many kinds
        raise OnnxExportError(
            f"{model_dir}: {model_config.arch} could not be written as ONNX ({exc})."
        ) from exc
    graph = onnx.load_from_string(buffer.getvalue())
    spec = meta["input"]
    metadata = {
        key: json.dumps(value) for key, value in deepness_metadata(meta, resolution_m).items()
    }
    metadata["scarp_input"] = json.dumps(spec.to_dict())
    metadata["scarp_channels"] = json.dumps(spec.channels)
    metadata["scarp_checkpoint_sha256"] = json.dumps(meta["sha256"])
    del graph.metadata_props[:]
    for key, value in metadata.items():
        entry = graph.metadata_props.add()
        entry.key, entry.value = key, value
    graph.doc_string = f"Scarp landslide segmentation ({model_config.arch})"
    onnx.checker.check_model(graph)
    write_atomic(out_path, graph.SerializeToString())
    return OnnxExport(path=out_path, metadata=metadata, channels=spec.channels)
