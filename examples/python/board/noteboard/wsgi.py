"""
WSGI config for noteboard project, as Django's guide "How to use Django with
Apache and mod_wsgi" writes it: the application, and check_password for
Apache (here wasgi) authenticating against Django's user database.
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "noteboard.settings")

application = get_wsgi_application()

from django.contrib.auth.handlers.modwsgi import check_password, groups_for_user  # noqa: E402,F401
