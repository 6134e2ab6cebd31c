"""Projects from the app, in real Chromium: create a project, then build its team.

A person with no project creates one from the projects page and lands on it
as its admin; adds a member, changes the role, removes them (after a
confirmation), and is told why the last admin cannot step down. A member
who is not an admin sees the team but no controls.
"""

from __future__ import annotations

import pytest

from inventories.models import Membership, Project, Role
from inventories.services.projects import project_create

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_new_user_creates_a_project_and_builds_its_team(open_page, people, django_user_model):
    erin = django_user_model.objects.create_user("erin", password="pw-erin")
    page = open_page(erin, "/")
    form = page.locator("#project-form")
    form.locator("input[name=name]").fill("Quake <b>2026</b>")
    form.locator("select[name=trigger]").select_option("earthquake")
    form.locator("input[name=event_date]").fill("2026-11-20")
    form.locator("button[type=submit]").click()
    page.wait_for_url("**/projects/*/", timeout=15_000)

    project = Project.objects.get(created_by=erin)
    assert page.locator("h1").inner_text() == "Quake <b>2026</b>"  # text, not markup
    assert project.trigger == "earthquake" and str(project.event_date) == "2026-11-20"
    assert Membership.objects.get(project=project, user=erin).role == Role.ADMIN

    team = page.locator("#team")
    team.locator("#member-form input[name=username]").fill("bob")
    team.locator("#member-form select[name=role]").select_option("reviewer")
    team.locator("#member-form button[type=submit]").click()
    bob_row = team.locator("tr", has_text="bob")
    bob_row.wait_for(timeout=15_000)
    assert bob_row.locator("select[name=role]").input_value() == "reviewer"
    assert Membership.objects.get(project=project, user=people.bob).role == Role.REVIEWER

    bob_row.locator("select[name=role]").select_option("annotator")
    status = page.locator("#team-status")
    status.filter(has_text="bob is now annotator").wait_for(timeout=10_000)
    assert Membership.objects.get(project=project, user=people.bob).role == Role.ANNOTATOR

    page.once("dialog", lambda dialog: dialog.dismiss())
    bob_row.locator("button.remove").click()
    page.wait_for_timeout(300)
    assert Membership.objects.filter(project=project, user=people.bob).exists()  # dismissed
    page.once("dialog", lambda dialog: dialog.accept())
    bob_row.locator("button.remove").click()
    bob_row.wait_for(state="detached", timeout=10_000)
    assert not Membership.objects.filter(project=project, user=people.bob).exists()

    erin_role = team.locator("tr", has_text="erin").locator("select[name=role]")
    erin_role.select_option("annotator")
    status.filter(has_text="last admin").wait_for(timeout=10_000)
    assert erin_role.input_value() == "admin"  # the page shows what the server kept
    assert Membership.objects.get(project=project, user=erin).role == Role.ADMIN

    team.locator("#member-form input[name=username]").fill("nobody")
    team.locator("#member-form button[type=submit]").click()
    status.filter(has_text="nobody was not added").wait_for(timeout=10_000)
    assert page.errors == []


def test_a_name_already_taken_is_refused_with_the_name(open_page, people):
    """Names are unique per creator: Alice's second 'Gorge survey' is refused, nothing made."""
    project_create(name="Gorge survey", user=people.alice)
    page = open_page(people.alice, "/")
    form = page.locator("#project-form")
    form.locator("input[name=name]").fill("Gorge survey")
    form.locator("button[type=submit]").click()
    form.locator(".status", has_text="Gorge survey").wait_for(timeout=10_000)
    assert "Not created" in form.locator(".status").inner_text()
    assert Project.objects.filter(name="Gorge survey").count() == 1
    assert page.errors == []


def test_a_member_who_is_not_an_admin_sees_the_team_but_no_controls(open_page, people):
    page = open_page(people.bob, f"/projects/{people.a.pk}/")
    team = page.locator("#team")
    assert "alice" in team.inner_text() and "rita" in team.inner_text()
    assert team.locator("#member-form").count() == 0
    assert team.locator("select, button").count() == 0
    admin = open_page(people.alice, f"/projects/{people.a.pk}/")  # the twin: an admin has them
    assert admin.locator("#team #member-form").count() == 1
