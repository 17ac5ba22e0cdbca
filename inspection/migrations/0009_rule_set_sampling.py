from django.db import migrations, models


class Migration(migrations.Migration):
    """Versions already activated keep SHA-256 sampling (1); new ones draw with BLAKE2b (2)."""

    dependencies = [
        ("inspection", "0008_decision_sampling_seed"),
    ]

    operations = [
        migrations.AddField(
            model_name="rulesetversion",
            name="sampling",
            field=models.PositiveSmallIntegerField(db_default=1, default=2),
        ),
    ]
