"""Reads that tolerate a second's lag go to a read replica when one is configured.

DATABASE_REPLICA_URL adds a `replica` database; the dashboards' rollups (the analytics app)
are then read there, so a crowd of big screens never competes with filings on the primary.
Writes always go to the primary, and so does everything else.
"""

from django.conf import settings

REPLICA_READ_APPS = {"analytics"}


class ReplicaRouter:
    def db_for_read(self, model, **hints):
        if settings.READ_REPLICA and model._meta.app_label in REPLICA_READ_APPS:
            return settings.READ_REPLICA
        return None

    def db_for_write(self, model, **hints):
        return "default"

    def allow_relation(self, obj1, obj2, **hints):
        return True  # the replica holds the same rows as the primary

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == "default"
