"""Every API error is JSON in one format: {"error": {"code", "message", "details"}}."""

import pytest

pytestmark = pytest.mark.django_db


def assert_error(response, status, code):
    assert response.status_code == status
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    assert isinstance(body["error"]["details"], dict)
    return body["error"]


def test_401(api):
    assert_error(api.get("/me"), 401, "unauthorized")


def test_404_unknown_path(client):
    assert_error(client.get("/api/v1/no/such/thing"), 404, "not_found")
    assert_error(client.get("/api/elsewhere"), 404, "not_found")


def test_422_validation(api, owner_token):
    error = assert_error(api.post("/tokens", {"name": ["not", "a", "string"]}, token=owner_token), 422,
                         "validation_error")
    assert error["details"]["fields"][0]["field"] == "name"
    assert_error(api.post("/tokens", {}, token=owner_token), 422, "validation_error")


def test_422_from_domain_error(api, owner_token):
    assert_error(api.post("/tokens", {"name": "   "}, token=owner_token), 422, "invalid_name")


def test_malformed_json_is_json_error(client, owner_token):
    response = client.post("/api/v1/tokens", "{not json", content_type="application/json",
                           HTTP_AUTHORIZATION=f"Bearer {owner_token}")
    assert response.status_code in (400, 422)
    assert "error" in response.json()


def test_429_throttled_with_retry_after(api, settings):
    statuses = [api.get("/modifiers").status_code for _ in range(61)]
    assert statuses[:60] == [200] * 60
    response = api.get("/modifiers")
    error = assert_error(response, 429, "throttled")
    assert int(response["Retry-After"]) >= 1
    assert error["details"]["retry_after"] >= 1


def test_500_is_json(client, monkeypatch):
    import prompts.api

    def boom():
        raise RuntimeError("kaput")

    monkeypatch.setattr(prompts.api, "catalog_get", boom)
    error = assert_error(client.get("/api/v1/modifiers"), 500, "server_error")
    assert "kaput" not in error["message"]


def test_openapi_and_docs(client):
    schema = client.get("/api/v1/openapi.json")
    assert schema.status_code == 200
    assert "/api/v1/me" in schema.json()["paths"]
    assert client.get("/api/v1/docs").status_code == 200
