"""Bounds and types at the door: each finding of issue #16, through the path a user takes."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from rasterio.transform import from_origin

from inventories.models import Inventory, Job, Membership, ModelVersion, Project, Scene
from inventories.services.jobs import JobContext
from inventories.services.names import fit_name
from inventories.services.prediction import _store
from tests.factories.rasters import write_geotiff
from tests.factories.rows import make_inventory, make_scene


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def fresh_cache():
    """Throttle counters live in the cache; each test starts from none."""
    cache.clear()
    yield
    cache.clear()


def _sparse_geotiff(path, *, width: int, height: int, dtype: str = "float64"):
    """A tiled, sparse GeoTIFF: a few KB on disk, width*height*8 bytes declared."""
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=width,
        height=height,
        count=1,
        dtype=dtype,
        crs="EPSG:32647",
        transform=from_origin(500_000, 3_450_000, 1, 1),
        tiled=True,
        blockxsize=512,
        blockysize=512,
        sparse_ok=True,
    ):
        pass
    return path


@pytest.mark.django_db
def test_a_sparse_geotiff_declaring_gigabytes_is_refused_at_upload(api, people, tmp_path, settings):
    settings.SCARP_MAX_RASTER_BYTES = 1024**3  # 1 GiB; the samples budget still allows it
    tif = _sparse_geotiff(tmp_path / "sparse.tif", width=20_000, height=20_000)
    assert tif.stat().st_size < 200_000
    response = api.alice.post(
        f"/api/projects/{people.a.pk}/scenes/upload/",
        {"file": SimpleUploadedFile("sparse.tif", tif.read_bytes())},
        format="multipart",
    )
    assert response.status_code == 400, response.content
    detail = response.json()["detail"]
    assert "sparse.tif" in detail and "3.2 GB" in detail and "SCARP_MAX_RASTER_BYTES" in detail
    assert not Job.objects.exists() and not Scene.objects.exists()


@pytest.mark.django_db
def test_a_small_raster_within_both_budgets_is_accepted(api, people, tmp_path, settings):
    settings.SCARP_MAX_RASTER_BYTES = 1024**3
    tif = write_geotiff(tmp_path / "ok.tif", np.ones((3, 32, 32), dtype="uint8"))
    response = api.alice.post(
        f"/api/projects/{people.a.pk}/scenes/upload/",
        {"file": SimpleUploadedFile("ok.tif", tif.read_bytes())},
        format="multipart",
    )
    assert response.status_code == 202, response.content


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "options", "named"),
    [
        ("/api/models/", {"epochs": "many"}, "epochs"),
        ("/api/models/", {"epochs": 10**9}, "epochs"),
        ("/api/models/", {"lr": 50}, "lr"),
        ("/api/models/", {"batch_size": 2.5}, "batch_size"),
        ("/api/models/", {"chip_size": [256]}, "chip_size"),
        ("/api/models/", {"loss": 3}, "loss"),
        ("/api/models/pretrain/", {"epochs": 10**9}, "epochs"),
        ("/api/models/pretrain/", {"mask_ratio": 4}, "mask_ratio"),
    ],
)
def test_hyperparameters_have_ranges_and_types(api, people, url, options, named):
    scene = make_scene(people.a)
    response = api.alice.post(
        url,
        {"project": people.a.pk, "places": [[scene.pk]], "hyperparameters": options},
        format="json",
    )
    assert response.status_code == 400, response.content
    assert f"option {named} " in response.json()["detail"]
    assert not ModelVersion.objects.exists() and not Job.objects.exists()


def test_derived_names_fit_the_column_and_keep_their_suffix():
    assert fit_name("short", " (probability)") == "short (probability)"
    long = fit_name("m" * 30 + " on " + "s" * 176, " (job 12)")
    assert len(long) == 200 and long.endswith("… (job 12)")


@pytest.mark.django_db
def test_a_prediction_on_a_scene_with_a_long_name_stores_its_results(people, settings):
    """The step after the model has run: names built from a 176-char scene name must fit."""
    source = make_scene(people.a, "S" * 176)
    version = ModelVersion.objects.create(project=people.a, name="M" * 60, architecture="unet")
    job = Job.objects.create(project=people.a, kind=Job.Kind.PREDICT, state=Job.State.RUNNING)
    relative = "predictions/prob.tif"
    path = settings.MEDIA_ROOT / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    write_geotiff(path, np.full((1, 16, 16), 0.9, dtype="float32"))
    polygons = gpd.GeoDataFrame({"mean_prob": []}, geometry=[], crs="EPSG:32647")
    result = _store(job, JobContext(job), version, [source], relative, polygons, 0.5)
    inventory = Inventory.objects.get(pk=result["inventory_id"])
    probability = Scene.objects.get(pk=result["probability_scene_id"])
    assert len(inventory.name) <= 200 and inventory.name.endswith(f"(job {job.pk})")
    assert len(probability.name) <= 200 and probability.name.endswith("(probability)")


@pytest.mark.django_db
def test_a_scene_name_over_the_limit_is_refused_at_upload(api, people, tmp_path):
    tif = write_geotiff(tmp_path / "ok.tif", np.ones((1, 16, 16), dtype="uint8"))
    response = api.alice.post(
        f"/api/projects/{people.a.pk}/scenes/upload/",
        {"file": SimpleUploadedFile("ok.tif", tif.read_bytes()), "name": "n" * 201},
        format="multipart",
    )
    assert response.status_code == 400 and "name" in response.json()
    assert not Job.objects.exists()


@pytest.mark.django_db
def test_the_token_endpoint_is_throttled(client, people, settings):
    settings.SCARP_TOKEN_RATE = "3/min"
    codes = [
        client.post("/api/auth/token/", {"username": "bob", "password": "guess"}).status_code
        for _ in range(4)
    ]
    assert codes == [400, 400, 400, 429]
    # The right password is refused too while throttled: guessing gains nothing.
    good = client.post("/api/auth/token/", {"username": "bob", "password": "pw-bob"})
    assert good.status_code == 429


@pytest.mark.django_db
def test_the_token_endpoint_answers_below_the_rate(client, people, settings):
    settings.SCARP_TOKEN_RATE = "3/min"
    good = client.post("/api/auth/token/", {"username": "bob", "password": "pw-bob"})
    assert good.status_code == 200 and good.json()["token"]


@pytest.mark.django_db
def test_the_login_page_is_throttled_after_failed_logins(client, people, settings):
    settings.SCARP_LOGIN_ATTEMPTS = 3
    for _ in range(3):
        failed = client.post("/accounts/login/", {"username": "bob", "password": "guess"})
        assert failed.status_code == 200 and "did not match" in failed.content.decode()
    blocked = client.post("/accounts/login/", {"username": "bob", "password": "pw-bob"})
    assert blocked.status_code == 429
    assert "Too many failed logins" in blocked.content.decode()
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_the_login_page_logs_in_below_the_limit(client, people, settings):
    settings.SCARP_LOGIN_ATTEMPTS = 3
    client.post("/accounts/login/", {"username": "bob", "password": "guess"})
    ok = client.post("/accounts/login/", {"username": "bob", "password": "pw-bob"})
    assert ok.status_code == 302 and client.session["_auth_user_id"] == str(people.bob.pk)


@pytest.mark.django_db
def test_list_pages_have_a_maximum_size(api, people, settings):
    settings.SCARP_MAX_PAGE_SIZE = 2
    for i in range(3):
        make_inventory(people.a, f"inventory {i}")
    body = api.alice.get("/api/inventories/?limit=100000").json()
    assert body["count"] == 3 and len(body["results"]) == 2
    assert body["next"]


@pytest.mark.django_db
def test_the_last_admin_cannot_demote_itself(api, people):
    mine = Membership.objects.get(project=people.a, user=people.alice)
    url = f"/api/projects/{people.a.pk}/members/{mine.pk}/"
    refused = api.alice.patch(url, {"role": "annotator"}, format="json")
    assert refused.status_code == 400 and "last admin" in refused.json()["detail"]
    mine.refresh_from_db()
    assert mine.role == "admin"
    # With a second admin, the first may step down.
    api.alice.post(f"/api/projects/{people.a.pk}/members/", {"username": "rita", "role": "admin"})
    assert api.alice.patch(url, {"role": "annotator"}, format="json").status_code == 200


@pytest.mark.django_db
def test_a_taken_project_name_tells_nothing_about_projects_one_cannot_see(api, people):
    assert api.alice.post("/api/projects/", {"name": "Landslides 2024"}).status_code == 201
    # charlie cannot see alice's project: its name is free for him.
    theirs = api.charlie.post("/api/projects/", {"name": "Landslides 2024"})
    assert theirs.status_code == 201, theirs.content
    # The creator's own duplicate is refused, and the message is about their own project.
    again = api.alice.post("/api/projects/", {"name": "Landslides 2024"})
    assert again.status_code == 400
    assert "You already have a project named" in again.json()["detail"]
    assert Project.objects.filter(name="Landslides 2024").count() == 2
    # Renaming into another's name is just as silent.
    mine = Project.objects.get(name="Landslides 2024", created_by=people.alice)
    other = api.dora.post("/api/projects/", {"name": "Dora's"}).json()["id"]
    renamed = api.dora.patch(f"/api/projects/{other}/", {"name": "Landslides 2024"}, format="json")
    assert renamed.status_code == 200 and mine.name == "Landslides 2024"
