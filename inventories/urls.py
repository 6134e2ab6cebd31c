from django.urls import path

from inventories import views

urlpatterns = [
    path("", views.project_list, name="project-list"),
    path("projects/<int:pk>/", views.project_detail, name="project-detail"),
    path("projects/<int:pk>/jobs/", views.job_list, name="job-list"),
]
