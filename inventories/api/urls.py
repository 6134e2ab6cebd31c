from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from inventories.api.gis_tiles import InventoryTileJSONView, ProjectWMTSView, SceneTileJSONView
from inventories.api.imagery import SceneUploadView, SceneViewSet
from inventories.api.inventories import InventoryUploadView, InventoryViewSet
from inventories.api.jobs import JobViewSet
from inventories.api.landslides import LandslideViewSet, MappedExtentViewSet
from inventories.api.limits import ThrottledObtainAuthToken
from inventories.api.model_exports import ModelOnnxView
from inventories.api.models import ModelVersionViewSet
from inventories.api.projects import MembershipViewSet, ProjectViewSet
from inventories.api.reports import ReportViewSet
from inventories.api.stac import (
    ProjectStacCollectionView,
    SceneCogView,
    SceneStacItemView,
    StacImportView,
)
from inventories.api.tiles import ExtentTileView, LandslideTileView, SceneTileView
from inventories.api.tokens import MyTokenView

router = DefaultRouter()
# "api-": the pages own the names project-list and project-detail.
router.register("projects", ProjectViewSet, basename="api-project")
router.register("scenes", SceneViewSet, basename="scene")
router.register("inventories", InventoryViewSet, basename="inventory")
router.register("landslides", LandslideViewSet, basename="landslide")
router.register("extents", MappedExtentViewSet, basename="extent")
router.register("jobs", JobViewSet, basename="job")
router.register("models", ModelVersionViewSet, basename="modelversion")
router.register("reports", ReportViewSet, basename="report")

members = MembershipViewSet.as_view({"get": "list", "post": "create"})
member = MembershipViewSet.as_view(
    {"get": "retrieve", "put": "update", "patch": "partial_update", "delete": "destroy"}
)
inventory_landslides = LandslideViewSet.as_view({"get": "list", "post": "create"})
inventory_extents = MappedExtentViewSet.as_view({"get": "list", "post": "create"})

urlpatterns = [
    path("", include(router.urls)),
    path("projects/<int:project_pk>/members/", members, name="member-list"),
    path("projects/<int:project_pk>/members/<int:pk>/", member, name="member-detail"),
    path(
        "projects/<int:project_pk>/scenes/upload/", SceneUploadView.as_view(), name="scene-upload"
    ),
    path(
        "projects/<int:project_pk>/inventories/upload/",
        InventoryUploadView.as_view(),
        name="inventory-upload",
    ),
    path(
        "inventories/<int:inventory_pk>/landslides/",
        inventory_landslides,
        name="inventory-landslides",
    ),
    path("inventories/<int:inventory_pk>/extents/", inventory_extents, name="inventory-extents"),
    path("inventories/<int:inventory_pk>/review/", include("inventories.api.review")),
    path("projects/<int:project_pk>/ogc/", include("inventories.api.ogc_urls")),
    path("models/<int:pk>/onnx/", ModelOnnxView.as_view(), name="model-onnx"),
    path("scenes/<int:pk>/stac/", SceneStacItemView.as_view(), name="scene-stac"),
    path("scenes/<int:pk>/cog/", SceneCogView.as_view(), name="scene-cog"),
    path(
        "projects/<int:project_pk>/scenes/stac/", StacImportView.as_view(), name="scene-stac-import"
    ),
    path(
        "projects/<int:project_pk>/stac/", ProjectStacCollectionView.as_view(), name="project-stac"
    ),
    path("scenes/<int:pk>/tilejson.json", SceneTileJSONView.as_view(), name="scene-tilejson"),
    path(
        "inventories/<int:inventory_pk>/tilejson.json",
        InventoryTileJSONView.as_view(),
        name="inventory-tilejson",
    ),
    path(
        "projects/<int:project_pk>/wmts/WMTSCapabilities.xml",
        ProjectWMTSView.as_view(),
        name="project-wmts",
    ),
    re_path(
        r"^scenes/(?P<pk>\d+)/tiles/(?P<z>\d+)/(?P<x>\d+)/(?P<y>\d+)(?:\.(?P<fmt>png|webp))?$",
        SceneTileView.as_view(),
        name="scene-tile",
    ),
    path(
        "inventories/<int:inventory_pk>/tiles/<int:z>/<int:x>/<int:y>.mvt",
        LandslideTileView.as_view(),
        name="inventory-landslide-tile",
    ),
    path(
        "inventories/<int:inventory_pk>/extents/tiles/<int:z>/<int:x>/<int:y>.mvt",
        ExtentTileView.as_view(),
        name="inventory-extent-tile",
    ),
    path("auth/token/", ThrottledObtainAuthToken.as_view(), name="api-token"),
    path("auth/my-token/", MyTokenView.as_view(), name="api-my-token"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="schema"), name="api-redoc"),
]
