"""A ready model downloaded as ONNX through the API: a job writes it, the same URL gives it."""

from __future__ import annotations

import json
import shutil

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from rasterio.windows import Window

from inventories.models import Job, ModelVersion
from inventories.services.files import media_path
from mlcore.data import SceneSpec, StackedScene, label_scenes, read_vector
from mlcore.data.dataset import read_prepared
from mlcore.modeldir.directory import load_model
from mlcore.models.registry import ModelConfig
from mlcore.training.segmentation import TrainConfig, train
from tests.conftest import wait_for
from tests.factories.landslide_scenes import make_scene


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("onnx-api")
    place = make_scene(root / "scene", size=256, blobs=14, seed=4)
    labelled = label_scenes(
        [SceneSpec([place.image, place.dem])],
        [read_vector(place.landslides)],
        [read_vector(place.extents)],
    )
    config = TrainConfig(
        model=ModelConfig(arch="unet", encoder="none", in_channels=4, encoder_depth=3),
        epochs=1, batch_size=4, chip_size=64, lr=3e-3, chips_per_epoch=16, num_workers=0,
        device="cpu",
    )  # fmt: skip
    result = train(config, labelled, labelled, root / "model")
    return root / "model", result.checkpoint_sha256, place


@pytest.fixture
def version(trained, people):
    model_dir, sha, _ = trained
    version = ModelVersion.objects.create(
        project=people.a, name="tiny <i>", architecture="unet", encoder="none",
        status="ready", checkpoint_sha256=sha, directory="models/tiny",
    )  # fmt: skip
    shutil.copytree(model_dir, media_path("models/tiny"), dirs_exist_ok=True)
    return version


def url(version) -> str:
    return f"/api/models/{version.pk}/onnx/"


@pytest.mark.django_db(transaction=True)
def test_the_first_download_exports_in_a_job_and_the_next_gives_the_file(
    api, version, trained, celery_worker
):
    response = api.bob.get(url(version))
    assert response.status_code == 202, response.content
    again = api.bob.get(url(version))
    assert again.status_code == 202 and again.json()["id"] == response.json()["id"]
    job = wait_for(
        lambda: Job.objects.filter(
            pk=response.json()["id"], state__in=["succeeded", "failed"]
        ).first(),
        timeout=300,
    )
    assert job.state == "succeeded", job.error + job.log
    assert (media_path("models/tiny") / "model.onnx").is_file()  # kept with the version

    download = api.bob.get(url(version))
    assert download.status_code == 200
    assert download["Content-Disposition"].startswith("attachment")
    body = b"".join(download.streaming_content)
    props = {p.key: json.loads(p.value) for p in onnx.load_from_string(body).metadata_props}
    assert props["model_type"] == "Segmentor"
    assert props["scarp_checkpoint_sha256"] == version.checkpoint_sha256

    # The downloaded file on a chip of the scene equals the stored model in PyTorch.
    model_dir, sha, place = trained
    network, _, meta = load_model(model_dir, expected_sha256=sha)
    chip, _ = read_prepared(
        StackedScene(SceneSpec([place.image, place.dem])), meta["input"], Window(0, 0, 64, 64)
    )
    with torch.no_grad():
        expected = torch.sigmoid(network(torch.from_numpy(chip[None]))).numpy()
    session = ort.InferenceSession(body, providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {"input": chip[None]})
    assert np.abs(got - expected).max() < 1e-4


@pytest.mark.django_db
def test_an_outsider_gets_404_and_a_member_not(api, version):
    response = api.charlie.get(url(version))
    assert response.status_code == 404
    assert b"tiny" not in response.content
    assert api.bob.get(url(version)).status_code == 202  # a member gets the export started


@pytest.mark.django_db
def test_a_model_that_is_not_ready_is_refused_with_its_name(api, version):
    version.status = "training"
    version.save()
    response = api.bob.get(url(version))
    assert response.status_code == 400
    assert "tiny <i>" in response.json()["detail"] and "ready" in response.json()["detail"]
    assert not Job.objects.filter(kind="export_model").exists()


@pytest.mark.django_db
def test_the_onnx_download_is_in_the_openapi_schema(api):
    assert "/api/models/{id}/onnx/" in api.bob.get("/api/schema/?format=json").json()["paths"]
