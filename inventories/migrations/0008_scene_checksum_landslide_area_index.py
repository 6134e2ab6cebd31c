from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("inventories", "0007_project_name_unique_per_creator"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="landslide",
            index=models.Index(
                fields=["inventory", "-area_m2"], name="landslide_area_by_inventory"
            ),
        ),
        migrations.AddField(
            model_name="scene",
            name="checksum",
            field=models.CharField(
                blank=True,
                help_text="sha256 of the COG, taken when the server wrote it; keys the tile cache.",
                max_length=64,
            ),
        ),
    ]
