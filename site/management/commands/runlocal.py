"""`make run`: the web server and a Celery worker together; Ctrl-C stops both."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Serve the site at 127.0.0.1:8000 with a Celery worker (embedded or services mode)."

    def add_arguments(self, parser):
        parser.add_argument("--addr", default="127.0.0.1:8000")
        parser.add_argument("--no-worker", action="store_true")

    def handle(self, *args, addr: str, no_worker: bool, **options):
        self._ensure_demo_admin()
        python = sys.executable
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        children: list[subprocess.Popen] = []
        if not no_worker:
            worker = [python, "-m", "celery", "-A", "atelier_site", "worker", "--loglevel", "INFO",
                      "--concurrency", "1", "--hostname", "embedded@%h"]
            if not settings.REDIS_URL:
                worker.append("--beat")  # embedded mode: the worker also runs the periodic sweep
            children.append(subprocess.Popen(worker, env=env))
        server = [python, "manage.py", "runserver", addr]
        if not settings.DEBUG:
            server.append("--insecure")
        children.append(subprocess.Popen(server, env=env))
        mode = "services (PostgreSQL/Redis)" if settings.REDIS_URL else "embedded (SQLite, filesystem broker)"
        self.stdout.write(self.style.SUCCESS(f"\n  Atelier is running at http://{addr}/  — {mode}. Ctrl-C stops it.\n"))

        stopping = False

        def stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            while not stopping and all(child.poll() is None for child in children):
                time.sleep(0.5)
        finally:
            for child in children:
                if child.poll() is None:
                    child.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + 15
            for child in children:
                try:
                    child.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    child.kill()
        failed = [c for c in children if c.returncode not in (0, -signal.SIGTERM, None)]
        if failed and not stopping:
            raise CommandError("A process stopped unexpectedly; see its output above.")
        self.stdout.write("Stopped web server and worker.")

    def _ensure_demo_admin(self) -> None:
        """First run in development: a demo admin with a generated password, printed once."""
        if not settings.DEBUG:
            return
        User = get_user_model()
        if User.objects.filter(is_superuser=True).exists():
            return
        password = secrets.token_urlsafe(12)
        User.objects.create_superuser("admin", "admin@localhost", password)
        self.stdout.write(self.style.WARNING(
            f"\n  Demo admin created (development only): username 'admin', password '{password}'\n"
            "  It is shown this once; change it at /accounts/password/change/.\n"
        ))
