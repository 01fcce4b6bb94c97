"""WSGI entry point (gunicorn api.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

from api.malloc import keep_freed_memory

keep_freed_memory()  # each upload reuses the pages the last one touched (api/malloc.py)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "api.settings")
application = get_wsgi_application()
