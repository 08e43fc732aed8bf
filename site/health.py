"""`GET /healthz`: is every component this site depends on answering?"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache


def check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def check_broker() -> None:
    url = settings.CELERY_BROKER_URL
    if url.startswith("filesystem://"):
        for key in ("data_folder_in", "data_folder_out"):
            folder = Path(settings.CELERY_BROKER_TRANSPORT_OPTIONS[key])
            if not folder.is_dir():
                raise OSError(f"broker folder {folder} is missing")
            probe = folder / f".healthz-{uuid.uuid4().hex}"
            probe.write_bytes(b"")
            probe.unlink()
        return
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    finally:
        client.close()


def check_media() -> None:
    name = default_storage.save(f"healthz/{uuid.uuid4().hex}.txt", ContentFile(b"ok"))
    default_storage.delete(name)


CHECKS = {"database": check_database, "broker": check_broker, "media": check_media}


@never_cache
def healthz(request):
    components = {}
    healthy = True
    for name, check in CHECKS.items():
        started = time.perf_counter()
        try:
            check()
        except Exception as exc:  # any failure means "not answering"
            healthy = False
            components[name] = {"status": "error", "error": f"{type(exc).__name__}: {exc}"[:300]}
        else:
            components[name] = {"status": "ok", "ms": round((time.perf_counter() - started) * 1000, 1)}
    failed = [name for name, c in components.items() if c["status"] != "ok"]
    body = {"status": "ok" if healthy else "error", "components": components}
    if failed:
        body["failed"] = failed
    return JsonResponse(body, status=200 if healthy else 503)
