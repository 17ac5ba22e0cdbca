from django.db import migrations


class Migration(migrations.Migration):
    """The 9-digit serial at the end of every declaration number, safe under concurrency."""

    dependencies = [("declarations", "0001_initial")]

    operations = [
        migrations.RunSQL(
            "CREATE SEQUENCE declaration_number_serial START 1 MAXVALUE 999999999 CYCLE",
            "DROP SEQUENCE declaration_number_serial",
        )
    ]
