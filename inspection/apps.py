from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InspectionConfig(AppConfig):
    name = "inspection"
    verbose_name = _("Inspection")

    def ready(self) -> None:
        from inspection import queries
        from port import live

        live.register_topic("inspection_queue", queries.inspection_queue_live_group)
