"""The comparison page names the model family behind each report, beside its figures (issue #8).

Predictions of the two-squares world of test_reports, each made by another
family: a U-Net, a Siamese change detector, and a Mask R-CNN fine-tuned from
a masked pretraining. Model versions are rows; the reports are built by the
real report job.
"""

from __future__ import annotations

import csv
import io

import pytest

from inventories.models import ModelVersion
from tests.factories.rows import make_extent, make_inventory, make_landslide
from tests.inventories.test_reports import X0, Y0, make_world, run_here, utm_square


def version(project, name: str, arch: str, encoder: str, *seconds: float, **fields):
    history = [{"epoch": i + 1, "seconds": s} for i, s in enumerate(seconds)]
    fields.setdefault("metrics", {"history": history, "f1": 0.7123} if history else {})
    return ModelVersion.objects.create(
        project=project, name=name, architecture=arch, encoder=encoder, status="ready", **fields
    )


def report_by(api, project, model: ModelVersion | None, name: str, shifts=(50, 10)):
    world = make_world(project, predicted_name=name, shifts=shifts)
    world.predicted.model_version = model
    world.predicted.save()
    return run_here(api.alice, world)


def compare_url(project, *reports, fmt: str = "") -> str:
    url = f"/projects/{project.pk}/reports/compare/?reports={','.join(str(r.pk) for r in reports)}"
    return url + (f"&format={fmt}" if fmt else "")


@pytest.fixture
def families(people, api):
    mae = version(
        people.a,
        "mae-v1",
        "unet",
        "resnet34",
        20.0,
        kind="pretraining",
        pretraining={"method": "masked"},
    )
    unet = version(people.a, "unet-resnet34 v1", "unet", "resnet34", 30.0, 45.5)
    siamese = version(people.a, "change v1", "siamese_unet", "none", 3600.0, 125.0)
    outlines = version(
        people.a,
        "outlines v1",
        "maskrcnn",
        "resnet50",
        600.0,
        61.0,
        pretrained_from=mae,
        pretraining={"method": "masked", "sha256": "ab" * 32},
    )
    reports = [
        report_by(api, people.a, unet, "U-Net output"),
        report_by(api, people.a, siamese, "Change output", shifts=(0, 10)),
        report_by(api, people.a, outlines, "Outlines output", shifts=(0, 0)),
    ]
    return type("Families", (), {"versions": [unet, siamese, outlines], "reports": reports})


@pytest.mark.django_db
def test_each_family_is_named_above_the_figures_on_one_reference(people, client, families):
    client.force_login(people.rita)
    response = client.get(compare_url(people.a, *families.reports))
    assert response.status_code == 200
    page = response.content.decode()
    for label in [
        "Segmentation (U-Net family)",
        "Change detection (Siamese U-Net, pre+post)",
        "Instances (Mask R-CNN), fine-tuned from mae-v1 (masked)",
    ]:
        assert f"<td>{label}</td>" in page
    for arch in ["unet / resnet34", "siamese_unet / none", "maskrcnn / resnet50"]:
        assert f"<td>{arch}</td>" in page
    for shown in ["1 min 16 s", "1 h 02 min", "11 min 01 s"]:  # 75.5 s, 3725 s, 661 s
        assert f"<td>{shown}</td>" in page
    assert page.count("<td>0.712</td>") == 3  # the validation F1 of each training
    for v in families.versions:
        assert f'<a href="/projects/{people.a.pk}/models/{v.pk}/">{v.name}</a>' in page
    assert page.index("Training time") < page.index(">Pixels<") < page.index("Object")
    assert "Siamese change detection on a stacked post,pre pair" in page  # the legend
    assert "different reference" not in page and "different evaluation areas" not in page


@pytest.mark.django_db
def test_a_warning_appears_only_when_the_reference_differs(people, api, client):
    unet = version(people.a, "unet v1", "unet", "none", 12.0)
    one = report_by(api, people.a, unet, "U-Net output")
    two = report_by(api, people.a, None, "Imported output", shifts=(0, 0))
    other = make_inventory(people.a, "Other reference", kind="reference")
    make_landslide(other, geometry=utm_square(X0 + 100, Y0 + 100, 100))
    make_extent(other, geometry=utm_square(X0, Y0, 1000), split="test")
    world = make_world(people.a, predicted_name="Elsewhere output")
    world.reference = other
    three = run_here(api.alice, world)
    client.force_login(people.rita)

    same = client.get(compare_url(people.a, one, two)).content.decode()
    assert "Hand-made / imported (no model version recorded)" in same
    assert "<td>12.0 s</td>" in same
    assert 'class="card warnings"' not in same

    response = client.get(compare_url(people.a, one, three))
    assert response.status_code == 200
    page = response.content.decode()
    assert 'class="card warnings"' in page
    assert "different reference inventories (Field mapping, Other reference)" in page
    assert "different evaluation areas" not in page  # the same square, only the reference differs


@pytest.mark.django_db
def test_the_comparison_downloads_as_csv_and_json(people, client, families):
    client.force_login(people.bob)
    unet, siamese, outlines = families.reports
    page = client.get(compare_url(people.a, *families.reports)).content.decode()
    assert f"reports={unet.pk}%2C{siamese.pk}%2C{outlines.pk}&amp;format=csv" in page

    response = client.get(compare_url(people.a, *families.reports, fmt="csv"))
    assert response.status_code == 200 and response["Content-Type"] == "text/csv"
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["section", "metric", *(f"{r.name} (#{r.pk})" for r in families.reports)]
    by_label = {(r[0], r[1]): r[2:] for r in rows[1:]}
    assert by_label[("Model", "Family")][1] == "Change detection (Siamese U-Net, pre+post)"
    assert by_label[("Model", "Training time")] == ["75.5", "3725.0", "661.0"]
    assert by_label[("Pixels", "F1")][2] == "1.0"

    data = client.get(compare_url(people.a, *families.reports, fmt="json")).json()
    model = data["reports"][2]["model"]
    assert model["family"] == "Instances (Mask R-CNN), fine-tuned from mae-v1 (masked)"
    assert model["pretrained_from"] == outlines.predicted.model_version.pretrained_from_id
    assert model["pretraining_method"] == "masked" and model["validation_f1"] == 0.7123
    assert data["notes"] == []

    assert client.get(compare_url(people.a, unet, siamese, fmt="xlsx")).status_code == 400
    client.force_login(people.charlie)  # an outsider learns nothing, in any format
    assert client.get(compare_url(people.a, unet, siamese, fmt="csv")).status_code == 404


@pytest.mark.django_db
def test_the_report_list_and_each_report_name_the_family_behind_the_prediction(
    people, client, families
):
    client.force_login(people.rita)
    listing = client.get(f"/projects/{people.a.pk}/reports/").content.decode()
    for label in [
        "Segmentation (U-Net family) · unet / resnet34",
        "Change detection (Siamese U-Net, pre+post) · siamese_unet / none",
        "Instances (Mask R-CNN), fine-tuned from mae-v1 (masked) · maskrcnn / resnet50",
    ]:
        assert label in listing
    outlines = families.reports[2]
    page = client.get(f"/projects/{people.a.pk}/reports/{outlines.pk}/").content.decode()
    assert "Instances (Mask R-CNN), fine-tuned from mae-v1 (masked), maskrcnn / resnet50" in page
    assert f'href="/projects/{people.a.pk}/models/{families.versions[2].pk}/"' in page
