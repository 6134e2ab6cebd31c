"""The project page's workflow card (issue #14, item 4): each step counted, the next action.

Counts come from a project that holds some of everything, with joins that
would repeat rows if counted naively (an inventory with many polygons and
many extents); the next action walks the loop one step at a time, and a
step the user's role cannot take names who can instead of linking to a form
that would refuse them. The page tests follow the real link.
"""

from __future__ import annotations

import pytest

from inventories.models import AccuracyReport, Landslide, ModelVersion, Scene
from inventories.selectors.workflow import project_workflow
from tests.factories.rows import make_extent, make_inventory, make_landslide, make_scene

pytestmark = pytest.mark.django_db


def _states(workflow) -> dict[str, str]:
    return {step.key: step.state for step in workflow.steps}


def _model(project, status=ModelVersion.Status.READY, **fields) -> ModelVersion:
    return ModelVersion.objects.create(
        project=project, name=f"m-{status}", architecture="unet", status=status, **fields
    )


@pytest.fixture
def full(people):
    """Project A with some of each: 3 scenes (2 optical), 5 reference polygons in 2
    inventories, extents 3 train / 1 validation / 0 test, models 2 ready, 1 training,
    1 failed and a pretraining; 4 predicted polygons of which 3 undecided; 1 report."""
    project = people.a
    make_scene(project, "post")
    make_scene(project, "pre")
    dem = make_scene(project, "dem")
    Scene.objects.filter(pk=dem.pk).update(kind=Scene.Kind.DEM)
    north = make_inventory(project, "north")
    south = make_inventory(project, "south")
    for _ in range(3):
        make_landslide(north)
    for _ in range(2):
        make_landslide(south)
    for split in ("train", "train", "validation"):
        make_extent(north, split=split)
    make_extent(south, split="train")
    _model(project)
    _model(project, promoted=True)
    _model(project, status=ModelVersion.Status.TRAINING)
    _model(project, status=ModelVersion.Status.FAILED)
    _model(project, kind=ModelVersion.Kind.PRETRAINING)
    predicted = make_inventory(project, "predicted", kind="predicted")
    make_extent(predicted, split="test")  # not a reference: not counted as mapped
    for state in ("none", "none", "none", "accepted"):
        make_landslide(predicted, review_state=state)
    AccuracyReport.objects.create(project=project, name="r", predicted=predicted, reference=north)
    make_scene(people.b, "other project's scene")
    make_landslide(make_inventory(people.b, "theirs"))
    return type("Full", (), {"project": project, "predicted": predicted, "north": north})


def test_every_step_is_counted_once(full, people):
    workflow = project_workflow(project=full.project, user=people.alice)
    assert _states(workflow) == {
        "imagery": "3 scenes (2 optical)",
        "references": "5 polygons in 2 inventories",
        "extents": "train 3 / validation 1 / test 0 (training needs train and validation)",
        "models": "2 ready, 1 training",
        "review": "3 polygons awaiting review in 1 predicted inventory",
        "reports": "1 report",
    }
    done = {step.key for step in workflow.steps if step.done}
    assert done == {"imagery", "references", "extents", "models", "reports"}


def test_review_is_next_for_a_reviewer_and_links_the_predicted_inventory(full, people):
    action = project_workflow(project=full.project, user=people.rita).next
    assert (action.step, action.kind, action.text) == (
        "review",
        "review",
        "review 3 predicted polygons",
    )
    assert action.allowed and action.target == full.predicted.pk


def test_an_annotator_is_not_sent_to_review_but_told_who_does(full, people):
    action = project_workflow(project=full.project, user=people.bob).next
    assert action.kind == "review" and not action.allowed
    assert action.who == "a reviewer or an admin"


def test_once_all_is_reviewed_and_reported_nothing_is_left(full, people):
    full.predicted.landslides.update(review_state=Landslide.Review.REJECTED)
    workflow = project_workflow(project=full.project, user=people.alice)
    assert workflow.next is None
    assert _states(workflow)["review"] == "none awaiting (1 predicted inventory, all reviewed)"
    assert all(step.done for step in workflow.steps)


def test_the_loop_walks_one_step_at_a_time(people):
    project = people.a

    def next_for(user=people.alice):
        action = project_workflow(project=project, user=user).next
        return action and (action.kind, action.text, action.allowed)

    assert next_for() == ("upload", "upload imagery", True)
    assert next_for(people.bob) == ("upload", "upload imagery", False)  # an admin uploads
    dem = make_scene(project, "dem")
    Scene.objects.filter(pk=dem.pk).update(kind=Scene.Kind.DEM)
    assert next_for() == ("upload", "upload an optical scene", True)
    make_scene(project, "post")
    inventory = make_inventory(project, "refs")
    assert next_for(people.bob) == ("draw", "draw or import reference landslides", True)
    make_landslide(inventory)
    assert next_for() == ("extents", "mark train and validation mapped extents", True)
    make_extent(inventory, split="train")
    assert next_for() == ("extents", "mark validation mapped extents", True)
    make_extent(inventory, split="validation")
    assert next_for() == ("train", "train a model", True)
    assert next_for(people.bob) == ("train", "train a model", False)  # not told to train
    training = _model(project, status=ModelVersion.Status.TRAINING)
    assert next_for(people.bob) == ("wait", "wait for the training to finish", True)
    ModelVersion.objects.filter(pk=training.pk).update(status=ModelVersion.Status.READY)
    action = project_workflow(project=project, user=people.alice).next
    assert (action.kind, action.target) == ("predict", training.pk)
    predicted = make_inventory(project, "predicted", kind="predicted")
    assert next_for() == ("report", "make an accuracy report", True)  # it found nothing
    make_landslide(predicted)
    assert next_for() == ("review", "review 1 predicted polygon", True)
    predicted.landslides.update(review_state=Landslide.Review.ACCEPTED)
    assert next_for() == ("report", "make an accuracy report", True)
    assert next_for(people.rita) == ("report", "make an accuracy report", False)


def _next_line(client, project) -> str:
    page = client.get(f"/projects/{project.pk}/").content.decode()
    start = page.index('id="next-action"')
    return page[start : page.index("</p>", start)]


def test_the_page_links_the_next_action_and_the_link_opens(client, full, people):
    client.force_login(people.rita)
    line = _next_line(client, full.project)
    review = f"/projects/{full.project.pk}/inventories/{full.predicted.pk}/review/"
    assert f'href="{review}"' in line and "review 3 predicted polygons" in line
    assert client.get(review).status_code == 200


def test_the_page_names_who_takes_a_step_the_role_cannot(client, full, people):
    client.force_login(people.bob)
    line = _next_line(client, full.project)
    assert "href" not in line
    assert "a reviewer or an admin does this step; your role is annotator" in line


def test_an_annotator_is_not_linked_to_training(client, people):
    inventory = make_inventory(people.a, "refs")
    make_scene(people.a, "post")
    make_landslide(inventory)
    make_extent(inventory, split="train")
    make_extent(inventory, split="validation")
    client.force_login(people.alice)
    assert f'href="/projects/{people.a.pk}/models/"' in _next_line(client, people.a)
    client.force_login(people.bob)
    line = _next_line(client, people.a)
    assert "train a model" in line and "href" not in line and "an admin does this step" in line


def test_an_outsider_gets_404_for_the_page_a_member_sees(client, full, people):
    client.force_login(people.charlie)
    assert client.get(f"/projects/{full.project.pk}/").status_code == 404
    client.force_login(people.bob)
    assert client.get(f"/projects/{full.project.pk}/").status_code == 200
