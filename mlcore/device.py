"""Which torch device a run uses, and the autocast precision it may use there.

Training, pretraining and prediction all ask the same two questions; one
answer keeps "auto" meaning the same thing everywhere and a missing GPU
reported in the same words.
"""

from __future__ import annotations

import torch

from mlcore.errors import MlcoreError

__all__ = ["amp_dtype", "check_amp", "resolve_device"]


def resolve_device(name: str) -> torch.device:
    """`auto` (CUDA when PyTorch sees a GPU, else the CPU), `cpu` or `cuda[:N]`."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise MlcoreError(
            "Device 'cuda' was asked for but PyTorch sees no CUDA GPU here; "
            "use device 'cpu' or 'auto', or run on a machine with a GPU."
        )
    try:
        return torch.device(name)
    except RuntimeError:
        raise MlcoreError(f"Unknown device {name!r}; use auto, cpu or cuda.") from None


def check_amp(amp: bool | None, device: torch.device) -> None:
    """Refuse mixed precision asked for on a device that has none (training asks this)."""
    if amp and device.type != "cuda":
        raise MlcoreError("Mixed precision (amp) runs on CUDA only; leave amp unset on the CPU.")


def amp_dtype(amp: bool | None, device: torch.device) -> torch.dtype | None:
    """The autocast dtype: None on the CPU or when amp is False; bf16 where the GPU has it."""
    if amp is False or device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
