"""The Celery app: Redis broker in services mode, kombu's filesystem broker otherwise.

Web processes, `make run`'s worker and GPU workers on other machines all load this app;
only the settings differ.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "atelier_site.settings")

app = Celery("atelier")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.task(name="atelier.ping")
def ping(value: str = "pong") -> str:
    """A round trip through the broker and a worker (used by tests and `/healthz` tooling)."""
    return value
