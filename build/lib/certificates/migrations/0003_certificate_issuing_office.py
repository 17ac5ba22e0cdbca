import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    """Expand: the issuing office, nullable until 0004 fills it in and 0005 requires it."""

    dependencies = [
        ("certificates", "0002_agreements_and_number_serial"),
        ("port", "0005_shipping_vessel_particulars_and_agent"),
    ]

    operations = [
        migrations.AddField(
            model_name="certificate",
            name="issuing_office",
            field=models.ForeignKey(
                db_index=False,
                limit_choices_to={"kind": "customs_office"},
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="port.organisation",
                verbose_name="issuing office",
            ),
        ),
        migrations.AddIndex(
            model_name="certificate",
            index=models.Index(
                fields=["issuing_office", "status", "created_at"], name="certificate_office"
            ),
        ),
    ]
