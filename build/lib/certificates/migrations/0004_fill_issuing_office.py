from django.db import migrations


def fill_issuing_office(apps, schema_editor):
    """Each earlier certificate goes to the office its application would default to today:
    the first office (by office code) of the exporter's port, else the first office of all."""
    Certificate = apps.get_model("certificates", "Certificate")
    Organisation = apps.get_model("port", "Organisation")
    offices = Organisation.objects.filter(kind="customs_office").order_by("office_code", "pk")
    for exporter_id, port_id in (
        Certificate.objects.filter(issuing_office__isnull=True)
        .values_list("exporter_id", "exporter__port_id")
        .distinct()
    ):
        at_port = offices.filter(port_id=port_id)
        office = at_port.exclude(office_code="").first() or at_port.first() or offices.first()
        if office is None:
            raise RuntimeError("Certificates exist but no customs office does: add one first.")
        Certificate.objects.filter(exporter_id=exporter_id, issuing_office__isnull=True).update(
            issuing_office=office
        )


class Migration(migrations.Migration):
    dependencies = [("certificates", "0003_certificate_issuing_office")]

    operations = [migrations.RunPython(fill_issuing_office, migrations.RunPython.noop)]
