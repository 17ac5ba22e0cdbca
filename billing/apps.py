from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = _("Duties and taxes")

    def ready(self) -> None:
        from billing import queries
        from declarations import services as declaration_services

        # An enterprise with an overdue bill draws on its guarantee no more.
        declaration_services.GUARANTEE_BLOCKERS.append(queries.guarantee_blocked_reason)
