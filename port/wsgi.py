"""The WSGI application: the HTTP API and pages under a WSGI server (gunicorn); WebSockets
stay with the ASGI server (port/asgi.py). docs/performance.md says why both."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "port.settings")
application = get_wsgi_application()
