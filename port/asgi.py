import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "port.settings")
# The web server takes its database connections from a pool (port/settings.py says why),
# unless DATABASE_POOL says otherwise. Only for the settings read here: processes this one
# starts do not inherit it.
_pool_by_default = "DATABASE_POOL" not in os.environ
if _pool_by_default:
    os.environ["DATABASE_POOL"] = "on"
django_asgi_app = get_asgi_application()
if _pool_by_default:
    del os.environ["DATABASE_POOL"]

from channels.auth import AuthMiddlewareStack  # noqa: E402 - needs the apps loaded above
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from ecommerce.sorting_line import SortingLine  # noqa: E402 - the sorting line's fast path
from port import fanout  # noqa: E402
from port.routing import websocket_urlpatterns  # noqa: E402
from port.startup import freeze_loaded  # noqa: E402

# py-spy of a 2,000-list batch before this: two full collections cost a fifth of the first
# requests' time (docs/ecommerce.md).
freeze_loaded()

application = ProtocolTypeRouter(
    {
        # The sorting line's scans are answered beside Django (ecommerce/sorting_line.py).
        "http": SortingLine(django_asgi_app),
        "websocket": fanout.with_server_send(
            AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns)))
        ),
    }
)
