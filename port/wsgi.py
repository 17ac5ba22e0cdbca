"""The WSGI application: the HTTP API under granian in production (docker-compose's `api`,
deploy/k8s/api.yaml, behind the proxy); WebSockets and the pages stay with the ASGI server
(port/asgi.py). docs/performance.md says why: Django's sync views cost 2-3 ms more CPU a
request under ASGI. The client's address and scheme come from the proxy's headers, from
trusted peers only (port/proxy_headers.py)."""

import os

from django.core.wsgi import get_wsgi_application

from port.proxy_headers import ProxyHeaders
from port.startup import freeze_loaded

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "port.settings")
application = ProxyHeaders(get_wsgi_application())
freeze_loaded()
