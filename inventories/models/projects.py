from django.conf import settings
from django.contrib.gis.db import models


class Role(models.TextChoices):
    ANNOTATOR = "annotator", "Annotator"
    REVIEWER = "reviewer", "Reviewer"
    ADMIN = "admin", "Admin"


class Project(models.Model):
    """One event inventory effort: a trigger, an area, its imagery and its team."""

    class Trigger(models.TextChoices):
        EARTHQUAKE = "earthquake", "Earthquake"
        RAINFALL = "rainfall", "Rainfall"
        OTHER = "other", "Other"

    # Unique per creator (see the constraint), so a name says nothing about others' projects.
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    trigger = models.CharField(max_length=20, choices=Trigger.choices, default=Trigger.OTHER)
    event_date = models.DateField(null=True, blank=True)
    area_of_interest = models.MultiPolygonField(srid=4326, null=True, blank=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="Membership", related_name="projects"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="created_projects",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["created_by", "name"], name="project_name_unique_per_creator"
            )
        ]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.ANNOTATOR)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "user"], name="one_membership_per_user")
        ]
        ordering = ["project", "user"]

    def __str__(self) -> str:
        return f"{self.user} ({self.role}) in {self.project}"
