from django.apps import AppConfig


class InventoriesConfig(AppConfig):
    name = "inventories"
    verbose_name = "Landslide inventories"
    default_auto_field = "django.db.models.BigAutoField"
