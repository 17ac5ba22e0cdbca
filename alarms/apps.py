from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AlarmsConfig(AppConfig):
    name = "alarms"
    verbose_name = _("Alarms")

    def ready(self) -> None:
        from alarms import queries
        from port import live

        live.register_topic("alarms", queries.alarm_live_group)
