from django.db import migrations


class Migration(migrations.Migration):
    """Exits filed before consumption tax and VAT were computed owe their duty in all."""

    dependencies = [("zones", "0007_exit_taxes")]

    operations = [
        migrations.RunSQL(
            "UPDATE zones_movement SET tax_total = duty_amount WHERE tax_total = 0",
            migrations.RunSQL.noop,
        )
    ]
