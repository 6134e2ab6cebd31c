from django.urls import path

from inventories.pages import models, projects, reports, review

urlpatterns = [
    path("", projects.project_list, name="project-list"),
    path("projects/<int:pk>/", projects.project_detail, name="project-detail"),
    path("projects/<int:pk>/jobs/", projects.job_list, name="job-list"),
    path("projects/<int:pk>/map/", projects.project_map, name="project-map"),
    path("projects/<int:pk>/models/", models.model_list, name="model-list"),
    path(
        "projects/<int:pk>/models/<int:version_pk>/",
        models.model_detail,
        name="model-detail",
    ),
    path("projects/<int:pk>/reports/", reports.report_list, name="project-reports"),
    path(
        "projects/<int:pk>/reports/<int:report_pk>/",
        reports.report_detail,
        name="project-report",
    ),
    path(
        "projects/<int:pk>/reports/compare/",
        reports.report_compare,
        name="project-report-compare",
    ),
    path(
        "projects/<int:pk>/inventories/<int:inventory_pk>/review/",
        review.review_page,
        name="inventory-review",
    ),
    path(
        "projects/<int:pk>/inventories/<int:inventory_pk>/review/dashboard/",
        review.review_dashboard_page,
        name="inventory-review-dashboard",
    ),
]
