"""The DRF serializers of the API, and no others: views import them from here, never define them.

One module per view module of `inventories.api`, named alike: the views in
`api/reports.py` take theirs from `api/serializers/reports.py`. A serializer
several modules answer with lives with its resource (`JobSerializer` in
`jobs.py`, the 202 of every view that starts a job).
"""
