from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EcommerceConfig(AppConfig):
    name = "ecommerce"
    verbose_name = _("Cross-border e-commerce")

    def ready(self) -> None:
        from ecommerce import queries, risk
        from port import context_processors, live

        risk.register_criteria()
        live.register_topic("ecommerce_board", queries.board_live_group)
        live.register_topic("ecommerce_queue", queries.queue_live_group)
        if queries.navigation_for not in context_processors.EXTRA_NAVIGATION:
            context_processors.EXTRA_NAVIGATION.append(queries.navigation_for)
