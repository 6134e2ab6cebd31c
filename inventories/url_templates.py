"""URL templates for the pages' scripts, made by `reverse` so no script writes a path by hand.

A page's configuration carries, for example, ``/api/inventories/{inventory}/tiles/{z}/{x}/{y}.mvt``;
the script fills the braces (`lib/urls.js`). When a route changes in urls.py the
pages follow it, and a name that no longer exists fails at render time, in the tests.
"""

from __future__ import annotations

from django.urls import reverse

# Integers no real id or tile index reaches, each replaced by its placeholder.
_SENTINEL = 987_654_000


def url_template(name: str, *placeholders: str, **fixed: int | str) -> str:
    """The URL named `name` with `placeholders` left as ``{placeholder}`` and `fixed` filled in.

    Every URL argument is a keyword: placeholders become ``{name}``, fixed
    values are reversed as they are. Works for int and str converters alike.
    """
    sentinels = {key: _SENTINEL + i for i, key in enumerate(placeholders)}
    url = reverse(name, kwargs={**fixed, **sentinels})
    for key, value in sentinels.items():
        url = url.replace(str(value), "{" + key + "}", 1)
    return url


# The API as the pages' scripts call it: script name -> (URL name, placeholders, fixed).
# Placeholders are the URL's own keyword names; {z}/{x}/{y} stay for Leaflet to fill.
API_URLS: dict[str, tuple[str, tuple[str, ...], dict]] = {
    "jobs": ("job-list", (), {}),
    "job": ("job-detail", ("pk",), {}),
    "jobCancel": ("job-cancel", ("pk",), {}),
    "models": ("modelversion-list", (), {}),
    "modelPretrain": ("modelversion-pretrain", (), {}),
    "modelPromote": ("modelversion-promote", ("pk",), {}),
    "modelRetrain": ("modelversion-retrain", ("pk",), {}),
    "modelDiscard": ("modelversion-discard", ("pk",), {}),
    "modelPredict": ("modelversion-predict", ("pk",), {}),
    "inventoryList": ("inventory-list", (), {}),
    "inventoryLandslides": ("inventory-landslides", ("inventory_pk",), {}),
    "inventoryExtents": ("inventory-extents", ("inventory_pk",), {}),
    "landslide": ("landslide-detail", ("pk",), {}),
    "landslideMerge": ("landslide-merge", (), {}),
    "extent": ("extent-detail", ("pk",), {}),
    "landslideTiles": ("inventory-landslide-tile", ("inventory_pk", "z", "x", "y"), {}),
    "extentTiles": ("inventory-extent-tile", ("inventory_pk", "z", "x", "y"), {}),
    "reviewQueue": ("review-queue", ("inventory_pk",), {}),
    "reviewDecide": ("review-decide", ("inventory_pk", "pk"), {}),
    "reviewReopen": ("review-reopen", ("inventory_pk", "pk"), {}),
    "reviewPromote": ("review-promote", ("inventory_pk",), {}),
    "reports": ("report-list", (), {}),
    "reviewPage": ("inventory-review", ("pk", "inventory_pk"), {}),
    "myToken": ("api-my-token", (), {}),
    "sceneTiles": ("scene-tile", ("pk", "z", "x", "y"), {}),
    "projects": ("api-project-list", (), {}),
    "project": ("api-project-detail", ("pk",), {}),
    "projectPage": ("project-detail", ("pk",), {}),
    "members": ("member-list", ("project_pk",), {}),
    "member": ("member-detail", ("project_pk", "pk"), {}),
}


def api_urls() -> dict[str, str]:
    """Every URL template the scripts use, by the name `lib/urls.js` knows it by."""
    return {
        key: url_template(name, *placeholders, **fixed)
        for key, (name, placeholders, fixed) in API_URLS.items()
    }
