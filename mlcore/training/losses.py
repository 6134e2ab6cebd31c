"""Segmentation losses that honour the ignore mask.

Targets are uint8 maps: 0 no landslide, 1 landslide, IGNORE for pixels that
carry no label (outside mapped extents, or nodata). Ignored pixels add
nothing to the loss or its gradient, however many there are.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from mlcore.errors import MlcoreError

IGNORE = 255

Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _split(logits: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Flattened float32 logits and 0/1 targets of the labelled pixels."""
    logits = logits.float().reshape(-1)
    target = target.reshape(-1)
    keep = target != IGNORE
    return logits[keep], target[keep].float()


def bce_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    x, y = _split(logits, target)
    if x.numel() == 0:
        return logits.sum() * 0.0
    return F.binary_cross_entropy_with_logits(x, y)


def dice_loss(logits: torch.Tensor, target: torch.Tensor, smooth: float = 1.0) -> torch.Tensor:
    """Soft Dice over all labelled pixels of the batch at once.

    Pooling the batch keeps chips without landslides from yielding 0/0.
    """
    x, y = _split(logits, target)
    p = torch.sigmoid(x)
    inter = (p * y).sum()
    return 1.0 - (2.0 * inter + smooth) / (p.sum() + y.sum() + smooth)


def bce_dice_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """BCE for per-pixel calibration plus Dice, which the class imbalance cannot swamp."""
    return bce_loss(logits, target) + dice_loss(logits, target)


def focal_loss(
    logits: torch.Tensor, target: torch.Tensor, gamma: float = 2.0, alpha: float = 0.25
) -> torch.Tensor:
    """Focal loss (Lin et al. 2017): easy background pixels weigh little."""
    x, y = _split(logits, target)
    if x.numel() == 0:
        return logits.sum() * 0.0
    bce = F.binary_cross_entropy_with_logits(x, y, reduction="none")
    p_t = torch.exp(-bce)
    weight = alpha * y + (1 - alpha) * (1 - y)
    return (weight * (1 - p_t) ** gamma * bce).mean()


LOSSES: dict[str, Loss] = {
    "bce_dice": bce_dice_loss,
    "focal": focal_loss,
    "bce": bce_loss,
    "dice": dice_loss,
}


def get_loss(name: str) -> Loss:
    try:
        return LOSSES[name]
    except KeyError:
        raise MlcoreError(f"Unknown loss {name!r}; choose one of: {', '.join(LOSSES)}.") from None
