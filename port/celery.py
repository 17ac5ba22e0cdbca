import os
from fnmatch import fnmatchcase

from celery import Celery
from celery import Task as CeleryTask
from celery.schedules import crontab
from celery.signals import celeryd_init, worker_ready

from port import observability, outage, workers

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "port.settings")


class Task(CeleryTask):
    """Every task: one that meets a database outage (PostgreSQL restarting, a failover) is
    run again after a back-off (1, 2, 4, 8 s, then every 10 s, for an hour), instead of
    failing: a failed task is acknowledged, so its work would wait for a sweeper, or be
    lost where none looks. Tasks are idempotent, so a second run of a half-done one is
    safe. A task's own autoretry_for/max_retries replace these (notifications)."""

    autoretry_for = outage.ERRORS
    retry_backoff = 1
    retry_backoff_max = 10
    max_retries = 360


app = Celery("port", task_cls=Task)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
observability.connect_celery_signals()
# Each worker its own unacked hash and a heartbeat: a dead worker's tasks are redone within
# seconds by the outbox relay, not after the broker's visibility timeout (port/workers.py).
celeryd_init.connect(workers.on_worker_init, weak=False)
app.steps["consumer"].add(workers.RestoreOnConnect)
worker_ready.connect(workers.on_worker_ready, weak=False)

# Queues by workload, so a slow EDIFACT import or a terminal's dead webhook never delays an
# assessment: each has its own worker pool and time limits in production (docker-compose.yml,
# deploy/k8s). A task goes to the first workload a pattern of which matches its name; the rest
# to the default queue (sweeps, mail). Queue names are the default queue's plus the workload
# (`portwise.assessment`), so a test run's own default queue brings its own workload queues.
WORKLOADS = {
    "assessment": ["*assess*", "*decisions_make*", "*decide*", "*berthed*", "*dangerous_goods*"],
    "imports": ["*import_run*", "*upload_process*", "*import_task"],
    "webhooks": ["*webhook_deliver*"],
    "analytics": ["analytics.*"],
}


def workload_of(task_name: str) -> str | None:
    for workload, patterns in WORKLOADS.items():
        if any(fnmatchcase(task_name, pattern) for pattern in patterns):
            return workload
    return None


def queue_for(workload: str | None, default: str | None = None) -> str:
    default = default or app.conf.task_default_queue
    return f"{default}.{workload}" if workload else default


def all_queues(default: str | None = None) -> list[str]:
    """Every queue a worker serving all workloads listens on (`manage.py run`, tests)."""
    return [queue_for(None, default), *(queue_for(w, default) for w in WORKLOADS)]


def route_by_workload(name, args, kwargs, options, task=None, **kw):
    return {"queue": queue_for(workload_of(name))}


app.conf.task_routes = (route_by_workload,)

# Periodic tasks are declared here, in one place, each with why its schedule is what it is.
app.conf.beat_schedule = {
    # Every minute: a tax bill for each released full import that has none (idempotent).
    "billing-bills-make": {"task": "billing.tasks.bills_make_task", "schedule": 60.0},
    # Every hour: unpaid bills past due become overdue, with an alarm each.
    "billing-overdue": {"task": "billing.tasks.bills_overdue_sweep_task", "schedule": 3600.0},
    # Every 5 seconds: notifications for the timeline's new events (a cursor; idempotent),
    # their e-mails and SMS queued as one task a batch.
    "notifications-make": {
        "task": "notifications.tasks.notifications_make_task",
        "schedule": 5.0,
        "options": {"expires": 5.0},
    },
    # Every 2 minutes: e-mails and SMS whose task was lost or gave up, sent now (once each).
    # Every 5 seconds: ask the courier about the mailings it holds (certificates/mailings.py).
    "certificates-mailings-advance": {
        "task": "certificates.tasks.mailings_advance_due_task",
        "schedule": 5.0,
    },
    # Every 5 minutes: alarms nobody acknowledged go up a severity (alarms/services.py).
    "alarms-escalate": {"task": "alarms.tasks.alarms_escalate_task", "schedule": 300.0},
    "notifications-sweep": {
        "task": "notifications.tasks.notifications_sweep_task",
        "schedule": 120.0,
    },
    # Every hour: the partitions of every table partitioned by month (port/partitions.py) for
    # this month and the next two exist (creating one is instant while it is empty; the
    # DEFAULT partition catches anything meanwhile).
    "port-partitions": {
        "task": "port.tasks.partitions_ensure_task",
        "schedule": 3600.0,
    },
    # Every hour: idempotency records and finished webhook deliveries past their retention.
    "port-idempotency-purge": {
        "task": "port.tasks.idempotency_records_purge_task",
        "schedule": 3600.0,
    },
    # Every hour: outbox rows sent more than OUTBOX_RETENTION_HOURS ago (port/outbox.py).
    "port-outbox-purge": {"task": "port.tasks.outbox_sent_purge_task", "schedule": 3600.0},
    "inspection-webhook-deliveries-purge": {
        "task": "inspection.tasks.webhook_deliveries_purge_task",
        "schedule": 3600.0,
    },
    # Every 30 s: terminal webhooks whose next attempt is due (a retry, or a delivery whose
    # task was lost) are sent; a delivery is claimed before sending, so none goes twice.
    "inspection-webhook-sweep": {
        "task": "inspection.tasks.webhook_sweep_task",
        "schedule": 30.0,
    },
    # Every minute: a submission whose assessment task was lost (a worker killed before it
    # acknowledged, Redis restarted) is queued again; assessment is idempotent.
    "declarations-requeue-stuck": {
        "task": "declarations.tasks.declaration_requeue_stuck_task",
        "schedule": 60.0,
    },
    # Every minute: an EDIFACT import left queued or processing for 5 minutes (its task
    # lost with a killed worker) is queued again; the import is idempotent, and one that
    # does not finish after three attempts is failed rather than retried for ever.
    "shipping-edifact-requeue-stuck": {
        "task": "shipping.tasks.edifact_import_requeue_stuck_task",
        "schedule": 60.0,
    },
    # Every hour: released two-step summaries get their step 2 reminders (7, 3 and 1 days
    # before the 14-day deadline) and the overdue flag once it passes. Hourly is fine-grained
    # enough for a deadline counted in days; the sweep is idempotent, so a missed or doubled
    # run changes nothing.
    "declarations-step2-deadlines": {
        "task": "declarations.tasks.declaration_step2_sweep_task",
        "schedule": 3600.0,
    },
    # Every minute: an e-commerce batch whose decision task was lost is decided again (a
    # batch older than a minute and still undecided); deciding is idempotent.
    "ecommerce-decide-stuck": {
        "task": "ecommerce.tasks.lists_decide_stuck_task",
        "schedule": 60.0,
    },
    # Every night at 00:40: the month before is summarised (清单核放、汇总申报), one summary
    # declaration per e-commerce enterprise, trade mode and destination. Nightly rather than
    # on the 1st only: a run missed (beat down) is made up the next night, and a month
    # already summarised is skipped, so the other nights change nothing.
    "ecommerce-month-summaries": {
        "task": "ecommerce.tasks.month_summarise_task",
        "schedule": crontab(hour=0, minute=40),
    },
    # Every night at 00:50: the e-commerce tax months whose return window closed are issued
    # (one per enterprise, once), and months past their due date become overdue.
    "ecommerce-tax-months": {
        "task": "ecommerce.tasks.tax_months_task",
        "schedule": crontab(hour=0, minute=50),
    },
    # Every 5 seconds: the dashboards' rollups fold in the timeline events written since the
    # last run (a watermark; idempotent, and a second run at once waits on its lock). Short,
    # so the live dashboard trails the port by seconds; each run reads only new events.
    # Every 5 minutes: reconciliation (zones/reconcile.py) compares the manifest, the
    # declarations, the gates and the zone accounts; each run is a handful of set-based
    # queries over a window, and a discrepancy raises its alarm once however often it is found.
    "zones-reconcile": {
        "task": "zones.tasks.reconcile_task",
        "schedule": 300.0,
        "options": {"expires": 300.0},
    },
    # Every 5 minutes: zone gate passes unused past their time lapse; an exit's goods go
    # back on its account. Idempotent (only open passes; SKIP LOCKED leaves one in use).
    "zones-pass-expiry": {
        "task": "zones.tasks.gate_pass_expire_task",
        "schedule": 300.0,
        "options": {"expires": 300.0},
    },
    "analytics-rollups-consume": {
        "task": "analytics.tasks.rollups_consume_task",
        "schedule": 5.0,
        # A tick not started within its interval is dropped: the next one does its work.
        "options": {"expires": 5.0},
    },
}
