"""Gallery pages: browse, the image page, remix redirect, likes, owner settings, reports,
collections, profiles; who sees what; flat query counts on list pages."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client

from gallery.models import Collection, CollectionItem, ImageModifier, Like, Report
from generation.models import Image
from tests.gallery.image_factory import catalog_loaded, image_make

pytestmark = pytest.mark.django_db


@pytest.fixture
def as_member(member):
    client = Client()
    client.force_login(member)
    return client


@pytest.fixture
def as_owner(owner):
    client = Client()
    client.force_login(owner)
    return client


def text(response) -> str:
    return response.content.decode()


# -- browse --------------------------------------------------------------------------------------


def test_gallery_lists_public_images_with_placeholders(client, owner):
    public = image_make(owner, prompt="a public lighthouse")
    unlisted = image_make(owner, prompt="an unlisted lighthouse", visibility="unlisted")
    hidden = image_make(owner, prompt="a hidden lighthouse", hidden=True)
    response = client.get("/gallery")
    assert response.status_code == 200
    page = text(response)
    assert f'href="/i/{public.pk}"' in page and "a public lighthouse" in page
    assert f'href="/i/{unlisted.pk}"' not in page and f'href="/i/{hidden.pk}"' not in page
    assert f'data-blurhash="{public.blurhash}"' in page and public.color in page
    assert 'loading="lazy"' in page


def test_gallery_pages_by_cursor_and_fragment(client, owner):
    made = [image_make(owner) for _ in range(35)]
    page = text(client.get("/gallery"))
    assert page.count('data-testid="gallery-card"') == 30
    next_href = page.split('data-next rel="next"')[0].rsplit('href="', 1)[1].split('"')[0].replace("&amp;", "&")
    assert "cursor=" in next_href and "offset" not in next_href and "page=" not in next_href
    fragment = text(client.get(next_href + "&fragment=1"))
    assert fragment.count('data-testid="gallery-card"') == 5
    assert "<html" not in fragment and "data-next" not in fragment
    assert f'href="/i/{made[0].pk}"' in fragment


def test_gallery_page_with_a_forged_cursor_is_400(client, owner):
    image_make(owner)
    response = client.get("/gallery?cursor=forged:cursor")
    assert response.status_code == 400
    assert "invalid" in text(response).lower()


def test_gallery_filters_show_as_removable_chips(client, owner):
    image = image_make(owner)
    ImageModifier.objects.create(image=image, slug="watercolor", category="medium")
    page = text(client.get("/gallery?modifier=watercolor&mode=text2img&utm_source=x"))
    assert f'href="/i/{image.pk}"' in page
    assert "Watercolor" in page or "watercolor" in page
    assert 'href="/gallery?mode=text2img"' in page  # dropping the modifier keeps the mode


def test_search_box_finds_and_hides_what_it_must(client, owner):
    fox = image_make(owner, prompt="a red fox in the snow", index=True)
    hidden = image_make(owner, prompt="a red fox hidden away", hidden=True, index=True)
    page = text(client.get("/gallery", {"q": 'red "fox', "search": "keyword"}))
    assert f'href="/i/{fox.pk}"' in page and f'href="/i/{hidden.pk}"' not in page
    for q in ("fox\x00", "x" * 10_000, "AND OR NOT ("):
        assert client.get("/gallery", {"q": q}).status_code == 200


# -- the image page -------------------------------------------------------------------------------


def test_image_page_shows_recipe_chips_author_and_actions(as_member, owner):
    image = image_make(owner, prompt="A fox, watercolor painting", negative_prompt="blurry",
                       recipe={"subject": "a fox", "modifiers": ["watercolor"], "sampler": "DDIM"})
    catalog_loaded()
    page = text(as_member.get(f"/i/{image.pk}"))
    assert "A fox, watercolor painting" in page and "blurry" in page
    assert 'href="/book/medium/watercolor"' in page
    assert 'href="/u/owner"' in page
    assert "1234" in page and "DDIM" in page
    for action in ("Remix", "Variations", "Edit", "Outpaint", "Download PNG", "Copy prompt", "Add to collection",
                   "Report"):
        assert action in page, action
    assert "Owner settings" not in page


def test_image_page_for_anonymous_and_withheld_fields(client, owner):
    image = image_make(owner, negative_prompt="secret negative", seed=987654, withheld=("seed", "negative_prompt"))
    page = text(client.get(f"/i/{image.pk}"))
    assert "987654" not in page and "secret negative" not in page
    assert "Variations" not in page  # generating needs an account
    assert "Remix" in page


def test_hidden_image_shows_its_owner_the_reason_and_404s_for_others(as_owner, as_member, client, owner):
    image = image_make(owner, hidden=True, hidden_reason="Spam links")
    page = text(as_owner.get(f"/i/{image.pk}"))
    assert 'data-testid="hidden-banner"' in page and "Spam links" in page
    assert as_member.get(f"/i/{image.pk}").status_code == 404
    assert client.get(f"/i/{image.pk}").status_code == 404


def test_unlisted_opens_by_link_private_does_not(client, owner):
    assert client.get(f"/i/{image_make(owner, visibility='unlisted').pk}").status_code == 200
    assert client.get(f"/i/{image_make(owner, visibility='private').pk}").status_code == 404


def test_remixed_from_lineage_and_diff_on_the_pages(client, owner, member):
    parent = image_make(owner, prompt="a lighthouse on a cliff")
    remix = image_make(member, prompt="a red lighthouse on a cliff <script>", remix_of=parent)
    variation = image_make(member, prompt="a red lighthouse on a cliff", mode="variation", parent=remix)
    page = text(client.get(f"/i/{remix.pk}"))
    assert 'data-testid="remixed-from"' in page and f"#{parent.pk}" in page
    parent_page = text(client.get(f"/i/{parent.pk}"))
    assert 'data-testid="remix-tree"' in parent_page
    assert "<ins>red</ins>" in parent_page and "<ins>&lt;script&gt;</ins>" in parent_page
    assert "<script>" not in parent_page.split('data-testid="remix-tree"')[1].split("</section>")[0]
    chain = text(client.get(f"/i/{variation.pk}"))
    assert 'data-testid="parent-chain"' in chain and f'href="/i/{remix.pk}"' in chain


def test_remix_redirects_to_the_prefilled_builder(client, owner):
    image = image_make(owner, negative_prompt="blurry", seed=77,
                       recipe={"subject": "a fox", "modifiers": ["watercolor", "golden-hour:1.2"], "dialect": "sd"})
    response = client.get(f"/i/{image.pk}/remix")
    assert response.status_code == 302
    url = urlsplit(response["Location"])
    assert url.path == "/create"
    assert "m=watercolor,golden-hour:1.2" in url.query  # commas and colons kept readable
    assert parse_qs(url.query) == {
        "subject": ["a fox"], "m": ["watercolor,golden-hour:1.2"], "negative": ["blurry"], "dialect": ["sd"],
        "seed": ["77"], "size": ["16x16"], "steps": ["20"], "guidance": ["7.5"], "remix_of": [str(image.pk)],
    }
    assert client.get(f"/i/{image_make(owner, visibility='private').pk}/remix").status_code == 404


def test_like_form_toggles_and_answers_json(as_member, client, owner):
    image = image_make(owner)
    response = as_member.post(f"/i/{image.pk}/like", HTTP_ACCEPT="application/json")
    assert response.json() == {"image_id": image.pk, "liked": True, "like_count": 1}
    assert as_member.post(f"/i/{image.pk}/like").status_code == 302
    assert not Like.objects.exists()
    assert as_member.post(f"/i/{image.pk}/like", {"liked": "0"}, HTTP_ACCEPT="application/json").json()["liked"] is False
    assert client.post(f"/i/{image.pk}/like").status_code == 302  # to the login page
    hidden = image_make(owner, hidden=True)
    assert as_member.post(f"/i/{hidden.pk}/like").status_code == 404


def test_owner_settings_and_delete(as_owner, as_member, owner, django_capture_on_commit_callbacks):
    image = image_make(owner)
    assert as_member.post(f"/i/{image.pk}/settings", {"visibility": "private"}).status_code == 404
    page = text(as_owner.get(f"/i/{image.pk}"))
    assert "Owner settings" in page and "Report" not in page.split("Owner settings")[1].split("</aside>")[0]
    as_owner.post(f"/i/{image.pk}/settings", {"visibility": "unlisted", "withheld": ["seed"]})
    image.refresh_from_db()
    assert (image.visibility, image.withheld) == ("unlisted", ["seed"])
    assert as_member.post(f"/i/{image.pk}/delete").status_code == 404
    with django_capture_on_commit_callbacks(execute=True):
        assert as_owner.post(f"/i/{image.pk}/delete").status_code == 302
    assert not Image.objects.filter(pk=image.pk).exists()


def test_download_withholds_for_others_only(client, as_owner, owner):
    image = image_make(owner, seed=987654, withheld=("seed",))
    response = client.get(f"/i/{image.pk}/download")
    assert response["Content-Type"] == "image/png"
    assert f"atelier-{image.pk}.png" in response["Content-Disposition"]
    assert b"987654" not in response.content
    assert b"987654" in as_owner.get(f"/i/{image.pk}/download").content


def test_report_and_collect_forms(as_member, owner, member):
    image = image_make(owner)
    as_member.post(f"/i/{image.pk}/report", {"reason": "spam", "note": "ads"})
    assert Report.objects.filter(image=image, reporter=member).exists()
    as_member.post(f"/i/{image.pk}/collect", {"collection": "new", "title": "Harbours"})
    collection = Collection.objects.get(owner=member)
    assert list(collection.images.all()) == [image]
    other = image_make(owner)
    as_member.post(f"/i/{other.pk}/collect", {"collection": str(collection.pk)})
    assert collection.images.count() == 2


def test_image_page_query_count(client, owner, member, django_assert_max_num_queries):
    catalog_loaded()
    root = image_make(owner)
    for n in range(6):
        remix = image_make(member, prompt=f"remix {n}", remix_of=root)
        image_make(member, prompt=f"remix of remix {n}", remix_of=remix)
        image_make(member, prompt=f"variation {n}", mode="variation", parent=root)
    client.force_login(member)
    client.get(f"/i/{root.pk}")  # warm the catalog cache
    with django_assert_max_num_queries(20):
        assert client.get(f"/i/{root.pk}").status_code == 200


# -- collections and profiles -------------------------------------------------------------------


def test_collection_pages(client, as_member, owner, member, outsider):
    private = Collection.objects.create(owner=member, title="Secret foxes", visibility="private")
    public = Collection.objects.create(owner=member, title="Open foxes")
    image = image_make(owner)
    CollectionItem.objects.create(collection=public, image=image)
    assert client.get(f"/c/{private.pk}").status_code == 404
    assert client.get(f"/c/{private.pk}/download").status_code == 404
    other = Client()
    other.force_login(outsider)
    assert other.get(f"/c/{private.pk}").status_code == 404
    assert "Secret foxes" in text(as_member.get(f"/c/{private.pk}"))
    page = text(client.get(f"/c/{public.pk}"))
    assert "Open foxes" in page and f'href="/i/{image.pk}"' in page and "Download zip" in page
    assert client.get(f"/c/{public.pk}/download")["Content-Type"] == "application/zip"
    mine = text(as_member.get("/me/collections"))
    assert "Secret foxes" in mine and "Open foxes" in mine
    response = as_member.post("/me/collections", {"title": "", "visibility": "public"})
    assert response.status_code == 422 and "needs a title" in text(response)
    response = as_member.post("/me/collections", {"title": "New one", "visibility": "unlisted"})
    assert response.status_code == 302
    as_member.post(f"/c/{public.pk}/remove/{image.pk}")
    assert public.images.count() == 0


def test_profile_page(client, owner):
    public = image_make(owner, like_count=3)
    private = image_make(owner, visibility="private")
    Collection.objects.create(owner=owner, title="Shown to all")
    Collection.objects.create(owner=owner, title="Kept to myself", visibility="private")
    page = text(client.get("/u/owner"))
    assert f'href="/i/{public.pk}"' in page and f'href="/i/{private.pk}"' not in page
    assert "Shown to all" in page and "Kept to myself" not in page
    assert "3</strong> likes received" in page
    assert client.get("/u/nobody").status_code == 404


def test_list_pages_query_counts_are_flat(client, owner, member, django_assert_max_num_queries):
    collection = Collection.objects.create(owner=owner, title="Many")
    for n in range(12):
        image = image_make(owner, like_count=n)
        CollectionItem.objects.create(collection=collection, image=image)
        if n % 3 == 0:
            more = Collection.objects.create(owner=owner, title=f"Also {n}")
            CollectionItem.objects.create(collection=more, image=image)
    client.force_login(member)
    client.get("/gallery")  # warm the catalog cache
    # session, user, credits badge (1-2), the page, the models menu
    with django_assert_max_num_queries(8):
        client.get("/gallery")
    with django_assert_max_num_queries(8):
        client.get("/gallery?sort=top_week")
    # ... the profile's user, its counts, its images, its collections with their covers
    with django_assert_max_num_queries(11):
        client.get("/u/owner")
    with django_assert_max_num_queries(8):
        client.get(f"/c/{collection.pk}")
    with django_assert_max_num_queries(8):
        client.get("/me/collections")


# -- moderation in the admin -----------------------------------------------------------------------


@pytest.fixture
def as_moderator(make_user):
    client = Client()
    client.force_login(make_user("moderator", is_staff=True, is_superuser=True))
    return client


def test_report_queue_hides_dismisses_and_restores(as_moderator, owner, member, outsider):
    spam = image_make(owner, prompt="buy cheap things")
    fine = image_make(owner, prompt="a quiet harbour")
    first = Report.objects.create(image=spam, reporter=member, reason="spam")
    Report.objects.create(image=spam, reporter=outsider, reason="other")
    mistaken = Report.objects.create(image=fine, reporter=member, reason="policy")
    queue = as_moderator.get("/admin/gallery/report/")
    assert queue.status_code == 200 and "buy cheap things" not in text(queue)  # thumbnails, not prompts
    assert f'href="/i/{spam.pk}"' in text(queue)

    as_moderator.post("/admin/gallery/report/", {"action": "hide_images", "_selected_action": [first.pk]})
    spam.refresh_from_db()
    assert spam.hidden and "Spam" in spam.hidden_reason
    assert set(Report.objects.filter(image=spam).values_list("status", flat=True)) == {"hidden"}
    assert Client().get(f"/i/{spam.pk}").status_code == 404

    as_moderator.post("/admin/gallery/report/", {"action": "dismiss", "_selected_action": [mistaken.pk]})
    mistaken.refresh_from_db()
    fine.refresh_from_db()
    assert mistaken.status == "dismissed" and not fine.hidden

    as_moderator.post("/admin/generation/image/", {"action": "restore", "_selected_action": [spam.pk]})
    spam.refresh_from_db()
    assert not spam.hidden and spam.hidden_reason == ""
    as_moderator.post("/admin/generation/image/", {"action": "hide", "_selected_action": [fine.pk]})
    fine.refresh_from_db()
    assert fine.hidden
    assert as_moderator.get("/admin/generation/image/").status_code == 200
