from django.conf import settings
from django.contrib.gis.db import models


class Job(models.Model):
    """One background task and its visible state.

    A job whose worker died is put back by the broker (acks_late with
    reject_on_worker_lost) and counts an attempt; past the limit it is marked
    failed, so nothing stays "running" forever.
    """

    class Kind(models.TextChoices):
        IMPORT_SCENE = "import_scene", "Import imagery"
        IMPORT_INVENTORY = "import_inventory", "Import inventory"
        TRAIN = "train", "Train model"
        PRETRAIN = "pretrain", "Pretrain on unlabelled imagery"
        PREDICT = "predict", "Predict landslides"
        REPORT = "report", "Accuracy report"
        EXPORT_INVENTORY = "export_inventory", "Export inventory"
        EXPORT_MODEL = "export_model", "Export model (ONNX)"

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    ACTIVE_STATES = (State.QUEUED, State.RUNNING)

    project = models.ForeignKey("Project", on_delete=models.CASCADE, related_name="jobs")
    kind = models.CharField(max_length=30, choices=Kind.choices)
    state = models.CharField(max_length=20, choices=State.choices, default=State.QUEUED)
    queue = models.CharField(max_length=20, default="default")
    params = models.JSONField(default=dict)
    result = models.JSONField(default=dict, blank=True)
    progress = models.FloatField(default=0.0, help_text="0 to 1.")
    message = models.CharField(max_length=500, blank=True, help_text="What is happening now.")
    log = models.TextField(blank=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    cancel_requested = models.BooleanField(default=False)
    celery_id = models.CharField(max_length=64, blank=True)
    worker = models.CharField(max_length=200, blank=True)
    lease = models.CharField(
        max_length=32,
        blank=True,
        help_text="Token of the delivery that holds the job; writes of any other are ignored.",
    )
    sends = models.PositiveSmallIntegerField(
        default=0, help_text="Times the job was handed to the broker."
    )
    sent_at = models.DateTimeField(null=True, blank=True)
    merge_queued = models.BooleanField(
        default=False, help_text="A split prediction's merge was queued (at most once)."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["state"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk} ({self.state})"

    @property
    def is_active(self) -> bool:
        return self.state in self.ACTIVE_STATES
