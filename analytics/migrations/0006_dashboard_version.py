from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0005_access_stage"),
    ]

    operations = [
        migrations.CreateModel(
            name="DashboardVersion",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("dashboard", models.CharField(max_length=40, unique=True)),
                ("last_event_id", models.BigIntegerField(default=0)),
            ],
        ),
    ]
