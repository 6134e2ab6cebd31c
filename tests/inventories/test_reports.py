"""Accuracy reports in the app: the job, the figures, the files, the pages, who may see what.

The hand-made world: two 100 m reference squares in a 1 km test extent (UTM
47N, stored in lon/lat), and a prediction of two squares shifted by 50 m and
10 m. By hand: pixels TP 5000 + 9000, FP 5000 + 1000, FN the same, so
precision = recall = F1 = 0.7 and IoU = 14000 / 26000; objects: the 50 m
shift has IoU 1/3 (no match at 0.5), the 10 m shift 9000 / 11000 (a match).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
from django.conf import settings
from django.contrib.gis.geos import MultiPolygon, Polygon

from inventories.models import AccuracyReport, Inventory, Job, Membership, ModelVersion, Role
from inventories.services.inventories import extents_import, inventory_import
from inventories.tasks import job_run
from tests.conftest import SHARED_DATA, wait_for
from tests.factories.rasters import write_geotiff
from tests.factories.rows import make_extent, make_inventory, make_landslide, make_scene

X0, Y0 = 500_000.0, 3_450_000.0


def utm_square(x: float, y: float, size: float) -> MultiPolygon:
    """A square given in UTM 47N metres, stored in lon/lat like every geometry of the app."""
    square = Polygon.from_bbox((x, y, x + size, y + size))
    square.srid = 32647
    return MultiPolygon(square.transform(4326, clone=True), srid=4326)


def make_world(project, *, predicted_name: str = "Model v1 output", shifts=(50, 10)):
    """Reference and prediction of the module docstring; a second call adds another prediction."""
    reference = Inventory.objects.filter(project=project, name="Field mapping").first()
    if reference is None:
        reference = make_inventory(project, "Field mapping", kind="reference")
        make_landslide(reference, geometry=utm_square(X0 + 100, Y0 + 100, 100))
        make_landslide(reference, geometry=utm_square(X0 + 500, Y0 + 500, 100))
        make_extent(reference, geometry=utm_square(X0, Y0, 1000), split="test")
        make_extent(reference, geometry=utm_square(X0 + 3000, Y0, 1000), split="train")
    scene = make_scene(project, f"post-event {predicted_name}")
    predicted = make_inventory(project, predicted_name, kind="predicted", source_scene=scene)
    first = make_landslide(predicted, geometry=utm_square(X0 + 100 + shifts[0], Y0 + 100, 100))
    second = make_landslide(predicted, geometry=utm_square(X0 + 500 + shifts[1], Y0 + 500, 100))
    return type(
        "World",
        (),
        {"reference": reference, "predicted": predicted, "scene": scene, "pred": [first, second]},
    )


def start(client, world, **extra):
    body = {"predicted": world.predicted.pk, "reference": world.reference.pk, **extra}
    return client.post("/api/reports/", body, format="json")


def run_here(client, world, **extra) -> AccuracyReport:
    """Start through the API, then run the job in this process (what the worker calls)."""
    response = start(client, world, **extra)
    assert response.status_code == 202, response.content
    job_run(response.json()["id"], worker="test")
    job = Job.objects.get(pk=response.json()["id"])
    assert job.state == "succeeded", job.error
    return AccuracyReport.objects.get(pk=job.result["report_id"])


@pytest.mark.django_db(transaction=True)
def test_two_squares_give_the_hand_computed_figures_through_the_worker(people, api, celery_worker):
    world = make_world(people.a)
    response = start(api.alice, world, name="v1 on test")
    assert response.status_code == 202, response.content
    job = wait_for(lambda: Job.objects.filter(pk=response.json()["id"], state="succeeded").first())
    report = AccuracyReport.objects.get(pk=job.result["report_id"])
    f = report.figures

    assert f["pixel"]["counts"] == {"tp": 14_000, "fp": 6_000, "fn": 6_000, "tn": 974_000}
    assert f["pixel"]["precision"] == pytest.approx(0.7)
    assert f["pixel"]["recall"] == pytest.approx(0.7)
    assert f["pixel"]["f1"] == pytest.approx(0.7)
    assert f["pixel"]["iou"] == pytest.approx(14_000 / 26_000)
    assert f["grid"]["crs"] == "EPSG:32647" and f["grid"]["resolution"] == 1.0
    objects = f["objects"]
    assert (objects["tp"], objects["fp"], objects["fn"]) == (1, 1, 1)
    assert objects["f1"] == pytest.approx(0.5)
    assert objects["mean_iou_of_matches"] == pytest.approx(9_000 / 11_000, abs=1e-6)
    assert f["objects_any_overlap"]["tp"] == 2 and f["objects_any_overlap"]["f1"] == 1.0
    assert f["area"]["ratio"] == pytest.approx(1.0, abs=1e-6)
    assert f["inputs"]["evaluation_area_m2"] == pytest.approx(1e6, rel=1e-6)

    assert report.name == "v1 on test" and report.created_by == people.alice
    assert report.evaluation_area.area == pytest.approx(utm_square(X0, Y0, 1000).area)
    folder = Path(settings.MEDIA_ROOT) / report.directory
    assert folder == Path(settings.MEDIA_ROOT) / "reports" / str(report.pk)
    expected = {
        "report.json",
        "summary.csv",
        "report.pdf",
        "layers.gpkg",
        "areafreq.png",
        "map.png",
    }
    assert expected <= {p.name for p in folder.iterdir()}
    ids = json.loads((folder / "report.json").read_text())["objects"]["ids"]
    assert ids["tp_pred"] == [world.pred[1].pk] and ids["fp_pred"] == [world.pred[0].pk]
    assert len(ids["fn_ref"]) == 1
    assert "pr_curve.png" not in {p.name for p in folder.iterdir()}


@pytest.mark.django_db(transaction=True)
def test_a_prediction_with_a_probability_map_gets_a_pr_curve(people, api, celery_worker):
    world = make_world(people.a)
    prob = np.full((1000, 1000), 13, dtype=np.uint8)  # p = 0.05 (stored as p x 254)
    prob[800:900, 100:200] = 229  # over the first reference square: p = 0.9
    prob[400:500, 510:610] = 152  # over the second prediction: p = 0.6
    scene = make_scene(people.a, "probability")
    path = Path(settings.MEDIA_ROOT) / scene.file
    path.parent.mkdir(parents=True, exist_ok=True)
    write_geotiff(path, prob, nodata=255, origin=(X0, Y0 + 1000))
    with rasterio.open(path, "r+") as dst:
        dst.scales = (1 / 254,)
    world.predicted.probability_scene = scene
    world.predicted.save()

    response = start(api.alice, world)
    job = wait_for(
        lambda: (
            Job.objects.filter(pk=response.json()["id"], state__in=["succeeded", "failed"])
            .exclude(state="running")
            .first()
        )
    )
    assert job.state == "succeeded", job.error
    report = AccuracyReport.objects.get(pk=job.result["report_id"])
    curve = report.figures["probability"]
    assert 0 < curve["average_precision"] <= 1
    assert curve["best_threshold"] is not None and curve["best_f1"] > 0.5
    # Pixel and object figures stay those of the inventory's polygons.
    assert report.figures["pixel"]["counts"]["tp"] == 14_000
    assert report.figures["scarp"]["probability_scene"]["id"] == scene.pk
    assert (Path(settings.MEDIA_ROOT) / report.directory / "pr_curve.png").is_file()
    page = api.alice.get(f"/api/reports/{report.pk}/").json()
    assert page["files"]["pr_curve.png"] == f"/api/reports/{report.pk}/files/pr_curve.png/"
    assert page["headline"]["average_precision"] == curve["average_precision"]


@pytest.mark.django_db
def test_an_annotator_cannot_start_a_report(people, api):
    world = make_world(people.a)
    response = start(api.bob, world)
    assert response.status_code == 403
    assert "does not allow" in response.json()["detail"]
    assert Job.objects.count() == 0


@pytest.mark.django_db
def test_an_outsider_gets_404_on_every_report_url_and_an_empty_list(people, api, client):
    world = make_world(people.a)
    report = run_here(api.alice, world)
    assert start(api.charlie, world).status_code == 404
    assert api.charlie.get("/api/reports/").json()["results"] == []
    assert api.charlie.get(f"/api/reports/?project={people.a.pk}").json()["results"] == []
    for url in [
        f"/api/reports/{report.pk}/",
        f"/api/reports/{report.pk}/files/report.json/",
        f"/api/reports/{report.pk}/files/summary.csv/",
        f"/api/reports/{report.pk}/files/report.pdf/",
        f"/api/reports/{report.pk}/files/map.png/",
        f"/api/reports/{report.pk}/layers/tp/",
    ]:
        assert api.charlie.get(url).status_code == 404, url
    assert api.charlie.delete(f"/api/reports/{report.pk}/").status_code == 404
    client.force_login(people.charlie)
    for url in [
        f"/projects/{people.a.pk}/reports/",
        f"/projects/{people.a.pk}/reports/{report.pk}/",
        f"/projects/{people.a.pk}/reports/compare/?reports={report.pk},{report.pk}",
        f"/projects/{people.b.pk}/reports/{report.pk}/",
    ]:
        assert client.get(url).status_code == 404, url
    assert AccuracyReport.objects.count() == 1


@pytest.mark.django_db
def test_without_a_test_extent_the_report_is_refused_with_what_to_do(people, api):
    world = make_world(people.a)
    world.reference.mapped_extents.filter(split="test").delete()
    response = start(api.alice, world)
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert "no mapped extents marked test" in detail and "it has train extents" in detail
    assert "draw the evaluation area" in detail
    bare = make_inventory(people.a, "Unbounded", kind="reference")
    response = api.alice.post(
        "/api/reports/",
        {"predicted": world.predicted.pk, "reference": bare.pk, "splits": ["test", "validation"]},
        format="json",
    )
    assert response.status_code == 400 and "it has no mapped extents" in response.json()["detail"]
    assert Job.objects.count() == 0


@pytest.mark.django_db
def test_chosen_splits_or_a_drawn_area_become_the_evaluation_area(people, api):
    world = make_world(people.a)
    response = start(api.alice, world, splits=["train"])
    assert response.status_code == 202
    assert response.json()["params"]["area_source"].startswith("train extents of Field mapping")
    drawn = json.loads(utm_square(X0, Y0, 500).geojson)
    response = start(api.alice, world, area=drawn)
    assert response.status_code == 202
    assert response.json()["params"]["area_source"] == "a drawn area"
    response = start(api.alice, world, splits=["holdout"])
    assert response.status_code == 400 and "Unknown split holdout" in response.json()["detail"]
    response = start(api.alice, world, area=drawn, splits=["test"])
    assert response.status_code == 400 and "not both" in response.json()["detail"]
    outside = json.loads(utm_square(X0 + 500, Y0, 1000).geojson)
    notes = start(api.alice, world, area=outside).json()["params"]["notes"]
    assert any("outside the mapped extents of 'Field mapping'" in n for n in notes)


@pytest.mark.django_db
def test_inventories_of_two_projects_or_one_twice_are_refused(people, api):
    world = make_world(people.a)
    Membership.objects.create(project=people.b, user=people.alice, role=Role.ADMIN)
    elsewhere = make_inventory(people.b, "B output", kind="predicted")
    response = api.alice.post(
        "/api/reports/",
        {"predicted": elsewhere.pk, "reference": world.reference.pk},
        format="json",
    )
    assert response.status_code == 400 and "different projects" in response.json()["detail"]
    response = api.alice.post(
        "/api/reports/",
        {"predicted": world.reference.pk, "reference": world.reference.pk},
        format="json",
    )
    assert response.status_code == 400 and "two different inventories" in response.json()["detail"]
    assert Job.objects.count() == 0


@pytest.mark.django_db
def test_a_reference_inventory_may_be_the_prediction_and_the_report_says_so(people, api):
    world = make_world(people.a)
    world.predicted.kind = "reference"
    world.predicted.save()
    report = run_here(api.alice, world)
    assert any(
        "is a reference inventory, used as the prediction" in w for w in report.figures["warnings"]
    )


@pytest.mark.django_db
def test_a_report_that_cannot_be_computed_fails_and_leaves_nothing(people, api):
    world = make_world(people.a)
    world.predicted.landslides.update(geometry=utm_square(X0 + 50_000, Y0, 100))
    response = start(api.alice, world)
    job_run(response.json()["id"], worker="test")
    job = Job.objects.get(pk=response.json()["id"])
    assert job.state == "failed" and "does not overlap the evaluation area" in job.error
    assert AccuracyReport.objects.count() == 0
    reports = Path(settings.MEDIA_ROOT) / "reports"
    assert not reports.exists() or list(reports.iterdir()) == []


@pytest.mark.django_db
def test_the_report_page_shows_tables_plots_downloads_and_layer_urls(people, api, client):
    world = make_world(people.a)
    report = run_here(api.alice, world)
    client.force_login(people.bob)  # any member reads reports
    page = client.get(f"/projects/{people.a.pk}/reports/{report.pk}/").content.decode()
    for title in ["Pixel agreement", "Objects (one-to-one matching)", "Objects by size class"]:
        assert title in page
    assert "Landslide area" in page and "Area-frequency distribution" in page
    assert "<td>0.700</td>" in page and "<td>14,000</td>" in page
    assert f'src="/api/reports/{report.pk}/files/areafreq.png/"' in page
    for layer in ("tp", "fp", "fn"):
        assert f"/api/reports/{report.pk}/layers/{layer}/" in page
    for name in ("report.pdf", "summary.csv", "report.json", "layers.gpkg"):
        assert f"/api/reports/{report.pk}/files/{name}/" in page
    assert "js/pages/report_map.js" in page and "vendor/leaflet/leaflet.js" in page
    listing = client.get(f"/projects/{people.a.pk}/reports/").content.decode()
    assert report.name in listing and "New report" not in listing  # bob cannot start one
    client.force_login(people.alice)
    assert "New report" in client.get(f"/projects/{people.a.pk}/reports/").content.decode()
    assert "/reports/" in client.get(f"/projects/{people.a.pk}/").content.decode()


@pytest.mark.django_db
def test_csv_json_pdf_and_layers_download(people, api):
    world = make_world(people.a)
    report = run_here(api.alice, world)
    response = api.bob.get(f"/api/reports/{report.pk}/files/summary.csv/")
    assert response.status_code == 200 and response["Content-Type"] == "text/csv"
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == ["section", "metric", "value"]
    assert float(dict(((s, m), v) for s, m, v in rows[1:])[("pixel", "f1")]) == pytest.approx(0.7)
    response = api.bob.get(f"/api/reports/{report.pk}/files/report.json/")
    data = json.loads(b"".join(response.streaming_content))
    assert data["objects"]["tp"] == 1
    response = api.bob.get(f"/api/reports/{report.pk}/files/report.pdf/")
    assert b"".join(response.streaming_content).startswith(b"%PDF")
    response = api.bob.get(f"/api/reports/{report.pk}/files/map.png/")
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    response = api.bob.get(f"/api/reports/{report.pk}/layers/fp/", HTTP_ACCEPT="text/html")
    assert response.status_code == 200 and response["Content-Type"] == "application/geo+json"
    fp = response.json()
    assert [f["properties"]["pred_id"] for f in fp["features"]] == [world.pred[0].pk]
    assert fp["truncated"] is False
    elsewhere = api.bob.get(f"/api/reports/{report.pk}/layers/tp/?bbox=10,10,11,11").json()
    assert elsewhere["features"] == []
    assert api.bob.get(f"/api/reports/{report.pk}/files/pr_curve.png/").status_code == 404
    assert api.bob.get(f"/api/reports/{report.pk}/files/..%2Fsecret.json/").status_code == 404


@pytest.mark.django_db
def test_two_model_versions_on_one_reference_are_compared_side_by_side(people, api, client):
    first = make_world(people.a, predicted_name="Model v1 output", shifts=(50, 10))
    second = make_world(people.a, predicted_name="Model v2 output", shifts=(0, 0))
    second.predicted.model_version = ModelVersion.objects.create(
        project=people.a, name="unet-resnet34 v2", architecture="unet"
    )
    second.predicted.save()
    one, two = run_here(api.alice, first), run_here(api.alice, second)
    client.force_login(people.rita)
    response = client.get(f"/projects/{people.a.pk}/reports/compare/?reports={one.pk},{two.pk}")
    assert response.status_code == 200
    page = response.content.decode()
    assert one.name in page and two.name in page and "unet-resnet34 v2" in page
    assert '<td class="best">1.000</td>' in page  # v2 is perfect: its F1 and IoU are best
    assert page.index(one.name) < page.index(two.name)
    listed = api.rita.get(f"/api/reports/?reference={first.reference.pk}").json()["results"]
    assert {r["id"] for r in listed} == {one.pk, two.pk}

    other = make_inventory(people.a, "Other reference", kind="reference")
    make_landslide(other, geometry=utm_square(X0 + 100, Y0 + 100, 100))
    make_extent(other, geometry=utm_square(X0, Y0, 1000), split="test")
    first.reference = other
    three = run_here(api.alice, first)
    response = client.get(f"/projects/{people.a.pk}/reports/compare/?reports={one.pk},{three.pk}")
    assert response.status_code == 200  # shown, with a warning (test_report_compare)
    assert "different reference inventories" in response.content.decode()


@pytest.mark.django_db
def test_an_admin_deletes_a_report_and_its_files(people, api, django_capture_on_commit_callbacks):
    world = make_world(people.a)
    report = run_here(api.alice, world)
    folder = Path(settings.MEDIA_ROOT) / report.directory
    assert api.bob.delete(f"/api/reports/{report.pk}/").status_code == 403
    with django_capture_on_commit_callbacks(execute=True):
        assert api.alice.delete(f"/api/reports/{report.pk}/").status_code == 204
    assert not AccuracyReport.objects.exists() and not folder.exists()


@pytest.mark.django_db
def test_the_baige_inventory_against_itself_is_a_perfect_report(people, api):
    """Real data: a copy of the manual inventory agrees with it everywhere in its extent."""
    baige = SHARED_DATA / "baige" / "A"
    if not (baige / "landslides.gpkg").exists():
        pytest.skip("the shared Baige data is not here")
    reference = inventory_import(
        project=people.a, path=baige / "landslides.gpkg", name="Baige A manual"
    )
    extents_import(inventory=reference, path=baige / "extent.gpkg")
    copy = inventory_import(
        project=people.a, path=baige / "landslides.gpkg", name="Baige A copy", kind="predicted"
    )
    world = type("World", (), {"reference": reference, "predicted": copy})
    report = run_here(api.alice, world, splits=["train"])
    f = report.figures
    assert f["grid"]["crs"] == "EPSG:32647"  # the files' own CRS, not a lon/lat grid
    assert f["pixel"]["f1"] == 1.0 and f["pixel"]["counts"]["fp"] == 0
    assert f["objects"]["tp"] == f["objects"]["n_ref"] == copy.landslides.count()
    assert f["area"]["ratio"] == pytest.approx(1.0)


@pytest.mark.django_db
def test_a_probability_map_elsewhere_costs_the_curve_not_the_report(people, api):
    world = make_world(people.a)
    scene = make_scene(people.a, "probability elsewhere")
    path = Path(settings.MEDIA_ROOT) / scene.file
    path.parent.mkdir(parents=True, exist_ok=True)
    write_geotiff(path, np.full((100, 100), 200, dtype=np.uint8), origin=(X0 + 90_000, Y0))
    world.predicted.probability_scene = scene
    world.predicted.save()
    report = run_here(api.alice, world)
    assert report.figures["probability"] is None
    assert any("No precision-recall curve" in w for w in report.figures["warnings"])
    assert report.figures["pixel"]["counts"]["tp"] == 14_000
    detail = api.alice.get(f"/api/reports/{report.pk}/").json()
    assert detail["evaluation_area"]["type"] == "MultiPolygon"
    assert "pr_curve.png" not in detail["files"]
