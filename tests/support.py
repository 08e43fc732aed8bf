"""Helpers for tests that need real services: skip (or fail under REQUIRE_SERVICES=1)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent
REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


def need(condition: bool, reason: str) -> None:
    """Skip with the reason, or fail when CI demands every service."""
    if condition:
        return
    if REQUIRE_SERVICES:
        pytest.fail(f"REQUIRE_SERVICES=1 but {reason}")
    pytest.skip(reason)


def need_postgres() -> None:
    need(connection.vendor == "postgresql", "needs PostgreSQL (set DATABASE_URL=postgres://...)")


def redis_url_for_tests() -> str | None:
    """REDIS_URL when set; otherwise a local Redis on its default port if one answers."""
    if settings.REDIS_URL:
        return settings.REDIS_URL
    import redis

    url = "redis://127.0.0.1:6379/13"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=0.5).ping()
    except Exception:
        return None
    return url


def need_redis() -> str:
    url = redis_url_for_tests()
    need(url is not None, "needs Redis (set REDIS_URL=redis://...)")
    return url


def need_chromium() -> None:
    need(Path(CHROMIUM).exists(), f"needs Chromium at {CHROMIUM} (apt-get install chromium)")
    try:
        import playwright  # noqa: F401
    except ImportError:
        need(False, "needs the playwright package")


def database_url_for_subprocess() -> str:
    """A DATABASE_URL pointing at the database the tests are using right now."""
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    user = s.get("USER") or "postgres"
    password = f":{s['PASSWORD']}" if s.get("PASSWORD") else ""
    return f"postgres://{user}{password}@{s.get('HOST') or '127.0.0.1'}:{s.get('PORT') or 5432}/{s['NAME']}"


def subprocess_env(*, redis_url: str | None = "inherit", extra: dict | None = None) -> dict[str, str]:
    env = {**os.environ, "DATABASE_URL": database_url_for_subprocess(), "ATELIER_TESTING": "1",
           "PYTHONUNBUFFERED": "1", "DJANGO_SETTINGS_MODULE": "atelier_site.settings"}
    env.pop("PYTEST_CURRENT_TEST", None)
    if redis_url == "inherit":
        redis_url = settings.REDIS_URL
    if redis_url:
        env["REDIS_URL"] = redis_url
    else:
        env.pop("REDIS_URL", None)
    env.update(extra or {})
    return env


class WorkerProcess:
    """A real `celery worker` subprocess, started and stopped by a test."""

    def __init__(self, *, env: dict[str, str], name: str, queues: str = "celery", log: Path):
        self.log_path = log
        self.cmd = [sys.executable, "-m", "celery", "-A", "atelier_site", "worker", "--pool", "solo",
                    "--concurrency", "1", "--hostname", f"{name}@%h", "--queues", queues,
                    "--without-gossip", "--without-mingle", "--loglevel", "INFO"]
        self.env = env
        self.proc: subprocess.Popen | None = None

    def start(self) -> WorkerProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(self.cmd, cwd=ROOT, env=self.env, stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        return self

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited early:\n{self.output()}")
            if b" ready." in self.log_path.read_bytes():
                return
            time.sleep(0.2)
        raise TimeoutError(f"worker not ready after {timeout}s:\n{self.output()}")

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
        if getattr(self, "_log", None):
            self._log.close()


@contextmanager
def running_worker(*, env: dict[str, str], name: str, tmp_path: Path, queues: str = "celery"):
    worker = WorkerProcess(env=env, name=name, queues=queues, log=tmp_path / f"{name}.log").start()
    try:
        worker.wait_ready()
        yield worker
    finally:
        worker.stop()


def clean_dir(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True, exist_ok=True)
