"""URLs of the OGC API (Features now), under `/api/projects/{id}/ogc/`.

Every path takes a trailing slash or none: GIS clients join `collections`,
`items` and the like onto the URL the user pasted, as it was pasted.
"""

from django.urls import re_path

from inventories.api.ogc_features import (
    OgcCollectionsView,
    OgcCollectionView,
    OgcConformanceView,
    OgcItemsView,
    OgcItemView,
    OgcLandingView,
)

COLLECTION = r"collections/(?P<collection_id>[^/]+)"

urlpatterns = [
    re_path(r"^$", OgcLandingView.as_view(), name="ogc-landing"),
    re_path(r"^conformance/?$", OgcConformanceView.as_view(), name="ogc-conformance"),
    re_path(r"^collections/?$", OgcCollectionsView.as_view(), name="ogc-collections"),
    re_path(rf"^{COLLECTION}/?$", OgcCollectionView.as_view(), name="ogc-collection"),
    re_path(rf"^{COLLECTION}/items/?$", OgcItemsView.as_view(), name="ogc-items"),
    re_path(
        rf"^{COLLECTION}/items/(?P<feature_id>[^/]+)/?$",
        OgcItemView.as_view(),
        name="ogc-item",
    ),
]
