"""The Django project. Installed under the import name `atelier_site` (see README, Layout):
the folder is called `site/`, which would shadow the standard-library `site` module."""

from atelier_site.celery import app as celery_app

__all__ = ["celery_app"]
