"""Server-rendered pages: each reads through selectors and writes nothing.

Writes go through the API (the pages' scripts call it). A page of a project
the user is not a member of, or of an object not in that project, is a 404,
the same as for one that does not exist (`lookups`).
"""
