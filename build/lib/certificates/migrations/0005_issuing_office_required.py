import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    """Contract: every certificate has its issuing office (0004 filled in the earlier ones)."""

    dependencies = [("certificates", "0004_fill_issuing_office")]

    operations = [
        migrations.AlterField(
            model_name="certificate",
            name="issuing_office",
            field=models.ForeignKey(
                db_index=False,
                limit_choices_to={"kind": "customs_office"},
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="port.organisation",
                verbose_name="issuing office",
            ),
        ),
    ]
