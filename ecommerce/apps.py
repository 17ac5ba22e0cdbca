from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EcommerceConfig(AppConfig):
    name = "ecommerce"
    verbose_name = _("Cross-border e-commerce")

    def ready(self) -> None:
        from declarations import two_step
        from ecommerce import queries, risk, tax_months
        from port import context_processors, live

        risk.register_criteria()
        live.register_topic("ecommerce_board", queries.board_live_group)
        live.register_topic("ecommerce_queue", queries.queue_live_group)
        if tax_months.overdue_reasons not in two_step.GUARANTEE_BLOCKERS:
            two_step.GUARANTEE_BLOCKERS.append(tax_months.overdue_reasons)
        if queries.navigation_for not in context_processors.EXTRA_NAVIGATION:
            context_processors.EXTRA_NAVIGATION.append(queries.navigation_for)
