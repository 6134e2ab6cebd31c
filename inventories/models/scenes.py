from django.conf import settings
from django.contrib.gis.db import models


class Scene(models.Model):
    """One raster stored as a Cloud-Optimised GeoTIFF that the server wrote itself.

    `file` is a path relative to MEDIA_ROOT; it is never taken from a request.
    """

    class Kind(models.TextChoices):
        OPTICAL = "optical", "Optical"
        DEM = "dem", "DEM"
        SLOPE = "slope", "Slope (derived)"
        HILLSHADE = "hillshade", "Hillshade (derived)"
        PROBABILITY = "probability", "Landslide probability (predicted)"

    class Phase(models.TextChoices):
        PRE = "pre", "Pre-event"
        POST = "post", "Post-event"

    project = models.ForeignKey("Project", on_delete=models.CASCADE, related_name="scenes")
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.OPTICAL)
    phase = models.CharField(max_length=10, choices=Phase.choices, default=Phase.POST)
    acquired_on = models.DateField(null=True, blank=True)
    source = models.ForeignKey(
        "self",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="derived",
        help_text="The scene this one was derived from (slope and hillshade of a DEM).",
    )
    file = models.CharField(max_length=500, unique=True)
    original_filename = models.CharField(max_length=255, blank=True)
    size_bytes = models.BigIntegerField(default=0)
    checksum = models.CharField(
        max_length=64,
        blank=True,
        help_text="sha256 of the COG, taken when the server wrote it; keys the tile cache.",
    )
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    band_count = models.PositiveSmallIntegerField()
    band_names = models.JSONField(default=list)
    dtype = models.CharField(max_length=20)
    crs_wkt = models.TextField()
    epsg = models.PositiveIntegerField(null=True, blank=True)
    resolution_x = models.FloatField()
    resolution_y = models.FloatField()
    nodata = models.FloatField(null=True, blank=True)
    footprint = models.PolygonField(srid=4326)
    band_stats = models.JSONField(
        default=list, help_text="Per band: p2, p98, mean, std, min, max, valid_fraction."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project", "-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"

    @property
    def path(self):
        return settings.MEDIA_ROOT / self.file
