"""The DRF serializers of the API, and no others: views import them from here, never define them.

Where: one module per view module of `inventories.api`, named alike: the
views in `api/reports.py` take theirs from `api/serializers/reports.py`. A
serializer several modules answer with lives with its resource
(`JobSerializer` in `jobs.py`, the 202 of every view that starts a job).

Names: what the API answers is named for the thing, `<Thing>Serializer`
(`ReportSerializer`); a fuller or narrower answer adds a noun
(`ReportDetailSerializer`, `ReviewItemSerializer`). A request body is named
for what it asks done, `<Thing><Verb>Serializer`, the verb of the service it
feeds (`ReportStartSerializer` for `report_start`, `ReviewDecideSerializer`
for `review_decide`); a part nested in one keeps its name
(`LandslideMergePieceSerializer`). A viewset's `serializer_class` that reads
and writes the same shape is an answer's (`ProjectSerializer`).
OpenAPI components take the name without `Serializer`, with `Request` added
to request shapes (`ReportStartRequest`).
"""
