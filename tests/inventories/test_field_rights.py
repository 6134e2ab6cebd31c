"""Rights per field: every writable field of every endpoint, for each role.

bob is annotator of A, rita reviewer, alice admin; charlie (project B) is the
outsider, who gets 404 (or, for an id in a body, the answer an unknown id gets).
Each case changes one field; the expected codes are (annotator, reviewer,
admin, outsider). A refused write must change nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction

from inventories.models import Inventory, Membership, ModelVersion, Project
from tests.factories.rasters import write_geotiff
from tests.factories.rows import make_extent, make_inventory, make_job, make_landslide, make_scene

ROLES = ("bob", "rita", "alice", "charlie")
POLYGON = {
    "type": "Polygon",
    "coordinates": [[[98.68, 31.14], [98.681, 31.14], [98.681, 31.141], [98.68, 31.14]]],
}
GEOJSON = (
    b'{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {}, '
    b'"geometry": {"type": "Polygon", "coordinates": [[[98.68, 31.14], [98.681, 31.14], '
    b"[98.681, 31.141], [98.68, 31.14]]]}}]}"
)


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    """The people fixture hashes five passwords per test; a fast hasher keeps 200 tests short."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def world(people, tmp_path):
    reference = make_inventory(people.a, "A manual")
    predicted = make_inventory(people.a, "A predicted", kind="predicted", status="in_review")
    final = make_inventory(people.a, "A final", status="final")
    tif = write_geotiff(tmp_path / "post.tif", np.ones((3, 32, 32), dtype="uint8"))
    version = ModelVersion.objects.create(
        project=people.a, name="m1", architecture="unet", status="ready"
    )
    version.directory = f"models/{version.pk}"
    version.save()
    return type(
        "World",
        (),
        {
            "people": people,
            "reference": reference,
            "predicted": predicted,
            "final": final,
            "landslide": make_landslide(reference),
            "predicted_landslide": make_landslide(predicted, confidence=0.6),
            "extent": make_extent(reference),
            "scene": make_scene(people.a),
            "job": make_job(people.a),
            "version": version,
            "bob_membership": Membership.objects.get(project=people.a, user=people.bob),
            "tif": tif,
        },
    )


@dataclass
class Write:
    label: str
    method: str
    url: Callable
    body: Callable | dict = field(default_factory=dict)
    expect: tuple[int, int, int, int] = (200, 200, 200, 404)
    format: str = "json"


def _a(w) -> int:
    return w.people.a.pk


def _project_url(w) -> str:
    return f"/api/projects/{_a(w)}/"


def _inventory_url(attr: str) -> Callable:
    return lambda w: f"/api/inventories/{getattr(w, attr).pk}/"


def _new_inventory(extra: dict) -> Callable:
    return lambda w: {"project": _a(w), "name": "New", **extra}


def _vector_upload(extra: dict) -> Callable:
    return lambda w: {"file": SimpleUploadedFile("s.geojson", GEOJSON), "name": "Up", **extra}


def _raster_upload(extra: dict) -> Callable:
    return lambda w: {"file": SimpleUploadedFile("post.tif", w.tif.read_bytes()), **extra}


MANAGE = (403, 403, 200, 404)
MANAGE_CREATED = (403, 403, 201, 404)
EDIT_CREATED = (201, 201, 201, 404)
REVIEW = (403, 200, 200, 404)

CASES = [
    # Projects: admins only.
    *[
        Write(f"project.{name}", "patch", _project_url, {name: value}, MANAGE)
        for name, value in [
            ("name", "Renamed"),
            ("description", "new words"),
            ("trigger", "rainfall"),
            ("event_date", "2020-01-01"),
        ]
    ],
    # Members: admins only.
    Write(
        "member.create(username, role)",
        "post",
        lambda w: f"/api/projects/{_a(w)}/members/",
        {"username": "dora", "role": "reviewer"},
        MANAGE_CREATED,
    ),
    Write(
        "member.role",
        "patch",
        lambda w: f"/api/projects/{_a(w)}/members/{w.bob_membership.pk}/",
        {"role": "reviewer"},
        MANAGE,
    ),
    # Inventories, created by hand: always reference; final needs a reviewer.
    *[
        Write(
            f"inventory.create {extra}",
            "post",
            lambda w: "/api/inventories/",
            _new_inventory(extra),
            expect,
        )
        for extra, expect in [
            ({}, (201, 201, 201, 400)),
            ({"description": "words"}, (201, 201, 201, 400)),
            ({"kind": "reference"}, (201, 201, 201, 400)),
            ({"kind": "predicted"}, (400, 400, 400, 400)),
            ({"status": "draft"}, (201, 201, 201, 400)),
            ({"status": "in_review"}, (201, 201, 201, 400)),
            ({"status": "final"}, (403, 201, 201, 400)),
        ]
    ],
    *[
        Write(
            f"inventory.{label}",
            "patch",
            _inventory_url(attr),
            body,
            expect,
        )
        for label, attr, body, expect in [
            ("name", "reference", {"name": "Renamed"}, (200, 200, 200, 404)),
            ("description", "reference", {"description": "words"}, (200, 200, 200, 404)),
            ("status in_review", "reference", {"status": "in_review"}, (200, 200, 200, 404)),
            ("status final", "reference", {"status": "final"}, REVIEW),
            ("status final->draft", "final", {"status": "draft"}, REVIEW),
            ("kind", "reference", {"kind": "predicted"}, (400, 400, 400, 404)),
            ("kind predicted->reference", "predicted", {"kind": "reference"}, (400, 400, 400, 404)),
            (
                "the issue's bypass",
                "predicted",
                {"kind": "reference", "status": "final"},
                (400, 400, 400, 404),
            ),
            ("predicted status final", "predicted", {"status": "final"}, REVIEW),
        ]
    ],
    Write(
        "inventory.project",
        "patch",
        lambda w: f"/api/inventories/{w.reference.pk}/",
        lambda w: {"project": w.people.b.pk},
        (400, 400, 400, 404),
    ),
    Write(
        "inventory.put",
        "put",
        lambda w: f"/api/inventories/{w.predicted.pk}/",
        lambda w: {"project": _a(w), "name": "P", "kind": "reference", "status": "final"},
        (400, 400, 400, 404),
    ),
    # Landslides and mapped extents: every member edits.
    *[
        Write(
            f"landslide.create {extra}",
            "post",
            lambda w: f"/api/inventories/{w.reference.pk}/landslides/",
            {"geometry": POLYGON, **extra},
            EDIT_CREATED,
        )
        for extra in [{}, {"landslide_type": "flow"}, {"certainty": "probable"}, {"notes": "n"}]
    ],
    *[
        Write(
            f"landslide.{next(iter(extra))}",
            "patch",
            lambda w: f"/api/landslides/{w.landslide.pk}/",
            {"version": 1, **extra},
        )
        for extra in [
            {"geometry": POLYGON},
            {"landslide_type": "flow"},
            {"certainty": "possible"},
            {"notes": "n"},
        ]
    ],
    *[
        Write(
            f"extent.create {extra}",
            "post",
            lambda w: f"/api/inventories/{w.reference.pk}/extents/",
            {"geometry": POLYGON, **extra},
            EDIT_CREATED,
        )
        for extra in [{}, {"split": "validation"}, {"name": "north"}]
    ],
    *[
        Write(
            f"extent.{next(iter(extra))}",
            "patch",
            lambda w: f"/api/extents/{w.extent.pk}/",
            {"version": 1, **extra},
        )
        for extra in [{"geometry": POLYGON}, {"split": "test"}, {"name": "north"}]
    ],
    # Uploads: inventories by every member, imagery by admins.
    *[
        Write(
            f"inventory.upload {extra}",
            "post",
            lambda w: f"/api/projects/{_a(w)}/inventories/upload/",
            _vector_upload(extra),
            (202, 202, 202, 404),
            "multipart",
        )
        for extra in [{}, {"kind": "reference"}, {"layer": "x"}]
    ],
    *[
        Write(
            f"scene.upload {extra}",
            "post",
            lambda w: f"/api/projects/{_a(w)}/scenes/upload/",
            _raster_upload(extra),
            (403, 403, 202, 404),
            "multipart",
        )
        for extra in [
            {},
            {"name": "Post"},
            {"kind": "optical"},
            {"phase": "pre"},
            {"band_names": "r,g,b"},
            {"acquired_on": "2020-01-02"},
        ]
    ],
    # Models: admins only (a 400 for the admin is the data's fault, past the role check).
    Write(
        "model.train",
        "post",
        lambda w: "/api/models/",
        lambda w: {"project": _a(w), "places": [[w.scene.pk]]},
        (403, 403, 400, 404),
    ),
    Write(
        "model.pretrain",
        "post",
        lambda w: "/api/models/pretrain/",
        lambda w: {"project": _a(w), "places": [[w.scene.pk]]},
        (403, 403, 400, 404),
    ),
    Write("model.promote", "post", lambda w: f"/api/models/{w.version.pk}/promote/", {}, MANAGE),
    Write(
        "model.retrain",
        "post",
        lambda w: f"/api/models/{w.version.pk}/retrain/",
        {},
        (403, 403, 400, 404),
    ),
    Write(
        "model.predict",
        "post",
        lambda w: f"/api/models/{w.version.pk}/predict/",
        lambda w: {"scenes": [w.scene.pk], "threshold": 0.5, "min_area_m2": 1, "split": False},
        (403, 403, 400, 404),
    ),
    Write("job.cancel", "post", lambda w: f"/api/jobs/{w.job.pk}/cancel/", {}, MANAGE),
    # Review of predicted polygons: reviewers and admins.
    Write(
        "review.decide",
        "post",
        lambda w: (
            f"/api/inventories/{w.predicted.pk}/review/landslides/"
            f"{w.predicted_landslide.pk}/decide/"
        ),
        {"decision": "accepted", "version": 1},
        REVIEW,
    ),
]


@pytest.mark.django_db
@pytest.mark.parametrize("case", CASES, ids=[c.label for c in CASES])
def test_each_writable_field_for_each_role(api, world, case):
    """Each role tries the write on the same world (rolled back between roles)."""
    for role, expected in zip(ROLES, case.expect, strict=True):
        savepoint = transaction.savepoint()
        body = case.body(world) if callable(case.body) else case.body
        before = _state(world)
        client = getattr(api, role)
        response = getattr(client, case.method)(case.url(world), body, format=case.format)
        assert response.status_code == expected, (case.label, role, response.content[:300])
        if expected >= 400:
            assert _state(world) == before, (case.label, role)
        if role == "charlie":
            assert "Project A" not in response.content.decode(), case.label
        transaction.savepoint_rollback(savepoint)


def _state(world) -> tuple:
    """What a refused write must leave as it was."""
    return (
        list(Inventory.objects.order_by("pk").values_list("name", "kind", "status", "project")),
        list(Project.objects.order_by("pk").values_list("name", "description", "trigger")),
        list(Membership.objects.order_by("pk").values_list("user", "role")),
        list(world.landslide.inventory.landslides.values_list("version", "notes")),
    )


@pytest.mark.django_db
def test_the_django_admin_cannot_change_an_inventorys_kind(people, client, django_user_model):
    """The rule lives in the service, so the admin site's change form obeys it too."""
    predicted = make_inventory(people.a, "Raw output", kind="predicted", status="in_review")
    root = django_user_model.objects.create_superuser("root", password="pw-root")
    client.force_login(root)
    url = f"/admin/inventories/inventory/{predicted.pk}/change/"
    assert client.get(url).status_code == 200
    response = client.post(
        url,
        {"project": people.a.pk, "name": "Raw output", "kind": "reference", "status": "final"},
    )
    assert response.status_code == 200  # the form again, with the error
    assert "fixed when it is created" in response.content.decode()
    predicted.refresh_from_db()
    assert (predicted.kind, predicted.status) == ("predicted", "in_review")
