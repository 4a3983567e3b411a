"""The web entry point. Production settings unless DJANGO_SETTINGS_MODULE says otherwise
(`make up` runs it with development settings, as manage.py does)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.prod")

application = get_wsgi_application()
