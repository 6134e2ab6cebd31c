"""The model registry page offers each family by its traits, in real headless Chromium.

The page's script knows no architecture names: it reads each family's traits
from the page config, so a change-detection family (inputs: a pair) shows
each place's pre-event partner instead of its elevation, and the
pretraining form lists only the families that can be pretrained.
"""

from __future__ import annotations

import pytest

from mlcore.models.registry import ARCHITECTURES, families
from tests.factories.imported import import_generated_place

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _options(form) -> list[str]:
    return form.locator("select[name=arch] option").evaluate_all("els => els.map(e => e.value)")


def test_a_pair_family_shows_pre_event_partners_and_pretraining_lists_only_pretrainable_ones(
    open_page, people, tmp_path
):
    import_generated_place(people.a, tmp_path / "data", size=128)
    page = open_page(people.alice, f"/projects/{people.a.pk}/models/")
    train = page.locator("#train-form")
    assert _options(train) == [f.name for f in families(in_training_form=True)]
    pretrain = page.locator("#pretrain-form")
    assert _options(pretrain) == [f.name for f in families(pretrainable=True)]
    assert "maskrcnn" in _options(train) and "maskrcnn" not in _options(pretrain)

    pair = train.locator("[data-role=pair]").first
    (change,) = (f.name for f in ARCHITECTURES.values() if f.inputs == "pair")
    assert not pair.is_visible()
    train.locator("select[name=arch]").select_option(change)
    assert pair.is_visible()
    assert all(not el.is_visible() for el in train.locator("[data-role=elevation]").all())
    train.locator("select[name=arch]").select_option("unet")
    assert not pair.is_visible()
    assert page.errors == []
