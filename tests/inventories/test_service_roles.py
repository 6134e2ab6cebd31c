"""The write services check the caller's role themselves: a command, a task or a new view
that forgets to ask still cannot delete a scene or change a team.

The API's own role tests (test_permissions) go through the URLs; these call the
services as any other caller would, each refusal beside the admin's success.
"""

from __future__ import annotations

import pytest

from inventories.errors import NotAllowed
from inventories.models import Membership, Role, Scene
from inventories.services.projects import member_remove, member_set
from inventories.services.scenes import scene_delete
from tests.factories.rows import make_scene


@pytest.mark.django_db
def test_only_an_admin_deletes_a_scene(people):
    scene = make_scene(people.a, "Pre-event")
    with pytest.raises(NotAllowed, match="Project A"):
        scene_delete(scene=scene, user=people.bob)  # an annotator
    assert Scene.objects.filter(pk=scene.pk).exists()
    scene_delete(scene=scene, user=people.alice)
    assert not Scene.objects.filter(pk=scene.pk).exists()


@pytest.mark.django_db
def test_only_an_admin_adds_or_changes_a_member(people):
    with pytest.raises(NotAllowed):
        member_set(project=people.a, user=people.charlie, role=Role.ADMIN, by=people.bob)
    assert not Membership.objects.filter(project=people.a, user=people.charlie).exists()
    member_set(project=people.a, user=people.charlie, role=Role.REVIEWER, by=people.alice)
    assert Membership.objects.get(project=people.a, user=people.charlie).role == Role.REVIEWER


@pytest.mark.django_db
def test_only_an_admin_removes_a_member_and_no_one_the_last_admin(people):
    rita = Membership.objects.get(project=people.a, user=people.rita)
    with pytest.raises(NotAllowed):
        member_remove(membership=rita, by=people.bob)
    assert Membership.objects.filter(pk=rita.pk).exists()
    member_remove(membership=rita, by=people.alice)
    assert not Membership.objects.filter(pk=rita.pk).exists()
    alice = Membership.objects.get(project=people.a, user=people.alice)
    with pytest.raises(Exception, match="last admin"):
        member_remove(membership=alice, by=people.alice)


@pytest.mark.django_db
def test_an_outsider_is_refused_without_learning_more_than_the_project_name(people):
    scene = make_scene(people.a, "Pre-event")
    with pytest.raises(NotAllowed):
        scene_delete(scene=scene, user=people.charlie)
    assert Scene.objects.filter(pk=scene.pk).exists()
