import pytest

from atelier_site.accounts.models import ApiToken, token_digest

pytestmark = pytest.mark.django_db


def test_token_created_on_profile_is_shown_once_and_stored_hashed(owner_client, owner):
    owner_client.post("/accounts/tokens/", {"name": "laptop"})
    page = owner_client.get("/accounts/profile/").content.decode()
    token = ApiToken.objects.get(user=owner, name="laptop")
    raw = page.split('data-testid="new-token">')[1].split("<")[0]
    assert raw.startswith("atl_")
    assert token.digest == token_digest(raw)
    assert raw not in {token.digest, token.prefix}
    assert raw not in owner_client.get("/accounts/profile/").content.decode()  # shown once


def test_bearer_token_authenticates_then_revoked_gets_401(api, owner, owner_token, owner_client):
    me = api.get("/me", token=owner_token)
    assert me.status_code == 200
    assert me.json()["username"] == "owner"
    assert me.json()["credits"] == 50
    assert me.json()["tokens"][0]["name"] == "tests"

    token = ApiToken.objects.get(user=owner)
    owner_client.post(f"/accounts/tokens/{token.id}/revoke/")
    owner_client.logout()
    revoked = api.get("/me", token=owner_token)
    assert revoked.status_code == 401
    assert revoked.json()["error"]["code"] == "unauthorized"


@pytest.mark.parametrize("bad", ["atl_not-a-real-token", "garbage", ""])
def test_bad_token_is_401_json(api, bad, client):
    response = client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {bad}")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"


def test_tokens_api_create_and_revoke(api, owner_token, owner):
    created = api.post("/tokens", {"name": "ci"}, token=owner_token)
    assert created.status_code == 201
    raw = created.json()["token"]
    assert api.get("/me", token=raw).status_code == 200
    assert api.delete(f"/tokens/{created.json()['id']}", token=owner_token).status_code == 204
    assert api.get("/me", token=raw).status_code == 401


def test_cannot_revoke_someone_elses_token(api, owner_token, member):
    from atelier_site.accounts.services import token_create

    theirs = token_create(user=member, name="theirs")
    response = api.delete(f"/tokens/{theirs.token.id}", token=owner_token)
    assert response.status_code == 404
    assert api.get("/me", token=theirs.raw).status_code == 200
