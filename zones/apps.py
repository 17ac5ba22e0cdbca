from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ZonesConfig(AppConfig):
    name = "zones"
    verbose_name = _("Bonded zones")

    def ready(self) -> None:
        from port import context_processors, live
        from zones import queries

        live.register_topic("zone_gate", queries.gate_live_group)
        live.register_topic("zone_upload", queries.upload_live_group)
        if queries.navigation_for not in context_processors.EXTRA_NAVIGATION:
            context_processors.EXTRA_NAVIGATION.append(queries.navigation_for)
