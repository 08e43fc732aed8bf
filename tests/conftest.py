import pytest
from django.contrib.auth import get_user_model

from atelier_site.accounts.services import token_create


@pytest.fixture
def make_user(db):
    counter = {"n": 0}

    def make(username: str | None = None, **extra):
        counter["n"] += 1
        username = username or f"user{counter['n']}"
        return get_user_model().objects.create_user(
            username=username, email=f"{username}@example.com", password="correct horse battery", **extra
        )

    return make


@pytest.fixture
def owner(make_user):
    return make_user("owner")


@pytest.fixture
def member(make_user):
    return make_user("member")


@pytest.fixture
def outsider(make_user):
    return make_user("outsider")


@pytest.fixture
def owner_client(client, owner):
    client.force_login(owner)
    return client


@pytest.fixture
def owner_token(owner):
    return token_create(user=owner, name="tests").raw


@pytest.fixture
def api(client):
    """A JSON client for /api/v1 with an optional bearer token."""

    class Api:
        def __init__(self):
            self.token = None

        def _headers(self, token):
            token = token or self.token
            return {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}

        def get(self, path, token=None, **params):
            return client.get(f"/api/v1{path}", params, **self._headers(token))

        def post(self, path, data=None, token=None):
            return client.post(f"/api/v1{path}", data or {}, content_type="application/json", **self._headers(token))

        def delete(self, path, token=None):
            return client.delete(f"/api/v1{path}", **self._headers(token))

    return Api()


@pytest.fixture(autouse=True)
def _clear_cache():
    """Throttle counters and the catalog version live in the cache; each test starts clean."""
    from django.conf import settings
    from django.core.cache import cache

    if settings.REDIS_URL:
        # The Redis database also holds the broker's queues: delete cache keys only.
        client = cache._cache.get_client(write=True)
        for key in client.scan_iter(match=":1:*"):
            client.delete(key)
    else:
        cache.clear()
    yield


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    """Every test gets its own media folder, so file assertions see only its own files."""
    root = tmp_path / "media"
    root.mkdir()
    settings.MEDIA_ROOT = root
    settings.STORAGES = {**settings.STORAGES, "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(root), "base_url": settings.MEDIA_URL}}}
    return root


@pytest.fixture
def need_weights(settings):
    """The shipped embedded weights (or, while developing, EMBEDDED_TEST_WEIGHTS=<folder>)."""
    import os

    from generation.backends.embedded import WEIGHTS

    override = os.environ.get("EMBEDDED_TEST_WEIGHTS")
    if override:
        settings.GENERATION_MODEL = override
        return
    if not (WEIGHTS / "model_index.json").exists():
        pytest.fail(f"the embedded model's weights are missing from {WEIGHTS}")
