from inventories.models.inventories import (
    Inventory,
    Landslide,
    LandslideChange,
    MappedExtent,
)
from inventories.models.jobs import Job
from inventories.models.modeling import AccuracyReport, ModelVersion
from inventories.models.projects import Membership, Project, Role
from inventories.models.review import ReviewAssignment, ReviewDecision, ReviewRound  # noqa: F401
from inventories.models.scenes import Scene

__all__ = [
    "AccuracyReport",
    "Inventory",
    "Job",
    "Landslide",
    "LandslideChange",
    "MappedExtent",
    "Membership",
    "ModelVersion",
    "Project",
    "Role",
    "Scene",
]
