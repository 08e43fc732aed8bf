"""Settings fail loudly, naming the variable, and production is hardened."""

import os
import runpy
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

SETTINGS = Path(__file__).resolve().parents[2] / "site" / "settings.py"


def load_settings(monkeypatch, tmp_path, **env):
    monkeypatch.setenv("ATELIER_DATA_DIR", str(tmp_path))
    for key in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "ALLOWED_HOSTS", "DEBUG"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return runpy.run_path(str(SETTINGS))


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DEBUG", "maybe"),
        ("DATABASE_URL", "mysql://localhost/atelier"),
        ("DATABASE_URL", "postgres://localhost:notaport/atelier"),
        ("REDIS_URL", "http://localhost:6379"),
        ("SIGNUP_MODE", "sometimes"),
        ("EMAIL_PORT", "twenty-five"),
        ("EMAIL_USE_TLS", "perhaps"),
        ("CREDITS_FIRST_GRANT", "-5"),
        ("CREDITS_MONTHLY_GRANT", "lots"),
        ("ALLOWED_HOSTS", "example.com,,other.com"),
        ("API_MAX_PAGE_SIZE", "0"),
        ("CELERY_TASK_TIME_LIMIT", "soon"),
        ("AWS_S3_ENDPOINT_URL", "ftp://storage"),
    ],
)
def test_malformed_variable_names_itself(monkeypatch, tmp_path, name, value):
    with pytest.raises(ImproperlyConfigured, match=name):
        load_settings(monkeypatch, tmp_path, **{name: value})


def test_production_requires_secret_key(monkeypatch, tmp_path):
    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY"):
        load_settings(monkeypatch, tmp_path, DEBUG="0", ALLOWED_HOSTS="example.com")


def test_production_requires_allowed_hosts(monkeypatch, tmp_path):
    with pytest.raises(ImproperlyConfigured, match="ALLOWED_HOSTS"):
        load_settings(monkeypatch, tmp_path, DEBUG="0", SECRET_KEY="x" * 60)


def test_development_secret_key_is_generated_once_and_kept(monkeypatch, tmp_path):
    first = load_settings(monkeypatch, tmp_path)["SECRET_KEY"]
    second = load_settings(monkeypatch, tmp_path)["SECRET_KEY"]
    assert first == second
    assert len(first) >= 50
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def test_embedded_defaults(monkeypatch, tmp_path):
    s = load_settings(monkeypatch, tmp_path)
    assert s["DATABASES"]["default"]["ENGINE"] == "django.db.backends.sqlite3"
    assert s["CELERY_BROKER_URL"] == "filesystem://"
    assert s["CACHES"]["default"]["BACKEND"].endswith("LocMemCache")
    assert s["CELERY_TASK_ACKS_LATE"] is True
    assert s["CELERY_WORKER_PREFETCH_MULTIPLIER"] == 1


def test_services_mode(monkeypatch, tmp_path):
    s = load_settings(monkeypatch, tmp_path, DATABASE_URL="postgres://u@db.internal:5432/atelier",
                      REDIS_URL="redis://cache.internal:6379/2")
    assert s["DATABASES"]["default"]["ENGINE"] == "django.db.backends.postgresql"
    assert s["CELERY_BROKER_URL"] == "redis://cache.internal:6379/2"
    assert s["CACHES"]["default"]["BACKEND"].endswith("RedisCache")


def test_check_deploy_is_clean_in_production(tmp_path):
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTEST_VERSION", "ATELIER_TESTING", "DJANGO_ALLOW_ASYNC_UNSAFE")}
    env.update(DEBUG="0", SECRET_KEY="p" * 20 + "roduction-secret-key-with-enough-entropy-0123456789",
               ALLOWED_HOSTS="atelier.example.com", ATELIER_DATA_DIR=str(tmp_path))
    env.pop("DATABASE_URL", None)
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=SETTINGS.parents[1], env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
