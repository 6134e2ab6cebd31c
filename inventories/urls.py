from django.urls import path

from inventories import views, views_models, views_reports, views_review

urlpatterns = [
    path("", views.project_list, name="project-list"),
    path("projects/<int:pk>/", views.project_detail, name="project-detail"),
    path("projects/<int:pk>/jobs/", views.job_list, name="job-list"),
    path("projects/<int:pk>/map/", views.project_map, name="project-map"),
    path("projects/<int:pk>/models/", views_models.model_list, name="model-list"),
    path(
        "projects/<int:pk>/models/<int:version_pk>/",
        views_models.model_detail,
        name="model-detail",
    ),
    path("projects/<int:pk>/reports/", views_reports.report_list, name="project-reports"),
    path(
        "projects/<int:pk>/reports/<int:report_pk>/",
        views_reports.report_detail,
        name="project-report",
    ),
    path(
        "projects/<int:pk>/reports/compare/",
        views_reports.report_compare,
        name="project-report-compare",
    ),
    path(
        "projects/<int:pk>/inventories/<int:inventory_pk>/review/",
        views_review.review_page,
        name="inventory-review",
    ),
    path(
        "projects/<int:pk>/inventories/<int:inventory_pk>/review/dashboard/",
        views_review.review_dashboard_page,
        name="inventory-review-dashboard",
    ),
]
