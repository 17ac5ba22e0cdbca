from django.db import migrations


class Migration(migrations.Migration):
    """The cursor of the terminals' instruction feed: one sequence, safe under concurrency."""

    dependencies = [("inspection", "0003_diversion_and_webhooks")]

    operations = [
        migrations.RunSQL(
            "CREATE SEQUENCE inspection_diversion_sequence START 1",
            "DROP SEQUENCE inspection_diversion_sequence",
        )
    ]
