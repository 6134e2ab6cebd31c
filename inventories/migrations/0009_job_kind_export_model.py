from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("inventories", "0008_scene_checksum_landslide_area_index"),
    ]

    operations = [
        migrations.AlterField(
            model_name="job",
            name="kind",
            field=models.CharField(
                choices=[
                    ("import_scene", "Import imagery"),
                    ("import_inventory", "Import inventory"),
                    ("train", "Train model"),
                    ("pretrain", "Pretrain on unlabelled imagery"),
                    ("predict", "Predict landslides"),
                    ("report", "Accuracy report"),
                    ("export_inventory", "Export inventory"),
                    ("export_model", "Export model (ONNX)"),
                ],
                max_length=30,
            ),
        ),
    ]
