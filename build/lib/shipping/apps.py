from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ShippingConfig(AppConfig):
    name = "shipping"
    verbose_name = _("Shipping")

    def ready(self) -> None:
        from port import live
        from shipping import queries

        live.register_topic("filing", queries.filing_live_group)
        live.register_topic("port_call", queries.port_call_live_group)
