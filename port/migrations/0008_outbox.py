"""The transactional outbox (port.outbox). Each INSERT statement also sends a NOTIFY, which
PostgreSQL delivers when the transaction commits (and never when it rolls back): the relay
LISTENs and wakes within milliseconds, without a query of ours per enqueue."""

from django.db import migrations, models

NOTIFY_SQL = """
CREATE FUNCTION port_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('portwise_outbox', '');
    RETURN NULL;
END $$;
CREATE TRIGGER port_outbox_notify AFTER INSERT ON port_outboxmessage
    FOR EACH STATEMENT EXECUTE FUNCTION port_outbox_notify();
"""


class Migration(migrations.Migration):

    dependencies = [
        ('port', '0007_unreadable_timestamps_repaired'),
    ]

    operations = [
        migrations.CreateModel(
            name='OutboxMessage',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('task_name', models.CharField(max_length=200)),
                ('kwargs', models.JSONField(default=dict)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('sent_at', models.DateTimeField(blank=True, null=True)),
                ('attempts', models.PositiveIntegerField(default=0)),
                ('last_error', models.TextField(blank=True)),
            ],
            options={
                'indexes': [models.Index(condition=models.Q(('sent_at__isnull', True)), fields=['id'], name='outbox_unsent'), models.Index(condition=models.Q(('sent_at__isnull', False)), fields=['sent_at'], name='outbox_sent')],
            },
        ),
        migrations.RunSQL(
            sql=NOTIFY_SQL,
            reverse_sql="DROP TRIGGER IF EXISTS port_outbox_notify ON port_outboxmessage; "
            "DROP FUNCTION IF EXISTS port_outbox_notify();",
        ),
    ]
