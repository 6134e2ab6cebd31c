"""The model zoo builds every architecture for any number of bands."""

from __future__ import annotations

import pytest
import torch

from mlcore.errors import MlcoreError
from mlcore.models.registry import (
    ARCHITECTURES,
    ClassicUNet,
    ModelConfig,
    UnknownModel,
    build_model,
)

torch.set_num_threads(1)

ZOO = [
    ("unet", "none"),
    ("unet", "resnet34"),
    ("unet", "densenet121"),
    ("unetplusplus", "resnet34"),
    ("deeplabv3plus", "resnet34"),
    ("segformer", "mit_b0"),
]


@pytest.mark.parametrize(("arch", "encoder"), ZOO)
@pytest.mark.parametrize("bands", [1, 5])
def test_every_architecture_maps_any_band_count(arch, encoder, bands):
    model = build_model(ModelConfig(arch=arch, encoder=encoder, in_channels=bands))
    model.train()  # BatchNorm in train mode needs batches of two
    out = model(torch.randn(2, bands, 64, 64))
    assert out.shape == (2, 1, 64, 64)
    out.mean().backward()


def test_an_unknown_architecture_is_answered_with_the_valid_ones():
    with pytest.raises(UnknownModel, match="unet, unetplusplus, deeplabv3plus, segformer"):
        build_model(ModelConfig(arch="mask-rcnn", in_channels=3))


def test_an_unknown_encoder_is_answered_with_the_valid_ones():
    with pytest.raises(UnknownModel, match="resnet34") as err:
        build_model(ModelConfig(arch="unet", encoder="resnet35", in_channels=3))
    assert "mit_b0" in str(err.value)


def test_the_classic_unet_is_only_a_unet():
    with pytest.raises(UnknownModel, match="cannot use encoder 'none'"):
        build_model(ModelConfig(arch="deeplabv3plus", encoder="none", in_channels=3))


def test_an_encoder_depth_out_of_range_is_refused():
    with pytest.raises(MlcoreError, match="encoder depth from 3 to 5"):
        ModelConfig(arch="deeplabv3plus", in_channels=3, encoder_depth=2).validate()


def test_the_classic_unet_keeps_odd_sizes():
    model = ClassicUNet(3, 1, depth=3, base=4).eval()
    assert model(torch.randn(1, 3, 37, 50)).shape == (1, 1, 37, 50)


def test_config_round_trips_through_a_dict():
    config = ModelConfig(arch="segformer", encoder="mit_b0", in_channels=4, encoder_depth=5)
    assert ModelConfig.from_dict(config.to_dict()) == config
    assert {"unet", "unetplusplus", "deeplabv3plus", "segformer"} <= set(ARCHITECTURES)
