from django.db import migrations

FORBID = """
CREATE FUNCTION port_timeline_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'port_timelineevent is append-only: % refused', TG_OP
        USING ERRCODE = 'restrict_violation';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER port_timeline_append_only
BEFORE UPDATE OR DELETE ON port_timelineevent
FOR EACH ROW EXECUTE FUNCTION port_timeline_append_only();
"""

ALLOW = """
DROP TRIGGER port_timeline_append_only ON port_timelineevent;
DROP FUNCTION port_timeline_append_only();
"""


class Migration(migrations.Migration):
    """The timeline is the audit record: the database refuses to change or remove a row."""

    dependencies = [("port", "0001_initial")]

    operations = [migrations.RunSQL(FORBID, ALLOW)]
