from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PortConfig(AppConfig):
    name = "port"
    verbose_name = _("Port core")

    def ready(self):
        from django.contrib.auth.signals import user_logged_out

        from port import auth, dbtypes, logs, lookups  # noqa: F401 - lookups: field__any

        logs.install()  # no password, token or ID number in any log line
        dbtypes.install()  # a date Python cannot hold reads as the nearest one, not a 500

        # Signing out of the site revokes the API token as well.
        user_logged_out.connect(auth.revoke_on_logout, dispatch_uid="port.auth.revoke_on_logout")
