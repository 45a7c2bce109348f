from .settings import *  # noqa: F401,F403

SITE_TITLE = "Beta"
