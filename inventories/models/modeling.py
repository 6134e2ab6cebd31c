from django.conf import settings
from django.contrib.gis.db import models


class ModelVersion(models.Model):
    """A trained (or training) model and everything needed to reproduce it.

    Most versions map landslides (kind segmentation). A pretraining is a
    network that learnt to reconstruct the project's unlabelled imagery; it
    predicts nothing itself, but a segmentation version can start from it
    (`pretrained_from`), which is how a project with few labels gets going.
    """

    class Kind(models.TextChoices):
        SEGMENTATION = "segmentation", "Landslide model"
        PRETRAINING = "pretraining", "Self-supervised pretraining"

    class Status(models.TextChoices):
        TRAINING = "training", "Training"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    project = models.ForeignKey("Project", on_delete=models.CASCADE, related_name="model_versions")
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.SEGMENTATION)
    architecture = models.CharField(max_length=50)
    encoder = models.CharField(max_length=50, blank=True)
    hyperparameters = models.JSONField(default=dict)
    input_bands = models.JSONField(default=list)
    normalisation = models.JSONField(default=dict)
    data_snapshot = models.JSONField(
        default=dict, help_text="Scenes, inventories and extents (with versions) used to train."
    )
    parent = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="children"
    )
    pretrained_from = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="finetuned",
        limit_choices_to={"kind": "pretraining"},
    )
    pretraining = models.JSONField(
        default=dict,
        blank=True,
        help_text="The pretraining's method and settings (and its checkpoint hash for a "
        "fine-tuned version); kept even if the pretraining version is deleted.",
    )
    metrics = models.JSONField(default=dict)
    directory = models.CharField(max_length=500, blank=True, help_text="Under MEDIA_ROOT.")
    checkpoint_sha256 = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.TRAINING)
    promoted = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project", "-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["project"],
                condition=models.Q(promoted=True),
                name="one_promoted_model_per_project",
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def ended_without_model(self) -> bool:
        """Its training failed or was cancelled: nothing predicts with it or starts from it."""
        return self.status in (self.Status.FAILED, self.Status.CANCELLED)


class AccuracyReport(models.Model):
    """Predicted against reference inventory over an evaluation area."""

    project = models.ForeignKey("Project", on_delete=models.CASCADE, related_name="reports")
    name = models.CharField(max_length=200)
    predicted = models.ForeignKey(
        "Inventory", on_delete=models.CASCADE, related_name="reports_as_predicted"
    )
    reference = models.ForeignKey(
        "Inventory", on_delete=models.CASCADE, related_name="reports_as_reference"
    )
    evaluation_area = models.MultiPolygonField(srid=4326, null=True, blank=True)
    iou_threshold = models.FloatField(default=0.5)
    figures = models.JSONField(default=dict)
    directory = models.CharField(max_length=500, blank=True, help_text="Under MEDIA_ROOT.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project", "-created_at"]
