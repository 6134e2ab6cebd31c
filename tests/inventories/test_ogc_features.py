"""OGC API - Features: a project's inventories read by GDAL's OAPIF driver and by hand."""

from __future__ import annotations

import pyogrio
import pytest
from rest_framework.authtoken.models import Token

from tests.factories.gdal_client import ogr2ogr
from tests.factories.rows import make_inventory, make_landslide, square

TYPES = ["slide", "flow", "fall", "topple", "spread", "complex", "unknown"]


@pytest.fixture
def inventory(people):
    """Seven landslides in a row eastwards, each with its own type, note and source column."""
    inventory = make_inventory(people.a, "Field 2018", description="Walked in November")
    for i, kind in enumerate(TYPES):
        make_landslide(
            inventory,
            geometry=square(lon=98.68 + 0.002 * i),
            area_m2=1000.0 + i,
            landslide_type=kind,
            notes=f"scar {i}",
            attributes={"field_id": f"F-{i}"},
        )
    return inventory


def base(project) -> str:
    return f"/api/projects/{project.pk}/ogc/"


@pytest.mark.django_db(transaction=True)
def test_ogr2ogr_copies_every_polygon_with_its_attributes(people, inventory, live_server, tmp_path):
    """The README's command: the token as the Basic password (the driver drops
    GDAL_HTTP_HEADERS); PAGE_SIZE 3 makes GDAL follow our next links over three pages."""
    token = Token.objects.create(user=people.bob).key
    out = tmp_path / "copy.gpkg"
    url = f"OAPIF:{live_server.url}{base(people.a)}"
    done = ogr2ogr(url, out, token=token, user="bob", layer=str(inventory.pk), PAGE_SIZE="3")
    assert done.returncode == 0, done.stderr
    assert [str(inventory.pk)] == [name for name, _ in pyogrio.list_layers(out)]
    frame = pyogrio.read_dataframe(out)
    assert len(frame) == len(TYPES)
    assert sorted(frame["landslide_type"]) == sorted(TYPES)
    by_note = frame.set_index("notes")
    assert by_note.loc["scar 4", "landslide_type"] == "spread"
    assert by_note.loc["scar 4", "area_m2"] == pytest.approx(1004.0)
    assert set(frame.geom_type) == {"MultiPolygon"}
    west, south, east, north = by_note.loc[["scar 4"]].geometry.iloc[0].bounds
    assert (west, south) == pytest.approx((98.688, 31.14))
    assert (east, north) == pytest.approx((98.689, 31.141))


@pytest.mark.django_db(transaction=True)
def test_ogr2ogr_with_an_outsiders_token_copies_nothing(people, inventory, live_server, tmp_path):
    url = f"OAPIF:{live_server.url}{base(people.a)}"
    charlie = Token.objects.create(user=people.charlie).key
    refused = ogr2ogr(
        url, tmp_path / "c.gpkg", token=charlie, user="charlie", layer=str(inventory.pk)
    )
    assert refused.returncode != 0 and not (tmp_path / "c.gpkg").exists()
    bob = Token.objects.create(user=people.bob).key
    copied = ogr2ogr(url, tmp_path / "b.gpkg", token=bob, user="bob", layer=str(inventory.pk))
    assert copied.returncode == 0, copied.stderr
    assert len(pyogrio.read_dataframe(tmp_path / "b.gpkg")) == len(TYPES)


def ogc_urls(people, inventory) -> list[str]:
    landslide = inventory.landslides.first()
    root = base(people.a)
    return [
        root,
        f"{root}conformance",
        f"{root}collections",
        f"{root}collections/{inventory.pk}",
        f"{root}collections/{inventory.pk}/items",
        f"{root}collections/{inventory.pk}/items/{landslide.pk}",
    ]


@pytest.mark.django_db
def test_an_outsider_gets_404_on_every_ogc_url(api, people, inventory):
    for url in ogc_urls(people, inventory):
        response = api.charlie.get(url)
        assert response.status_code == 404, url
        assert "Field 2018" not in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["bob", "rita", "alice"])
def test_every_member_gets_200_on_every_ogc_url(api, people, inventory, who):
    for url in ogc_urls(people, inventory):
        assert getattr(api, who).get(url).status_code == 200, url


@pytest.mark.django_db
def test_another_projects_inventory_is_no_collection_of_this_project(api, people):
    theirs = make_inventory(people.b, "B's field")
    make_landslide(theirs)
    response = api.alice.get(f"{base(people.a)}collections/{theirs.pk}/items")
    assert response.status_code == 404
    assert api.dora.get(f"{base(people.b)}collections/{theirs.pk}/items").status_code == 200


@pytest.mark.django_db
def test_landing_page_conformance_and_collections_link_to_each_other(api, people, inventory):
    landing = api.bob.get(base(people.a)).json()
    rels = {link["rel"]: link["href"] for link in landing["links"]}
    assert landing["title"] == "Project A"
    assert rels["conformance"].endswith(f"{base(people.a)}conformance")
    assert rels["service-desc"].endswith("/api/schema/?format=json")
    conformance = api.bob.get(rels["conformance"]).json()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson" in conformance
    (collection,) = api.bob.get(rels["data"]).json()["collections"]
    assert collection["id"] == str(inventory.pk) and collection["title"] == "Field 2018"
    assert collection["extent"]["spatial"]["bbox"][0] == pytest.approx(
        [98.68, 31.14, 98.68 + 0.002 * 6 + 0.001, 31.141]
    )
    items = next(link for link in collection["links"] if link["rel"] == "items")
    assert items["type"] == "application/geo+json"


@pytest.mark.django_db
def test_items_page_by_limit_with_next_links_and_counts(api, people, inventory):
    url = f"{base(people.a)}collections/{inventory.pk}/items?limit=3"
    seen = []
    pages = 0
    while url:
        response = api.bob.get(url)
        assert response["Content-Type"] == "application/geo+json"
        page = response.json()
        assert page["numberMatched"] == 7
        assert page["numberReturned"] == len(page["features"]) <= 3
        seen += [feature["properties"]["notes"] for feature in page["features"]]
        url = next((link["href"] for link in page["links"] if link["rel"] == "next"), None)
        pages += 1
    assert pages == 3
    assert seen == [f"scar {i}" for i in range(7)]


@pytest.mark.django_db
def test_items_in_a_bbox(api, people, inventory):
    # Covers the squares at 98.684 and 98.686 only.
    bbox = "98.6835,31.139,98.6865,31.142"
    page = api.bob.get(f"{base(people.a)}collections/{inventory.pk}/items?bbox={bbox}").json()
    assert page["numberMatched"] == 2
    assert [f["properties"]["attributes"]["field_id"] for f in page["features"]] == ["F-2", "F-3"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "word"), [("limit=many", "limit"), ("limit=0", "limit"), ("bbox=1,2,3", "bbox")]
)
def test_a_bad_items_query_is_a_400_that_names_it(api, people, inventory, query, word):
    response = api.bob.get(f"{base(people.a)}collections/{inventory.pk}/items?{query}")
    assert response.status_code == 400
    assert word in response.json()["detail"]


@pytest.mark.django_db
def test_the_ogc_endpoints_are_in_the_openapi_schema(api):
    paths = api.bob.get("/api/schema/?format=json").json()["paths"]
    for suffix in ("ogc/", "ogc/collections/", "ogc/collections/{collection_id}/items/"):
        assert f"/api/projects/{{project_pk}}/{suffix}" in paths, suffix
