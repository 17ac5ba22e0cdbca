from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = _("Duties and taxes")

    def ready(self) -> None:
        from billing import queries
        from declarations import two_step

        # An enterprise with an overdue bill draws on its guarantee no more.
        two_step.GUARANTEE_BLOCKERS.append(queries.guarantee_blocked_reasons)
