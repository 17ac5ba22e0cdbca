"""Fewer per-row costs on decisions (a vessel writes 14,000 at once): no index on the
declaration (`decision_unique` leads with it) nor on the area (`decision_queue` does), and
no database check on the rule-set version (immutable, never deleted). Only the index and
the constraint go: the other foreign keys stay as they are (Django's AlterField would drop
and re-validate them)."""

import django.db.models.deletion
from django.db import migrations, models

FORWARD = """
DROP INDEX IF EXISTS inspection_decision_declaration_id_5a53d4f7;
DROP INDEX IF EXISTS inspection_decision_inspection_area_id_e3f2e37b;
ALTER TABLE inspection_decision
    DROP CONSTRAINT IF EXISTS inspection_decision_rule_set_version_id_55ba448c_fk_inspectio;
"""

BACKWARD = """
CREATE INDEX inspection_decision_declaration_id_5a53d4f7
    ON inspection_decision (declaration_id);
CREATE INDEX inspection_decision_inspection_area_id_e3f2e37b
    ON inspection_decision (inspection_area_id);
ALTER TABLE inspection_decision
    ADD CONSTRAINT inspection_decision_rule_set_version_id_55ba448c_fk_inspectio
    FOREIGN KEY (rule_set_version_id) REFERENCES inspection_rulesetversion (id)
    DEFERRABLE INITIALLY DEFERRED;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("declarations", "0003_full_header_two_step_advance_uploads"),
        ("inspection", "0009_rule_set_sampling"),
        ("port", "0007_unreadable_timestamps_repaired"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunSQL(FORWARD, BACKWARD)],
            state_operations=[
                migrations.AlterField(
                    model_name="decision",
                    name="declaration",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="decisions",
                        to="declarations.declaration",
                    ),
                ),
                migrations.AlterField(
                    model_name="decision",
                    name="inspection_area",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="decisions",
                        to="port.inspectionarea",
                    ),
                ),
                migrations.AlterField(
                    model_name="decision",
                    name="rule_set_version",
                    field=models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="decisions",
                        to="inspection.rulesetversion",
                    ),
                ),
            ],
        )
    ]
