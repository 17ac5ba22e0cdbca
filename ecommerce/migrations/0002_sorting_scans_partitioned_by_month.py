from django.db import migrations

from port.partitions import partition_by_month


def partition(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        partition_by_month(cursor, "ecommerce_sortingscan", "scanned_at")


class Migration(migrations.Migration):
    """The sorting line writes a row per parcel scanned (200 a second at a peak, tens of
    millions a month): one partition a month, old months detachable whole."""

    atomic = True
    dependencies = [("ecommerce", "0001_initial"), ("port", "0006_timeline_partitioned_by_month")]

    operations = [migrations.RunPython(partition, migrations.RunPython.noop, elidable=False)]
