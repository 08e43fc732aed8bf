"""Presets and prompt history: the owner's own, through the API and the services."""

import pytest
from django.test import Client

from prompts.models import Preset, PromptHistory
from prompts.services import HISTORY_KEEP, catalog_load, history_record

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def loaded_catalog(db):
    catalog_load()


@pytest.fixture
def as_user(client):
    def login(user):
        client.force_login(user)
        return client

    return login


def post(client, path, data):
    return client.post(f"/api/v1{path}", data, content_type="application/json")


# -- presets ------------------------------------------------------------------------------------


def test_owner_saves_lists_and_deletes_a_preset(as_user, owner):
    client = as_user(owner)
    response = post(client, "/presets", {"name": "  Misty   woodcut ", "state": {
        "modifiers": ["woodcut", "fog:1.2"], "negative_prompt": "text", "dialect": "sd", "seed": 7}})
    assert response.status_code == 201, response.content
    preset = response.json()
    assert preset["name"] == "Misty woodcut"
    assert preset["state"] == {"modifiers": ["woodcut", "fog:1.2"], "negative_prompt": "text", "dialect": "sd", "seed": 7}
    assert [p["name"] for p in client.get("/api/v1/presets").json()["items"]] == ["Misty woodcut"]

    assert client.delete(f"/api/v1/presets/{preset['id']}").status_code == 204
    assert client.get("/api/v1/presets").json()["items"] == []


def test_saving_under_the_same_name_replaces(as_user, owner):
    client = as_user(owner)
    first = post(client, "/presets", {"name": "Look", "state": {"modifiers": ["woodcut"]}}).json()
    second = post(client, "/presets", {"name": "Look", "state": {"modifiers": ["watercolor"]}}).json()
    assert first["id"] == second["id"]
    assert Preset.objects.get(pk=first["id"]).state == {"modifiers": ["watercolor"]}


def test_outsider_cannot_see_or_delete_someone_elses_preset(as_user, owner, outsider):
    preset = Preset.objects.create(owner=owner, name="Mine", state={"modifiers": ["woodcut"]})
    client = as_user(outsider)
    assert client.get("/api/v1/presets").json()["items"] == []
    response = client.delete(f"/api/v1/presets/{preset.pk}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert Preset.objects.filter(pk=preset.pk).exists()
    # and one that never existed answers the same
    assert client.delete("/api/v1/presets/999999").status_code == 404


def test_presets_need_a_login(client, api, owner):
    assert client.get("/api/v1/presets").status_code == 401
    assert post(client, "/presets", {"name": "x", "state": {"modifiers": ["woodcut"]}}).status_code == 401
    Preset.objects.create(owner=owner, name="Mine", state={})
    assert client.delete(f"/api/v1/presets/{Preset.objects.get().pk}").status_code == 401


def test_presets_with_an_api_token(api, owner, owner_token):
    response = api.post("/presets", {"name": "Token", "state": {"modifiers": ["woodcut"]}}, token=owner_token)
    assert response.status_code == 201
    assert [p["name"] for p in api.get("/presets", token=owner_token).json()["items"]] == ["Token"]


def test_session_writes_need_the_csrf_token(owner):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    response = post(client, "/presets", {"name": "x", "state": {"modifiers": ["woodcut"]}})
    assert response.status_code == 403
    assert not Preset.objects.exists()


@pytest.mark.parametrize(("payload", "code", "named"), [
    ({"name": "Bad", "state": {"modifiers": ["woodcut", "no-such-slug"]}}, "unknown_modifier", "no-such-slug"),
    ({"name": "   ", "state": {"modifiers": ["woodcut"]}}, "invalid_name", None),
    ({"name": "x" * 81, "state": {"modifiers": ["woodcut"]}}, "too_long", None),
    ({"name": "Empty", "state": {}}, "empty_preset", None),
    ({"name": "Nul", "state": {"subject": "a\x00b"}}, "invalid_character", None),
    ({"name": "Long", "state": {"subject": "s" * 10_001}}, "too_long", None),
    ({"name": "Seed", "state": {"modifiers": ["woodcut"], "seed": -1}}, "invalid_param", None),
    ({"name": "Dialect", "state": {"modifiers": ["woodcut"], "dialect": "klingon"}}, "unknown_dialect", None),
])
def test_bad_presets_are_rejected_and_nothing_is_saved(as_user, owner, payload, code, named):
    response = post(as_user(owner), "/presets", payload)
    assert response.status_code == 422, response.content
    error = response.json()["error"]
    assert error["code"] == code
    if named:
        assert named in error["message"]
    assert not Preset.objects.exists()


def test_preset_names_and_states_come_back_as_text(as_user, owner):
    client = as_user(owner)
    post(client, "/presets", {"name": "<script>alert(1)</script>", "state": {"subject": "<b>fox</b>"}})
    item = client.get("/api/v1/presets").json()["items"][0]
    assert item["name"] == "<script>alert(1)</script>" and item["state"]["subject"] == "<b>fox</b>"


# -- history ------------------------------------------------------------------------------------


def test_history_records_searches_and_stays_private(as_user, owner, outsider):
    client = as_user(owner)
    for prompt in ("A watercolor painting of a fox", "A woodcut print of a lighthouse", "an owl"):
        response = post(client, "/history", {"prompt": prompt, "dialect": "plain", "state": {"subject": prompt}})
        assert response.status_code == 201
    items = client.get("/api/v1/history").json()["items"]
    assert [i["prompt"] for i in items] == ["an owl", "A woodcut print of a lighthouse", "A watercolor painting of a fox"]
    assert [i["prompt"] for i in client.get("/api/v1/history", {"q": "LIGHTHOUSE"}).json()["items"]] == [
        "A woodcut print of a lighthouse"]
    assert client.get("/api/v1/history", {"q": "zebra"}).json()["items"] == []

    other = as_user(outsider)
    assert other.get("/api/v1/history").json()["items"] == []


def test_history_needs_a_login(client):
    assert client.get("/api/v1/history").status_code == 401
    assert post(client, "/history", {"prompt": "a fox"}).status_code == 401


def test_the_same_prompt_twice_in_a_row_is_one_entry(owner):
    first = history_record(user=owner, prompt="a fox", negative_prompt="", dialect="plain", state={})
    again = history_record(user=owner, prompt="a fox", negative_prompt="", dialect="plain", state={})
    assert first.pk == again.pk
    history_record(user=owner, prompt="an owl", dialect="plain", state={})
    history_record(user=owner, prompt="a fox", dialect="plain", state={})  # not consecutive: a new entry
    history_record(user=owner, prompt="a fox", dialect="sd", state={})  # another dialect: a new entry
    assert PromptHistory.objects.filter(owner=owner).count() == 4


def test_only_the_newest_100_are_kept(owner, outsider):
    history_record(user=outsider, prompt="outsider's", state={})
    for i in range(HISTORY_KEEP + 5):
        history_record(user=owner, prompt=f"prompt {i}", state={})
    kept = list(PromptHistory.objects.filter(owner=owner).values_list("prompt", flat=True))
    assert len(kept) == 100
    assert kept[0] == "prompt 104" and "prompt 4" not in kept and "prompt 5" in kept
    assert PromptHistory.objects.filter(owner=outsider).count() == 1


def test_history_keeps_the_good_parts_of_a_state(owner):
    entry = history_record(user=owner, prompt="a fox", state={"subject": "a fox", "modifiers": ["watercolor", "nope"],
                                                              "seed": "abc", "junk": 1})
    assert entry.state == {"subject": "a fox", "modifiers": ["watercolor"]}
    assert history_record(user=owner, prompt="   ", state={}) is None


def test_bad_history_input(as_user, owner):
    client = as_user(owner)
    assert post(client, "/history", {"prompt": "a\x00"}).json()["error"]["code"] == "invalid_character"
    assert post(client, "/history", {"prompt": "p" * 10_001}).json()["error"]["code"] == "too_long"
    assert post(client, "/history", {"prompt": " "}).json()["error"]["code"] == "empty_prompt"
    assert not PromptHistory.objects.exists()


def test_history_list_query_count(as_user, owner, django_assert_max_num_queries):
    for i in range(50):
        PromptHistory.objects.create(owner=owner, prompt=f"p{i}", state={"subject": f"s{i}"})
    client = as_user(owner)
    with django_assert_max_num_queries(4):
        assert len(client.get("/api/v1/history").json()["items"]) == 50
    with django_assert_max_num_queries(4):
        client.get("/api/v1/presets")
