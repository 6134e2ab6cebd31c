"""The review API of a predicted inventory, under /api/inventories/{id}/review/.

Reads need membership of the project (outsiders get 404 and learn nothing);
decisions need the reviewer or admin role (annotators get 403). Every write
names the version it saw, so a clash is a 409 with the current polygon.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from inventories.api.serializers.landslides import LandslideChangeSerializer
from inventories.api.serializers.review import (
    ReviewAssignSerializer,
    ReviewDecideSerializer,
    ReviewDecisionSerializer,
    ReviewedLandslideSerializer,
    ReviewItemSerializer,
    ReviewPromoteSerializer,
    ReviewReopenSerializer,
    ReviewRevertSerializer,
)
from inventories.errors import InvalidInput, NotFound
from inventories.models import Inventory, Landslide, ReviewAssignment
from inventories.permissions import Action
from inventories.selectors.landslides import landslide_history
from inventories.selectors.projects import inventory_get, projects_for_user, require
from inventories.selectors.review import (
    review_dashboard,
    review_progress,
    review_queue,
    review_threshold,
    speck_area,
)
from inventories.services import review as services
from inventories.services.geometry import geometry_from_geojson


class ReviewView(APIView):
    """Shared lookups; a Conflict answers with the current polygon as GeoJSON."""

    def conflict_serializer(self, instance, **kwargs):
        return ReviewedLandslideSerializer(instance, **kwargs)

    def inventory(self) -> Inventory:
        inventory = inventory_get(user=self.request.user, pk=self.kwargs["inventory_pk"])
        if inventory.kind != Inventory.Kind.PREDICTED:
            raise NotFound(f"{inventory.name} is not a predicted inventory; it has no review.")
        return inventory

    def landslide(self) -> Landslide:
        landslide = (
            self.inventory()
            .landslides.select_related("inventory__project", "inventory__model_version")
            .filter(pk=self.kwargs["pk"])
            .first()
        )
        if landslide is None:
            raise NotFound("No such landslide in this inventory.")
        return landslide

    def valid(self, serializer_class) -> dict:
        serializer = serializer_class(data=self.request.data)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    def answer(self, landslide: Landslide) -> Response:
        progress = review_progress(queryset=landslide.inventory.landslides.all())
        return Response(
            {"landslide": ReviewedLandslideSerializer(landslide).data, "progress": progress}
        )


def _user(project, name: str | None):
    """A member of the project by username, or None when not given; "me" is the caller."""
    if not name:
        return None
    user = get_user_model().objects.filter(username=name, memberships__project=project).first()
    if user is None:
        raise InvalidInput(f"{name} is not a member of {project.name}.")
    return user


def _number(value: str | None, name: str) -> float | None:
    if value in (None, ""):
        return None
    try:
        return float(value)
    except ValueError:
        raise InvalidInput(f"{name} must be a number (square metres).") from None


class QueueView(ReviewView):
    """The review queue, ordered and filtered, one page at a time, with progress."""

    def get(self, request, inventory_pk):
        inventory = self.inventory()
        q = request.query_params
        me = request.user.get_username()
        # Specks come last for every client, the page and a token alike; 0 turns that off.
        specks = _number(q.get("specks_below"), "specks_below")
        queryset = review_queue(
            inventory=inventory,
            order=q.get("order", "uncertainty"),
            state=q.get("state") or None,
            min_area=_number(q.get("min_area"), "min_area"),
            max_area=_number(q.get("max_area"), "max_area"),
            assigned_to=_user(
                inventory.project, me if q.get("assigned_to") == "me" else q.get("assigned_to")
            ),
            decided_by=_user(inventory.project, q.get("decided_by")),
            round=int(q.get("round", 1)) if str(q.get("round", 1)).isdigit() else 1,
            specks_below=speck_area(inventory=inventory) if specks is None else specks,
        ).select_related("updated_by")
        size = min(int(q.get("page_size", 50)) if q.get("page_size", "").isdigit() else 50, 500)
        page = max(int(q.get("page", 1)) if q.get("page", "").isdigit() else 1, 1)
        count = queryset.count()
        rows = queryset[(page - 1) * size : page * size]
        return Response(
            {
                "count": count,
                "page": page,
                "pages": (count + size - 1) // size,
                "threshold": review_threshold(inventory=inventory),
                "progress": review_progress(queryset=inventory.landslides.all()),
                "results": ReviewItemSerializer(rows, many=True).data["features"],
            }
        )


class DecideView(ReviewView):
    @extend_schema(request=ReviewDecideSerializer)
    def post(self, request, inventory_pk, pk):
        landslide = self.landslide()
        data = self.valid(ReviewDecideSerializer)
        geometry = data.get("geometry")
        landslide = services.review_decide(
            landslide=landslide,
            decision=data["decision"],
            version=data["version"],
            user=request.user,
            geometry=geometry_from_geojson(geometry) if geometry is not None else None,
            round=data["round"],
        )
        return self.answer(landslide)


class ResolveView(ReviewView):
    @extend_schema(request=ReviewDecideSerializer)
    def post(self, request, inventory_pk, pk):
        landslide = self.landslide()
        data = self.valid(ReviewDecideSerializer)
        geometry = data.get("geometry")
        landslide = services.review_resolve(
            landslide=landslide,
            decision=data["decision"],
            version=data["version"],
            user=request.user,
            geometry=geometry_from_geojson(geometry) if geometry is not None else None,
        )
        return self.answer(landslide)


class ReopenView(ReviewView):
    @extend_schema(request=ReviewReopenSerializer)
    def post(self, request, inventory_pk, pk):
        landslide = self.landslide()
        data = self.valid(ReviewReopenSerializer)
        landslide = services.review_reopen(
            landslide=landslide, version=data["version"], user=request.user
        )
        return self.answer(landslide)


class HistoryView(ReviewView):
    def get(self, request, inventory_pk, pk):
        landslide = self.landslide()
        changes = landslide_history(landslide_pk=landslide.pk).select_related("user")
        decisions = landslide.review_decisions.select_related("reviewer")
        return Response(
            {
                "versions": LandslideChangeSerializer(changes, many=True).data,
                "decisions": ReviewDecisionSerializer(decisions, many=True).data,
            }
        )


class RevertView(ReviewView):
    @extend_schema(request=ReviewRevertSerializer)
    def post(self, request, inventory_pk, pk):
        landslide = self.landslide()
        data = self.valid(ReviewRevertSerializer)
        landslide = services.review_revert(
            landslide=landslide,
            to_version=data["to_version"],
            version=data["version"],
            user=request.user,
        )
        return self.answer(landslide)


class PromoteView(ReviewView):
    """Copy accepted and edited polygons into a reference inventory (given, or new by name)."""

    @extend_schema(request=ReviewPromoteSerializer)
    def post(self, request, inventory_pk):
        predicted = self.inventory()
        data = self.valid(ReviewPromoteSerializer)
        if data.get("reference"):
            reference = Inventory.objects.filter(
                project__in=projects_for_user(request.user), pk=data["reference"]
            ).first()
            if reference is None:
                raise NotFound("No such reference inventory.")
            created = services.review_promote(
                predicted=predicted, reference=reference, user=request.user
            )
            promoted = len(created)
        elif data.get("name"):
            reference = services.review_promote_into_new(
                predicted=predicted, name=data["name"], user=request.user
            )
            promoted = reference.landslides.count()
        else:
            raise InvalidInput("Say where to promote to: 'reference' (an id) or 'name' (new).")
        return Response(
            {"reference": {"id": reference.pk, "name": reference.name}, "promoted": promoted},
            status=201,
        )


class AssignmentsView(ReviewView):
    def get(self, request, inventory_pk):
        inventory = self.inventory()
        return Response(_assignments(inventory))

    @extend_schema(request=ReviewAssignSerializer)
    def post(self, request, inventory_pk):
        inventory = self.inventory()
        require(request.user, inventory.project, Action.MANAGE)
        data = self.valid(ReviewAssignSerializer)
        reviewers = [_user(inventory.project, name) for name in data["reviewers"]]
        services.review_assign(
            inventory=inventory,
            reviewers=reviewers,
            by=data["by"],
            round=data["round"],
            user=request.user,
        )
        return Response(_assignments(inventory), status=201)


def _assignments(inventory: Inventory) -> list[dict]:
    rows = ReviewAssignment.objects.filter(inventory=inventory).select_related("reviewer")
    return [
        {
            "id": a.pk,
            "reviewer": a.reviewer.get_username(),
            "round": a.round,
            "area": a.area.extent if a.area else None,
            "landslides": sorted(a.landslides.values_list("pk", flat=True)),
        }
        for a in rows
    ]


class DashboardView(ReviewView):
    def get(self, request, inventory_pk):
        return Response(review_dashboard(inventory=self.inventory()))


urlpatterns = [
    path("queue/", QueueView.as_view(), name="review-queue"),
    path("landslides/<int:pk>/decide/", DecideView.as_view(), name="review-decide"),
    path("landslides/<int:pk>/reopen/", ReopenView.as_view(), name="review-reopen"),
    path("landslides/<int:pk>/resolve/", ResolveView.as_view(), name="review-resolve"),
    path("landslides/<int:pk>/history/", HistoryView.as_view(), name="review-history"),
    path("landslides/<int:pk>/revert/", RevertView.as_view(), name="review-revert"),
    path("promote/", PromoteView.as_view(), name="review-promote"),
    path("assignments/", AssignmentsView.as_view(), name="review-assignments"),
    path("dashboard/", DashboardView.as_view(), name="review-dashboard-api"),
]
