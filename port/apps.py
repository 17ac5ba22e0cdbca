from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PortConfig(AppConfig):
    name = "port"
    verbose_name = _("Port core")

    def ready(self):
        from port import dbtypes

        dbtypes.install()
