"""Landslides and mapped extents of an inventory, as GeoJSON, with versioned writes."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework_gis.pagination import GeoJsonPagination

from inventories.api.base import ProjectScopedViewSet
from inventories.api.serializers.landslides import (
    LandslideChangeSerializer,
    LandslideMergeSerializer,
    LandslideSerializer,
    LandslideWriteSerializer,
    MappedExtentSerializer,
    MappedExtentWriteSerializer,
)
from inventories.errors import InvalidInput, NotFound
from inventories.models import Inventory, Landslide, MappedExtent
from inventories.selectors.landslides import (
    extents_in_bbox,
    landslide_history,
    landslides_in_bbox,
    parse_bbox,
)
from inventories.selectors.projects import inventory_get, projects_for_user
from inventories.services import landslides as services
from inventories.services.geometry import geometry_from_geojson
from inventories.services.landslide_merge import landslides_merge


class Pagination(GeoJsonPagination):
    page_size = 500
    page_size_query_param = "page_size"
    max_page_size = 5000


BBOX = OpenApiParameter("bbox", str, description="minlon,minlat,maxlon,maxlat (EPSG:4326)")


def _inventory(request, pk) -> Inventory:
    return inventory_get(user=request.user, pk=pk)


def _version(data) -> int:
    version = data.get("version")
    if version is None:
        raise InvalidInput(
            "Send the version you edited ('version'); it guards against overwriting."
        )
    return version


class _InventoryFeatures(mixins.ListModelMixin, mixins.RetrieveModelMixin, ProjectScopedViewSet):
    """What landslides and mapped extents share: nested lists by bbox, versioned input."""

    pagination_class = Pagination
    lookup_value_regex = r"\d+"  # ids are integers: anything else is no route (404)
    project_lookup = "inventory__project"
    write_serializer: type
    in_bbox = None  # selector: (inventory=, bbox=) -> queryset

    def get_queryset(self):
        if "inventory_pk" in self.kwargs:
            inventory = _inventory(self.request, self.kwargs["inventory_pk"])
            bbox = parse_bbox(self.request.query_params.get("bbox"))
            return type(self).in_bbox(inventory=inventory, bbox=bbox)
        return super().get_queryset()

    @extend_schema(parameters=[BBOX])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def _validated(self, request) -> dict:
        serializer = self.write_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    def _version_to_delete(self, request) -> int:
        version = request.query_params.get("version") or request.data.get("version")
        if not str(version or "").isdigit():
            raise InvalidInput("Send the version you are deleting (?version=N).")
        return int(version)


class LandslideViewSet(_InventoryFeatures):
    """`/api/inventories/{inventory_pk}/landslides/` lists and creates;
    `/api/landslides/{pk}/` reads, updates (with `version`) and deletes (`?version=`)."""

    queryset = Landslide.objects.select_related("inventory__project")
    serializer_class = LandslideSerializer
    write_serializer = LandslideWriteSerializer
    in_bbox = staticmethod(landslides_in_bbox)

    @extend_schema(request=LandslideWriteSerializer, responses={201: LandslideSerializer})
    def create(self, request, inventory_pk=None):
        inventory = _inventory(request, inventory_pk)
        data = self._validated(request)
        if "geometry" not in data:
            raise InvalidInput("A landslide needs a geometry (GeoJSON Polygon).")
        geometry = geometry_from_geojson(data.pop("geometry"))
        landslide = services.landslide_create(
            inventory=inventory, geometry=geometry, data=data, user=request.user
        )
        return Response(LandslideSerializer(landslide).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=LandslideWriteSerializer, responses={200: LandslideSerializer})
    def partial_update(self, request, pk=None):
        landslide = self.get_object()
        data = self._validated(request)
        version = _version(data)
        data.pop("version")
        geometry = data.pop("geometry", None)
        landslide = services.landslide_update(
            landslide=landslide,
            version=version,
            user=request.user,
            geometry=geometry_from_geojson(geometry) if geometry is not None else None,
            data=data,
        )
        return Response(LandslideSerializer(landslide).data)

    @extend_schema(parameters=[OpenApiParameter("version", int, required=True)])
    def destroy(self, request, pk=None):
        landslide = self.get_object()
        services.landslide_delete(
            landslide=landslide, version=self._version_to_delete(request), user=request.user
        )
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=LandslideMergeSerializer, responses={200: LandslideSerializer})
    @action(detail=False, methods=["post"])
    def merge(self, request):
        """`POST /api/landslides/merge/`: the union of two or more landslides as one.

        Answers the kept landslide; the others are deleted, their history kept.
        """
        serializer = LandslideMergeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        pieces = [(p["id"], p["version"]) for p in serializer.validated_data["landslides"]]
        landslide = landslides_merge(pieces=pieces, user=request.user)
        return Response(LandslideSerializer(landslide).data)

    @extend_schema(responses={200: LandslideChangeSerializer(many=True)})
    @action(detail=True, methods=["get"])
    def history(self, request, pk=None):
        """Every version, also of a deleted (or merged-away) landslide: history outlives it."""
        changes = (
            landslide_history(landslide_pk=int(pk))
            .filter(inventory__project__in=projects_for_user(request.user))
            .select_related("user")
        )
        if not changes.exists():
            raise NotFound("No such landslide.")
        return Response(LandslideChangeSerializer(changes, many=True).data)


class MappedExtentViewSet(_InventoryFeatures):
    queryset = MappedExtent.objects.select_related("inventory__project")
    serializer_class = MappedExtentSerializer
    write_serializer = MappedExtentWriteSerializer
    in_bbox = staticmethod(extents_in_bbox)

    @extend_schema(request=MappedExtentWriteSerializer, responses={201: MappedExtentSerializer})
    def create(self, request, inventory_pk=None):
        inventory = _inventory(request, inventory_pk)
        data = self._validated(request)
        if "geometry" not in data:
            raise InvalidInput("A mapped extent needs a geometry (GeoJSON Polygon).")
        extent = services.extent_create(
            inventory=inventory,
            geometry=geometry_from_geojson(data["geometry"]),
            split=data.get("split", MappedExtent.Split.TRAIN),
            name=data.get("name", ""),
            user=request.user,
        )
        return Response(MappedExtentSerializer(extent).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=MappedExtentWriteSerializer, responses={200: MappedExtentSerializer})
    def partial_update(self, request, pk=None):
        extent = self.get_object()
        data = self._validated(request)
        geometry = data.get("geometry")
        extent = services.extent_update(
            extent=extent,
            version=_version(data),
            user=request.user,
            geometry=geometry_from_geojson(geometry) if geometry is not None else None,
            split=data.get("split"),
            name=data.get("name"),
        )
        return Response(MappedExtentSerializer(extent).data)

    @extend_schema(parameters=[OpenApiParameter("version", int, required=True)])
    def destroy(self, request, pk=None):
        extent = self.get_object()
        services.extent_delete(
            extent=extent, version=self._version_to_delete(request), user=request.user
        )
        return Response(status=status.HTTP_204_NO_CONTENT)
