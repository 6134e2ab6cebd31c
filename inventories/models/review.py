"""Who reviews which predicted polygons, and what each reviewer decided.

The landslide row holds the review state that counts; these rows remember
who decided what in which round, so that a second, blind review can be
compared with the first (Cohen's kappa) and an admin can settle the cases
where the two disagree.
"""

from django.conf import settings
from django.contrib.gis.db import models


class ReviewRound(models.IntegerChoices):
    FIRST = 1, "First review"
    SECOND = 2, "Second review"
    RESOLUTION = 3, "Admin resolution"


class ReviewAssignment(models.Model):
    """A share of a predicted inventory's polygons given to one reviewer for one round.

    The share is fixed when the work is split (`landslides`); `area` is the
    strip it was cut from when the split was by area, kept to show it on the map.
    """

    inventory = models.ForeignKey(
        "Inventory", on_delete=models.CASCADE, related_name="review_assignments"
    )
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="review_assignments"
    )
    round = models.PositiveSmallIntegerField(choices=ReviewRound.choices, default=ReviewRound.FIRST)
    area = models.PolygonField(srid=4326, null=True, blank=True)
    landslides = models.ManyToManyField("Landslide", related_name="review_assignments")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["inventory", "round", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["inventory", "reviewer", "round"], name="one_assignment_per_round"
            )
        ]

    def __str__(self) -> str:
        return f"{self.reviewer} reviews {self.inventory} (round {self.round})"


class ReviewDecision(models.Model):
    """One reviewer's decision on one polygon in one round.

    `version` is the landslide version the decision produced (first round,
    resolution) or looked at (second round, which leaves the polygon alone).
    A reopened polygon's earlier decisions stay, marked not `current`.
    """

    class Decision(models.TextChoices):
        ACCEPTED = "accepted", "Accepted"
        REJECTED = "rejected", "Rejected"
        EDITED = "edited", "Accepted with edits"

    landslide = models.ForeignKey(
        "Landslide", on_delete=models.CASCADE, related_name="review_decisions"
    )
    inventory = models.ForeignKey(
        "Inventory", on_delete=models.CASCADE, related_name="review_decisions"
    )
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    round = models.PositiveSmallIntegerField(choices=ReviewRound.choices, default=ReviewRound.FIRST)
    decision = models.CharField(max_length=20, choices=Decision.choices)
    version = models.PositiveIntegerField()
    current = models.BooleanField(default=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["landslide", "round", "at"]
        indexes = [models.Index(fields=["inventory", "round", "current"])]

    @property
    def keeps(self) -> bool:
        """Accepted with or without edits: the reviewer says "landslide here"."""
        return self.decision != self.Decision.REJECTED

    def __str__(self) -> str:
        return f"{self.decision} by {self.reviewer} (round {self.round})"
