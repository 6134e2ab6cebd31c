"""The pages a newcomer sees: login, projects, a project, its jobs, the API schema."""

from __future__ import annotations

import pytest
import yaml

from tests.factories.rows import make_inventory, make_job, make_scene


@pytest.mark.django_db
def test_the_login_page_is_served(client):
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    assert b"Log in to Scarp" in response.content


@pytest.mark.django_db
def test_a_member_logs_in_and_sees_only_their_projects(client, people):
    assert (
        client.post("/accounts/login/", {"username": "bob", "password": "pw-bob"}).status_code
        == 302
    )
    page = client.get("/").content.decode()
    assert "Project A" in page and "Project B" not in page


@pytest.mark.django_db
def test_the_project_page_lists_imagery_inventories_and_team(client, people):
    make_scene(people.a, "Post-event mosaic")
    make_inventory(people.a, "Field mapping")
    client.force_login(people.alice)
    page = client.get(f"/projects/{people.a.pk}/").content.decode()
    assert "Post-event mosaic" in page and "Field mapping" in page
    assert "Upload a GeoTIFF" in page  # alice is admin
    client.force_login(people.bob)
    page = client.get(f"/projects/{people.a.pk}/").content.decode()
    assert "Upload a GeoTIFF" not in page and "Import an inventory" in page


@pytest.mark.django_db
def test_an_outsider_gets_404_for_the_pages_of_another_project(client, people):
    client.force_login(people.charlie)
    assert client.get(f"/projects/{people.a.pk}/").status_code == 404
    assert client.get(f"/projects/{people.a.pk}/jobs/").status_code == 404


@pytest.mark.django_db
def test_the_jobs_page_shows_progress_bars(client, people):
    make_job(people.a, state="running", progress=0.4, message="Converting")
    client.force_login(people.alice)
    page = client.get(f"/projects/{people.a.pk}/jobs/").content.decode()
    assert '<progress max="1" value="0.4">' in page and "Converting" in page


@pytest.mark.django_db
def test_the_api_schema_is_openapi_3_and_the_docs_page_is_served(client, people):
    client.force_login(people.alice)
    schema = yaml.safe_load(client.get("/api/schema/").content)
    assert schema["openapi"].startswith("3.")
    assert "/api/inventories/{inventory_pk}/landslides/" in schema["paths"]
    docs = client.get("/api/docs/")
    assert docs.status_code == 200 and b"swagger" in docs.content.lower()
