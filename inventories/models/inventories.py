from django.conf import settings
from django.contrib.gis.db import models


class Inventory(models.Model):
    """A set of landslide polygons: hand-made/imported (reference) or from a model run."""

    class Kind(models.TextChoices):
        REFERENCE = "reference", "Reference (hand-made or imported)"
        PREDICTED = "predicted", "Predicted (model output)"

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        IN_REVIEW = "in_review", "In review"
        FINAL = "final", "Final"

    project = models.ForeignKey("Project", on_delete=models.CASCADE, related_name="inventories")
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.REFERENCE)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.DRAFT)
    description = models.TextField(blank=True)
    source_filename = models.CharField(max_length=255, blank=True)
    source_format = models.CharField(max_length=40, blank=True)
    source_crs = models.TextField(
        blank=True, help_text="CRS of the imported file; exports default to it."
    )
    model_version = models.ForeignKey(
        "ModelVersion",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="predicted_inventories",
    )
    probability_scene = models.ForeignKey(
        "Scene",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="predicted_inventories",
        help_text="The probability map this predicted inventory was vectorised from.",
    )
    source_scene = models.ForeignKey(
        "Scene",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The scene a model predicted this inventory on.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project", "name"]
        verbose_name_plural = "inventories"
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="inventory_name_unique")
        ]

    def __str__(self) -> str:
        return self.name


class Landslide(models.Model):
    """One landslide polygon. `version` rises with every change; a write must
    name the version it read, so concurrent edits conflict instead of overwriting."""

    class Type(models.TextChoices):
        UNKNOWN = "unknown", "Unknown"
        SLIDE = "slide", "Slide"
        FLOW = "flow", "Flow"
        FALL = "fall", "Fall"
        TOPPLE = "topple", "Topple"
        SPREAD = "spread", "Spread"
        COMPLEX = "complex", "Complex"

    class Certainty(models.TextChoices):
        CERTAIN = "certain", "Certain"
        PROBABLE = "probable", "Probable"
        POSSIBLE = "possible", "Possible"

    class Review(models.TextChoices):
        NONE = "none", "Not reviewed"
        ACCEPTED = "accepted", "Accepted"
        REJECTED = "rejected", "Rejected"
        EDITED = "edited", "Accepted with edits"

    inventory = models.ForeignKey(Inventory, on_delete=models.CASCADE, related_name="landslides")
    geometry = models.MultiPolygonField(srid=4326)
    area_m2 = models.FloatField(help_text="Geodesic area on the WGS84 ellipsoid.")
    landslide_type = models.CharField(max_length=20, choices=Type.choices, default=Type.UNKNOWN)
    certainty = models.CharField(
        max_length=20, choices=Certainty.choices, default=Certainty.CERTAIN
    )
    confidence = models.FloatField(null=True, blank=True, help_text="Model confidence, 0-1.")
    review_state = models.CharField(max_length=20, choices=Review.choices, default=Review.NONE)
    notes = models.TextField(blank=True)
    attributes = models.JSONField(default=dict, blank=True, help_text="Columns of the source file.")
    repaired = models.BooleanField(
        default=False, help_text="The geometry was invalid and was repaired on import or save."
    )
    version = models.PositiveIntegerField(default=1)
    promoted_from = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="promoted_copies",
        help_text="The reviewed predicted polygon this reference polygon was promoted from.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            # A polygon is promoted into a reference inventory once, however many clicks.
            models.UniqueConstraint(
                fields=["inventory", "promoted_from"], name="promoted_once_per_inventory"
            )
        ]
        indexes = [
            # A zoomed-out vector tile wants only the largest polygons: with this index it
            # reads those instead of every polygon under the tile (see selectors/tiles.py).
            models.Index(fields=["inventory", "-area_m2"], name="landslide_area_by_inventory"),
        ]

    def __str__(self) -> str:
        return f"Landslide {self.pk} in {self.inventory}"


class LandslideChange(models.Model):
    """The history of a landslide: one row per version, kept after deletion."""

    class Action(models.TextChoices):
        CREATE = "create", "Created"
        UPDATE = "update", "Updated"
        DELETE = "delete", "Deleted"

    landslide = models.ForeignKey(
        Landslide, on_delete=models.SET_NULL, null=True, related_name="changes"
    )
    landslide_pk = models.BigIntegerField(db_index=True)
    inventory = models.ForeignKey(Inventory, on_delete=models.CASCADE, related_name="changes")
    action = models.CharField(max_length=10, choices=Action.choices)
    version = models.PositiveIntegerField()
    geometry = models.MultiPolygonField(srid=4326, null=True)
    data = models.JSONField(default=dict, help_text="The attribute values of this version.")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["landslide_pk", "version"]


class MappedExtent(models.Model):
    """An area declared completely mapped: inside it, no polygon means no landslide."""

    class Split(models.TextChoices):
        TRAIN = "train", "Train"
        VALIDATION = "validation", "Validation"
        TEST = "test", "Test"

    inventory = models.ForeignKey(
        Inventory, on_delete=models.CASCADE, related_name="mapped_extents"
    )
    geometry = models.MultiPolygonField(srid=4326)
    split = models.CharField(max_length=20, choices=Split.choices, default=Split.TRAIN)
    name = models.CharField(max_length=200, blank=True)
    version = models.PositiveIntegerField(default=1)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["inventory", "id"]
