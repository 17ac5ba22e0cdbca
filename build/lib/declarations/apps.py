from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DeclarationsConfig(AppConfig):
    name = "declarations"
    verbose_name = _("Declarations")

    def ready(self) -> None:
        from declarations import queries
        from port import live

        live.register_topic("declaration", queries.declaration_live_group)
        live.register_topic("erp_upload", queries.erp_upload_live_group)
