"""Every name a user chose is text on every page: no payload in a name ever runs.

Project, scene, inventory, model, report names, landslide attributes and job
messages and logs all carry an HTML/script payload; each page is opened in
real Chromium, and no script of theirs may run (window.__xss stays undefined,
no dialog opens) while the names show as typed.
"""

from __future__ import annotations

import pytest

from inventories.models import ModelVersion
from tests.conftest import client_for
from tests.factories.rows import make_job, make_landslide
from tests.inventories.test_reports import make_world, run_here

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PAYLOAD = '<img src=x onerror="window.__xss=1;alert(1)"><script>window.__xss=2</script>'


def named(what: str) -> str:
    return f"{what} {PAYLOAD}"


@pytest.fixture
def world(people):
    project = people.a
    project.name = named("project")
    project.save()
    model = ModelVersion.objects.create(
        project=project, name=named("model"), architecture="unet", encoder="none", status="ready"
    )
    first = make_world(project, predicted_name=named("prediction"))
    first.predicted.model_version = model
    first.predicted.save()
    first.reference.name = named("reference")
    first.reference.save()
    make_landslide(first.predicted, attributes={"cause": named("attribute")}, notes=named("note"))
    api = client_for(people.alice)
    one = run_here(api, first, name=named("report one"))
    second = make_world(project, predicted_name=named("other prediction"), shifts=(20, 30))
    two = run_here(api, second, name=named("report two"))
    make_job(project, message=named("job message"), log=named("job log"))
    make_job(project, state="failed", message=named("message"), error=named("error"))
    return type(
        "World", (), {"project": project, "model": model, "first": first, "reports": (one, two)}
    )


def pages(world) -> dict[str, tuple[str, list[str]]]:
    """Each page with the names it must show as typed."""
    p, first = world.project.pk, world.first
    one, two = world.reports
    review = f"/projects/{p}/inventories/{first.predicted.pk}/review/"
    return {
        "project": (f"/projects/{p}/", [named("project")]),
        "map": (f"/projects/{p}/map/", [named("project")]),
        "models": (f"/projects/{p}/models/", [named("model")]),
        "model": (f"/projects/{p}/models/{world.model.pk}/", [named("model")]),
        "review": (review, [named("prediction"), named("reference")]),
        "dashboard": (review + "dashboard/", [named("prediction")]),
        "reports": (f"/projects/{p}/reports/", [named("report one"), named("report two")]),
        "report": (f"/projects/{p}/reports/{one.pk}/", [named("report one")]),
        "compare": (
            f"/projects/{p}/reports/compare/?reports={one.pk},{two.pk}",
            [named("report one"), named("report two")],
        ),
        "jobs": (f"/projects/{p}/jobs/", [named("error"), named("job message")]),
    }


def test_no_name_runs_as_script_on_any_page(open_page, people, world):
    """One world, every page in turn (building the world twice per page would be slow)."""
    problems: dict[str, list[str]] = {}
    for name, (path, shown) in pages(world).items():
        dialogs: list[str] = []
        page = open_page(people.alice, "about:blank")
        page.on("dialog", lambda d, dialogs=dialogs: (dialogs.append(d.message), d.dismiss()))
        page.goto(path)
        page.wait_for_load_state("networkidle")
        text = page.inner_text("body")
        found = [f"not shown as typed: {e!r}" for e in shown if e not in text]
        if page.evaluate("window.__xss") is not None:
            found.append(f"script ran: window.__xss = {page.evaluate('window.__xss')}")
        found += [f"dialog opened: {m!r}" for m in dialogs]
        found += [f"script error: {e}" for e in page.errors]
        if found:
            problems[name] = found
    assert problems == {}


def test_the_report_map_layer_control_and_popups_show_names_as_text(open_page, people, world):
    one = world.reports[0]
    dialogs: list[str] = []
    page = open_page(people.alice, "about:blank")
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(f"/projects/{world.project.pk}/reports/{one.pk}/")
    control = page.wait_for_selector(".leaflet-control-layers")
    page.wait_for_load_state("networkidle")
    assert f"Scene footprint (post-event {named('prediction')})" in control.inner_text()
    assert page.evaluate("window.__xss") is None
    assert dialogs == []
