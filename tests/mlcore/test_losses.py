"""Losses honour the ignore mask: ignored pixels add nothing, not even gradient."""

from __future__ import annotations

import pytest
import torch

from mlcore.errors import MlcoreError
from mlcore.training.losses import IGNORE, LOSSES, get_loss


def _batch():
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 1, 8, 8, generator=gen)
    target = (torch.rand(2, 8, 8, generator=gen) > 0.7).to(torch.uint8)
    target[:, :, :3] = IGNORE
    return logits, target


@pytest.mark.parametrize("name", list(LOSSES))
def test_ignored_pixels_add_no_loss_and_no_gradient(name):
    loss_fn = get_loss(name)
    logits, target = _batch()
    logits.requires_grad_(True)
    loss = loss_fn(logits, target)
    loss.backward()
    ignored = (target == IGNORE).unsqueeze(1)
    assert torch.all(logits.grad[ignored] == 0)
    assert logits.grad[~ignored].abs().sum() > 0

    changed = logits.detach().clone()
    changed[ignored] = 50.0  # wildly wrong where nothing is known
    assert torch.allclose(loss_fn(changed, target), loss.detach())


@pytest.mark.parametrize("name", list(LOSSES))
def test_a_fully_ignored_batch_gives_a_finite_loss(name):
    logits = torch.randn(1, 1, 4, 4, requires_grad=True)
    target = torch.full((1, 4, 4), IGNORE, dtype=torch.uint8)
    loss = get_loss(name)(logits, target)
    loss.backward()
    assert torch.isfinite(loss)


@pytest.mark.parametrize("name", list(LOSSES))
def test_better_predictions_cost_less(name):
    target = torch.zeros(1, 8, 8, dtype=torch.uint8)
    target[:, 2:5, 2:5] = 1
    good = (target.float() * 8 - 4).unsqueeze(1)
    assert get_loss(name)(good, target) < get_loss(name)(-good, target)


def test_an_unknown_loss_names_the_valid_ones():
    with pytest.raises(MlcoreError, match="bce_dice, focal"):
        get_loss("hinge")
