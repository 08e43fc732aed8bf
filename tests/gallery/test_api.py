"""The gallery API: listing and search, one image, likes, remix, lineage, similar, owner
settings, reports, collections; errors in the one error format; flat query counts."""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from atelier_site.accounts.services import token_create
from gallery.models import Collection, CollectionItem, ImageModifier
from generation.models import Image
from tests.gallery.image_factory import image_make

pytestmark = pytest.mark.django_db


def error_code(response) -> str:
    return response.json()["error"]["code"]


@pytest.fixture
def member_client(client, member):
    client.force_login(member)
    return client


def patch(client, path, data, **extra):
    return client.patch(f"/api/v1{path}", json.dumps(data), content_type="application/json", **extra)


# -- listing ------------------------------------------------------------------------------------


def test_list_shows_public_images_to_anonymous_callers(api, owner):
    public = image_make(owner)
    image_make(owner, visibility="unlisted")
    image_make(owner, visibility="private")
    image_make(owner, hidden=True)
    response = api.get("/images")
    assert response.status_code == 200
    body = response.json()
    assert [item["id"] for item in body["items"]] == [public.pk]
    item = body["items"][0]
    assert item["url"] == f"/i/{public.pk}"
    assert item["author"] == {"username": "owner", "url": "/u/owner"}
    assert item["thumbnail_url"].endswith("-256.webp") and item["blurhash"] and item["color"].startswith("#")
    assert body["next_cursor"] is None


def test_pages_follow_next_cursor(api, owner, settings):
    made = [image_make(owner) for _ in range(5)]
    seen, cursor = [], ""
    while True:
        body = api.get("/images", limit=2, **({"cursor": cursor} if cursor else {})).json()
        seen += [item["id"] for item in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert seen == [image.pk for image in reversed(made)]
    settings.API_MAX_PAGE_SIZE = 3
    assert len(api.get("/images", limit=1000).json()["items"]) == 3


def test_tampered_cursor_is_400(api, owner):
    for _ in range(3):
        image_make(owner)
    cursor = api.get("/images", limit=1).json()["next_cursor"]
    for bad in (cursor[:-3] + "abc", "eyJrIjoibmV3In0", "%%%", cursor.replace(":", ";")):
        response = api.get("/images", cursor=bad)
        assert response.status_code == 400, bad
        assert error_code(response) == "invalid_cursor"
    response = api.get("/images", cursor=cursor, sort="top_all")
    assert (response.status_code, error_code(response)) == (400, "invalid_cursor")


def test_unknown_filters_are_422(api):
    response = api.get("/images", colour="red", tag="x")
    assert response.status_code == 422
    body = response.json()["error"]
    assert body["code"] == "unknown_filter"
    assert body["details"]["unknown"] == ["colour", "tag"]
    for params in ({"sort": "hot"}, {"search": "psychic"}, {"mode": "dream"}, {"has_remixes": "perhaps"}):
        response = api.get("/images", **params)
        assert (response.status_code, error_code(response)) == (422, "invalid_filter"), params
    assert error_code(api.get("/images", limit="many")) == "validation_error"


def test_filters_and_sorts(api, owner, member):
    liked = image_make(owner, like_count=4, model="sd15")
    variation = image_make(owner, mode="variation", parent=liked)
    ImageModifier.objects.create(image=variation, slug="watercolor", category="medium")
    assert [i["id"] for i in api.get("/images", sort="top_all").json()["items"]] == [liked.pk, variation.pk]
    assert [i["id"] for i in api.get("/images", model="sd15").json()["items"]] == [liked.pk]
    assert [i["id"] for i in api.get("/images", mode="variation").json()["items"]] == [variation.pk]
    assert [i["id"] for i in api.get("/images", modifier="watercolor").json()["items"]] == [variation.pk]
    assert api.get("/images", has_remixes="true").json()["items"] == []
    for sort in ("new", "top_day", "top_week", "trending"):
        assert api.get("/images", sort=sort).status_code == 200


def test_list_marks_what_i_liked(api, owner, member_client, member):
    image = image_make(owner)
    assert member_client.post(f"/api/v1/images/{image.pk}/like").json()["liked"] is True
    assert member_client.get("/api/v1/images").json()["items"][0]["liked"] is True


# -- search --------------------------------------------------------------------------------------


@pytest.fixture
def indexed(owner):
    return {
        "fox": image_make(owner, prompt="a red fox in the snow, watercolor painting", index=True),
        "ship": image_make(owner, prompt="a sailing ship in a storm at sea", index=True),
        "hidden": image_make(owner, prompt="a red fox in a forest", hidden=True, index=True),
        "unlisted": image_make(owner, prompt="a red fox on a bridge", visibility="unlisted", index=True),
        "private": image_make(owner, prompt="a red fox asleep", visibility="private", index=True),
    }


@pytest.mark.parametrize("mode", ["keyword", "semantic", "hybrid"])
def test_search_stays_inside_what_listings_show(indexed, mode, owner):
    from django.test import Client

    anonymous, mine = Client(), Client()
    mine.force_login(owner)
    for client in (anonymous, mine):
        response = client.get("/api/v1/images", {"q": "red fox", "search": mode})
        assert response.status_code == 200
        found = [item["id"] for item in response.json()["items"]]
        assert found and found[0] == indexed["fox"].pk
        assert not {indexed[k].pk for k in ("hidden", "unlisted", "private")} & set(found)


def test_search_with_another_sort_orders_the_matches(api, indexed):
    body = api.get("/images", q="fox", search="keyword", sort="new").json()
    assert [item["id"] for item in body["items"]] == [indexed["fox"].pk]


SEARCH_STRINGS = ['"red fox', 'fox AND NOT "ship" OR (', "fox\x00ship", "x" * 10_000, "* ? : ^ ~ -",
                  "' OR 1=1 --", "NEAR(fox ship)", "\\", "🦊", " ", "fox" * 3000, "%_%", "\u202e\u0000"]


def test_search_strings_never_500(api, indexed):
    for mode in ("keyword", "semantic", "hybrid"):
        for q in SEARCH_STRINGS:
            response = api.get("/images", q=q, search=mode)
            assert response.status_code == 200, (mode, q[:40], response.content[:300])


def test_search_pages_follow_the_cursor(api, owner):
    made = {image_make(owner, prompt=f"a lighthouse number {n} on a cliff", index=True).pk for n in range(5)}
    seen, cursor = [], None
    for _ in range(10):
        params = {"q": "lighthouse", "search": "keyword", "limit": 2, **({"cursor": cursor} if cursor else {})}
        body = api.get("/images", **params).json()
        seen += [item["id"] for item in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(made) and len(seen) == len(set(seen))
    page_one = api.get("/images", q="lighthouse", search="keyword", limit=2).json()["next_cursor"]
    response = api.get("/images", q="ship", search="keyword", cursor=page_one)
    assert (response.status_code, error_code(response)) == (400, "invalid_cursor")


# -- one image ----------------------------------------------------------------------------------


def test_detail_by_link_and_404s(api, owner, member_client):
    public = image_make(owner, negative_prompt="blurry")
    unlisted = image_make(owner, visibility="unlisted")
    private = image_make(owner, visibility="private")
    hidden = image_make(owner, hidden=True, hidden_reason="Spam")
    body = api.get(f"/images/{public.pk}").json()
    assert body["negative_prompt"] == "blurry"
    assert body["parameters"] == {"model": "embedded", "mode": "text2img", "size": "16x16", "steps": 20,
                                  "guidance": 7.5, "seed": 1234, "sampler": "DDIM", "strength": None}  # from the file
    assert body["download_url"] == f"/api/v1/images/{public.pk}/download"
    assert body["is_owner"] is False and body["hidden_reason"] == ""
    assert api.get(f"/images/{unlisted.pk}").status_code == 200
    for image in (private, hidden):
        response = member_client.get(f"/api/v1/images/{image.pk}")
        assert (response.status_code, error_code(response)) == (404, "not_found")
    assert api.get("/images/999999").status_code == 404


def test_owner_reads_own_hidden_image_with_reason_by_token(api, owner):
    hidden = image_make(owner, hidden=True, hidden_reason="Spam links")
    api.token = token_create(user=owner, name="t").raw
    body = api.get(f"/images/{hidden.pk}").json()
    assert (body["hidden"], body["hidden_reason"], body["is_owner"]) == (True, "Spam links", True)


def test_withheld_fields_are_hidden_from_others(owner, owner_client):
    from django.test import Client

    image = image_make(owner, negative_prompt="blurry", withheld=("seed", "negative_prompt"))
    body = Client().get(f"/api/v1/images/{image.pk}").json()
    assert body["parameters"]["seed"] is None and body["negative_prompt"] == "" and body["withheld"] == []
    mine = owner_client.get(f"/api/v1/images/{image.pk}").json()
    assert mine["parameters"]["seed"] == 1234 and mine["withheld"] == ["negative_prompt", "seed"]


def test_patch_and_delete_are_for_the_owner(client, owner, member, owner_token, django_capture_on_commit_callbacks):
    image = image_make(owner)
    client.force_login(member)
    assert patch(client, f"/images/{image.pk}", {"visibility": "private"}).status_code == 404
    assert client.delete(f"/api/v1/images/{image.pk}").status_code == 404
    client.logout()
    auth = {"HTTP_AUTHORIZATION": f"Bearer {owner_token}"}
    response = patch(client, f"/images/{image.pk}", {"visibility": "unlisted", "withheld": ["seed"]}, **auth)
    assert response.status_code == 200
    assert (response.json()["visibility"], response.json()["withheld"]) == ("unlisted", ["seed"])
    response = patch(client, f"/images/{image.pk}", {"visibility": "everyone"}, **auth)
    assert (response.status_code, error_code(response)) == (422, "invalid_visibility")
    response = patch(client, f"/images/{image.pk}", {"colour": "red"}, **auth)
    assert response.status_code == 422
    with django_capture_on_commit_callbacks(execute=True):
        assert client.delete(f"/api/v1/images/{image.pk}", **auth).status_code == 204
    assert not Image.objects.filter(pk=image.pk).exists()


def test_anonymous_writes_are_401(api, owner):
    image = image_make(owner)
    assert api.post(f"/images/{image.pk}/like").status_code == 401
    assert api.post("/collections", {"title": "x"}).status_code == 401


# -- likes --------------------------------------------------------------------------------------


def test_like_and_unlike(owner, member_client):
    image = image_make(owner)
    assert member_client.post(f"/api/v1/images/{image.pk}/like").json() == {
        "image_id": image.pk, "liked": True, "like_count": 1}
    assert member_client.post(f"/api/v1/images/{image.pk}/like").json()["like_count"] == 1
    assert member_client.delete(f"/api/v1/images/{image.pk}/like").json() == {
        "image_id": image.pk, "liked": False, "like_count": 0}


def test_liking_hidden_or_private_is_404(owner, member_client):
    for image in (image_make(owner, hidden=True), image_make(owner, visibility="private")):
        response = member_client.post(f"/api/v1/images/{image.pk}/like")
        assert (response.status_code, error_code(response)) == (404, "not_found")


def test_session_writes_need_the_csrf_token(owner, member):
    from django.test import Client

    image = image_make(owner)
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(member)
    assert strict.post(f"/api/v1/images/{image.pk}/like").status_code in (401, 403)


# -- remix, lineage, similar ------------------------------------------------------------------------


def test_remix_state(api, owner):
    image = image_make(owner, negative_prompt="blurry",
                       recipe={"subject": "a fox", "modifiers": ["watercolor"], "dialect": "plain"})
    body = api.get(f"/images/{image.pk}/remix").json()
    assert body["subject"] == "a fox" and body["modifiers"] == ["watercolor"] and body["remix_of"] == image.pk
    assert body["builder_url"].startswith("/create?subject=a+fox&m=watercolor&negative=blurry")


def test_lineage(api, owner, member):
    root = image_make(owner, prompt="a fox")
    variation = image_make(owner, prompt="a fox", mode="variation", parent=root)
    remix = image_make(member, prompt="a red fox", remix_of=variation)
    body = api.get(f"/images/{variation.pk}/lineage").json()
    assert [node["id"] for node in body["ancestors"]] == [root.pk]
    assert body["remixes"][0]["image"]["id"] == remix.pk
    assert body["remixes"][0]["diff"] == [["equal", "a"], ["ins", " red"], ["equal", " fox"]]
    assert body["remix_total"] == 1
    assert api.get(f"/images/{remix.pk}/lineage").json()["remix_of"]["id"] == variation.pk


def test_similar_never_shows_hidden_private_or_unlisted(api, owner):
    source = image_make(owner, prompt="a red fox in the snow", index=True)
    twin = image_make(owner, prompt="a red fox in deep snow", index=True)
    image_make(owner, prompt="a red fox in the snow at dusk", hidden=True, index=True)
    image_make(owner, prompt="a red fox in snow", visibility="unlisted", index=True)
    image_make(owner, prompt="a red fox in the white snow", visibility="private", index=True)
    found = [item["id"] for item in api.get(f"/images/{source.pk}/similar").json()]
    assert found == [twin.pk]


# -- reports -------------------------------------------------------------------------------------


def test_report(owner, member_client):
    image = image_make(owner)
    response = member_client.post(f"/api/v1/images/{image.pk}/report", {"reason": "spam", "note": "ads"},
                                  content_type="application/json")
    assert response.status_code == 201 and response.json()["status"] == "open"
    again = member_client.post(f"/api/v1/images/{image.pk}/report", {"reason": "spam"},
                               content_type="application/json")
    assert (again.status_code, error_code(again)) == (409, "already_reported")


# -- collections ----------------------------------------------------------------------------------


def test_collections_endpoints(owner, member, outsider):
    from django.test import Client

    client, anonymous, other = Client(), Client(), Client()
    client.force_login(member)
    other.force_login(outsider)
    public_image, unlisted_image = image_make(owner), image_make(owner, visibility="unlisted")
    created = client.post("/api/v1/collections", {"title": "Foxes", "visibility": "private"},
                          content_type="application/json")
    assert created.status_code == 201
    collection_id = created.json()["id"]
    for image in (public_image, unlisted_image):
        response = client.post(f"/api/v1/collections/{collection_id}/images", {"image_id": image.pk},
                               content_type="application/json")
        assert response.status_code == 201
    assert response.json()["item_count"] == 2
    mine = client.get("/api/v1/collections").json()
    assert [c["id"] for c in mine] == [collection_id] and mine[0]["item_count"] == 2
    # its owner sees the unlisted image they added
    assert len(client.get(f"/api/v1/collections/{collection_id}").json()["images"]) == 2
    # private: 404 for everyone else
    for stranger in (anonymous, other):
        assert stranger.get(f"/api/v1/collections/{collection_id}").status_code == 404
        assert stranger.get(f"/api/v1/collections/{collection_id}/download").status_code == 404
    assert other.get("/api/v1/collections").json() == []
    # unlisted: by link; the unlisted image inside stays out of what others are shown
    assert patch(client, f"/collections/{collection_id}", {"visibility": "unlisted"}).status_code == 200
    shown = anonymous.get(f"/api/v1/collections/{collection_id}").json()
    assert [i["id"] for i in shown["images"]] == [public_image.pk]
    # others cannot change it
    assert patch(other, f"/collections/{collection_id}", {"title": "x"}).status_code == 404
    response = other.post(f"/api/v1/collections/{collection_id}/images", {"image_id": public_image.pk},
                          content_type="application/json")
    assert response.status_code == 404
    assert other.delete(f"/api/v1/collections/{collection_id}").status_code == 404
    response = client.delete(f"/api/v1/collections/{collection_id}/images/{public_image.pk}")
    assert response.status_code == 204
    assert CollectionItem.objects.filter(collection_id=collection_id).count() == 1
    assert client.delete(f"/api/v1/collections/{collection_id}").status_code == 204
    assert not Collection.objects.filter(pk=collection_id).exists()


def test_collection_zip_holds_pngs_and_a_manifest(api, owner, member):
    images = [image_make(owner, prompt=f"fox {n}", negative_prompt="blurry", withheld=("seed",)) for n in range(2)]
    collection = Collection.objects.create(owner=member, title="Foxes")
    for image in images:
        CollectionItem.objects.create(collection=collection, image=image)
    response = api.get(f"/collections/{collection.pk}/download")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    names = archive.namelist()
    assert names[-1] == "manifest.json" and len(names) == 3
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["collection"]["title"] == "Foxes"
    assert [entry["prompt"] for entry in manifest["images"]] == ["fox 1", "fox 0"]
    assert all("seed" not in entry for entry in manifest["images"])  # withheld by the images' owner
    png = archive.read(names[0])
    assert png.startswith(b"\x89PNG") and b"Seed: 1234" not in png


# -- query counts -----------------------------------------------------------------------------------


def test_list_endpoints_query_counts_are_flat(client, owner, member, django_assert_max_num_queries):
    client.force_login(member)
    collection = Collection.objects.create(owner=member, title="Many")
    root = image_make(owner)
    for n in range(15):
        image = image_make(owner, remix_of=root if n % 2 else None)
        CollectionItem.objects.create(collection=collection, image=image)
        ImageModifier.objects.create(image=image, slug="watercolor", category="medium")
    # session + user + the page + likes of mine (+ throttling's cache, no queries)
    with django_assert_max_num_queries(5):
        assert len(client.get("/api/v1/images?limit=15&modifier=watercolor").json()["items"]) == 15
    with django_assert_max_num_queries(5):
        client.get("/api/v1/images?limit=15&sort=trending")
    with django_assert_max_num_queries(6):
        assert len(client.get(f"/api/v1/collections/{collection.pk}").json()["images"]) == 15
    with django_assert_max_num_queries(5):
        client.get("/api/v1/collections")
    with django_assert_max_num_queries(10):
        client.get(f"/api/v1/images/{root.pk}/lineage")


def test_similar_query_count_is_flat(client, owner, django_assert_max_num_queries):
    source = image_make(owner, prompt="a red fox in the snow", index=True)
    for n in range(8):
        image_make(owner, prompt=f"a red fox in the snow, study {n}", index=True)
    client.get(f"/api/v1/images/{source.pk}/similar")  # warm the search's caches
    # the image, its embedding, the vector scan, the rows, likes of mine
    with django_assert_max_num_queries(8):
        assert len(client.get(f"/api/v1/images/{source.pk}/similar").json()) == 8
