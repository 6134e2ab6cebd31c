"""The forward pass in ONNX Runtime, for the CPUs where it beats PyTorch on our networks.

Measured on the `cpu` recipe's U-Net (192 px chips, 2-core AMD EPYC): ONNX
Runtime ran 19 chips per CPU second at batch 16, PyTorch 12 in channels_last
and 21 under bfloat16 autocast, which only CPUs with AVX512-BF16 or AMX
have; at batch 1 ONNX Runtime ran 16 and PyTorch 3. So which runtime is
fastest depends on the CPU, and `mlcore.predict.forward_plan` times both.

The graph is the model directory's best weights written by
`mlcore.modeldir.onnx_export` (the network and its sigmoid, the file other
tools open), kept beside them as `forward-<checkpoint hash>.onnx`: new
weights get a new file, and an export (about 20 s for the recipe's U-Net)
is paid once per model and machine's directory.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mlcore.errors import MlcoreError

PREFIX = "forward-"


def onnxruntime_available() -> bool:
    """Whether the package is installed (it is optional for prediction)."""
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def forward_path(model_dir: str | Path, sha256: str) -> Path:
    """Where the ONNX graph of these weights is kept (the hash's first 16 hex digits)."""
    return Path(model_dir) / f"{PREFIX}{sha256[:16]}.onnx"


def forward_file(model_dir: str | Path, sha256: str) -> Path:
    """The ONNX graph of these weights in the model directory, written first if missing."""
    from mlcore.modeldir.onnx_export import export_onnx

    path = forward_path(model_dir, sha256)
    if not path.exists():
        export_onnx(model_dir, path, expected_sha256=sha256)
    return path


class OnnxForward:
    """Probabilities (N, rows, cols) float32 for a float32 batch (N, C, rows, cols)."""

    def __init__(self, path: str | Path, threads: int) -> None:
        if not onnxruntime_available():
            raise MlcoreError(
                "The onnxruntime runtime needs the onnxruntime package; install it "
                "(requirements.txt pins it) or predict with the torch runtime."
            )
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = max(1, threads)
        options.inter_op_num_threads = 1
        # Idle threads spinning for work would take CPU from the block reader and from
        # neighbouring jobs, and count as work in the probe's CPU-time comparison.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = onnxruntime.InferenceSession(
            str(path), options, providers=["CPUExecutionProvider"]
        )
        self.input = self.session.get_inputs()[0].name

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        out = self.session.run(None, {self.input: np.ascontiguousarray(batch, np.float32)})[0]
        return out[:, 0]
