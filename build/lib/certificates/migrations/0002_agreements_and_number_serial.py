from decimal import Decimal

from django.db import migrations

ASEAN = ["BN", "KH", "ID", "LA", "MY", "MM", "PH", "SG", "TH", "VN"]

AGREEMENTS = [
    {
        "code": "ACFTA",
        "name": "China-ASEAN Free Trade Agreement",
        "form_name": "Form E",
        "number_prefix": "E",
        "parties": ["CN", *ASEAN],
        "origin_criteria": ["WO", "PE", "RVC", "CTH", "PSR"],
        "rvc_threshold": Decimal("40"),
        "validity_months": 12,
    },
    {
        "code": "RCEP",
        "name": "Regional Comprehensive Economic Partnership",
        "form_name": "RCEP Certificate of Origin",
        "number_prefix": "R",
        "parties": ["CN", "JP", "KR", "AU", "NZ", *ASEAN],
        "origin_criteria": ["WO", "PE", "CTC", "RVC", "CR", "ACU", "DMI"],
        "rvc_threshold": Decimal("40"),
        "validity_months": 12,
    },
]


def add_agreements(apps, schema_editor):
    Agreement = apps.get_model("certificates", "Agreement")
    for fields in AGREEMENTS:
        Agreement.objects.update_or_create(code=fields["code"], defaults=fields)


class Migration(migrations.Migration):
    """The agreements certificates are issued under, and the serial in certificate numbers."""

    dependencies = [("certificates", "0001_initial")]

    operations = [
        migrations.RunPython(add_agreements, migrations.RunPython.noop),
        migrations.RunSQL(
            "CREATE SEQUENCE certificate_number_serial START 1 MAXVALUE 999999999 CYCLE",
            "DROP SEQUENCE certificate_number_serial",
        ),
    ]
