import json

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.actions import delete_selected as django_delete_selected
from django.db import transaction
from django.forms.models import BaseInlineFormSet
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext_lazy
from leaflet.admin import LeafletGeoAdmin

from inventories.errors import DomainError
from inventories.models import (
    AccuracyReport,
    Inventory,
    Job,
    Landslide,
    LandslideChange,
    MappedExtent,
    Membership,
    ModelVersion,
    Project,
    Scene,
)
from inventories.permissions import Action
from inventories.selectors.projects import require
from inventories.services.deletion import (
    inventory_delete,
    job_delete,
    model_delete,
    project_delete,
)
from inventories.services.inventory_edits import inventory_changes_check
from inventories.services.landslides import landslide_delete
from inventories.services.projects import area_of_interest, roles_keep_an_admin
from inventories.services.reports import report_delete
from inventories.services.scenes import scene_delete
from inventories.services.training import model_retrain


@admin.action(
    permissions=["delete"], description=gettext_lazy("Delete selected %(verbose_name_plural)s")
)
def delete_selected(modeladmin, request, queryset):
    """Django's bulk delete, all or nothing: a refusal deletes none and says why."""
    try:
        with transaction.atomic():
            return django_delete_selected(modeladmin, request, queryset)
    except DomainError as exc:
        modeladmin.message_user(request, f"Nothing was deleted: {exc.message}", messages.ERROR)
        return None


class DeletesThroughServices:
    """The admin deletes as the app does, through the service that owns the row.

    Django's admin would delete with `QuerySet.delete()`: the rows go, but not
    their files (COGs, model directories, report folders, uploads), the edit
    history a landslide's delete records, or the refusals the services make (a
    project whose job still runs, a model a job trains). A refusal shows the
    service's message and deletes nothing.
    """

    actions = [delete_selected]

    def delete_through_service(self, obj, user) -> None:
        raise NotImplementedError

    def delete_model(self, request, obj) -> None:
        self.delete_through_service(obj, request.user)

    def delete_queryset(self, request, queryset) -> None:
        with transaction.atomic():
            for obj in queryset:
                self.delete_through_service(obj, request.user)

    def delete_view(self, request, object_id, extra_context=None):
        try:
            return super().delete_view(request, object_id, extra_context)
        except DomainError as exc:
            self.message_user(request, f"Not deleted: {exc.message}", messages.ERROR)
            opts = self.model._meta
            return HttpResponseRedirect(
                reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[object_id])
            )


class MembershipFormSet(BaseInlineFormSet):
    """The members of a project as edited in the admin: the last admin stays."""

    def clean(self):
        super().clean()
        if self.instance.pk is None:
            return
        roles = [
            form.cleaned_data.get("role")
            for form in self.forms
            if form.cleaned_data and not form.cleaned_data.get("DELETE")
        ]
        try:
            roles_keep_an_admin(project=self.instance, roles=roles)
        except DomainError as exc:
            raise forms.ValidationError(exc.message) from None


class MembershipInline(admin.TabularInline):
    model = Membership
    formset = MembershipFormSet
    extra = 1
    autocomplete_fields = ["user"]


class OfflineMapAdmin(LeafletGeoAdmin):
    """Geometry fields on django-leaflet's map, served from our own static files with no base
    layer (LEAFLET_CONFIG's empty TILES): Django's GISModelAdmin loads OpenLayers from a CDN
    and draws a blank map where a survey team works offline."""


class ProjectAdminForm(forms.ModelForm):
    """The area drawn in the admin is checked by the same rule as the app's (a valid lon/lat
    polygon), with the same sentence."""

    class Meta:
        model = Project
        fields = ["name", "description", "trigger", "event_date", "area_of_interest", "created_by"]

    def clean_area_of_interest(self):
        area = self.cleaned_data.get("area_of_interest")
        if area is None:
            return None
        try:
            return area_of_interest(json.loads(area.geojson))
        except DomainError as exc:
            raise forms.ValidationError(exc.message) from None


@admin.register(Project)
class ProjectAdmin(DeletesThroughServices, OfflineMapAdmin):
    form = ProjectAdminForm
    list_display = ["name", "trigger", "event_date", "created_at"]
    search_fields = ["name"]
    inlines = [MembershipInline]

    def delete_through_service(self, obj, user) -> None:
        project_delete(project=obj, user=user)


@admin.register(Scene)
class SceneAdmin(DeletesThroughServices, OfflineMapAdmin):
    list_display = ["name", "project", "kind", "phase", "width", "height", "band_count", "epsg"]
    list_filter = ["kind", "phase", "project"]
    search_fields = ["name"]
    # The file path is written by the server only; it is never editable.
    readonly_fields = [
        "file",
        "size_bytes",
        "width",
        "height",
        "band_count",
        "dtype",
        "crs_wkt",
        "epsg",
        "resolution_x",
        "resolution_y",
        "band_stats",
        "source",
    ]

    def delete_through_service(self, obj, user) -> None:
        scene_delete(scene=obj, user=user)


class InventoryAdminForm(forms.ModelForm):
    """The service's rules per field (kind fixed, final for reviewers) hold here too."""

    class Meta:
        model = Inventory
        fields = [
            "project",
            "name",
            "kind",
            "status",
            "description",
            "source_filename",
            "source_format",
            "source_crs",
            "model_version",
            "probability_scene",
            "source_scene",
            "created_by",
        ]

    def clean(self):
        data = super().clean()
        instance = self.instance if self.instance.pk else None
        if data.get("project") is None:
            return data  # the field's own error says what is missing
        try:
            inventory_changes_check(inventory=instance, user=self.request_user, data=data)
        except DomainError as exc:
            raise forms.ValidationError(exc.message) from None
        return data


@admin.register(Inventory)
class InventoryAdmin(DeletesThroughServices, admin.ModelAdmin):
    form = InventoryAdminForm
    list_display = ["name", "project", "kind", "status", "created_at"]
    list_filter = ["kind", "status", "project"]
    search_fields = ["name"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        form.request_user = request.user
        return form

    def delete_through_service(self, obj, user) -> None:
        inventory_delete(inventory=obj, user=user)


@admin.register(Landslide)
class LandslideAdmin(DeletesThroughServices, OfflineMapAdmin):
    list_display = ["id", "inventory", "landslide_type", "area_m2", "review_state", "version"]
    list_filter = ["landslide_type", "review_state", "repaired", "inventory__project"]
    readonly_fields = ["version", "area_m2", "created_by", "updated_by"]

    def delete_through_service(self, obj, user) -> None:
        # The delete is recorded in the landslide's history, as the editor's is.
        require(user, obj.inventory.project, Action.EDIT)
        landslide_delete(landslide=obj, version=obj.version, user=user)


@admin.register(LandslideChange)
class LandslideChangeAdmin(admin.ModelAdmin):
    list_display = ["landslide_pk", "version", "action", "user", "at"]
    list_filter = ["action"]

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(MappedExtent)
class MappedExtentAdmin(OfflineMapAdmin):
    list_display = ["id", "inventory", "split", "name", "version"]
    list_filter = ["split"]


@admin.action(description="Retrain on the project's current reference data")
def retrain_versions(modeladmin, request, queryset):
    for version in queryset:
        try:
            job = model_retrain(parent=version, user=request.user)
        except DomainError as exc:
            modeladmin.message_user(request, f"{version.name}: {exc.message}", level="error")
        else:
            modeladmin.message_user(request, f"{version.name}: retraining queued as job {job.pk}.")


@admin.register(ModelVersion)
class ModelVersionAdmin(DeletesThroughServices, admin.ModelAdmin):
    list_display = [
        "name",
        "project",
        "architecture",
        "encoder",
        "status",
        "promoted",
        "created_at",
    ]
    list_filter = ["status", "architecture", "project"]
    readonly_fields = ["checkpoint_sha256", "directory"]
    actions = [delete_selected, retrain_versions]

    def delete_through_service(self, obj, user) -> None:
        model_delete(version=obj, user=user)


@admin.register(Job)
class JobAdmin(DeletesThroughServices, admin.ModelAdmin):
    list_display = ["id", "project", "kind", "state", "progress", "attempts", "created_at"]
    list_filter = ["kind", "state"]
    readonly_fields = ["celery_id", "worker", "log", "error"]

    def delete_through_service(self, obj, user) -> None:
        # Its upload, staging folder and export go; refused while it runs.
        job_delete(job=obj, user=user)


@admin.register(AccuracyReport)
class AccuracyReportAdmin(DeletesThroughServices, admin.ModelAdmin):
    list_display = ["name", "project", "predicted", "reference", "created_at"]

    def delete_through_service(self, obj, user) -> None:
        report_delete(report=obj, user=user)
