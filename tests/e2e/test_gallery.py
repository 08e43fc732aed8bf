"""The gallery in Chromium: browse with infinite scroll, search, open an image, like it,
read its lineage; and, once the builder and the embedded model exist, the whole
search → open → Remix → generate → "remixed from" + tree + diff flow with a real worker."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from gallery.models import Like
from generation.models import Image
from tests.gallery.image_factory import catalog_loaded, image_make
from tests.support import running_worker, subprocess_env

pytestmark = pytest.mark.e2e


@pytest.fixture
def served_media(media_root):
    """The live server serves this test's media folder (site/urls.py bound the folder
    that was configured when the URLs were first imported)."""
    from atelier_site import urls

    patterns = [p for p in urls.urlpatterns if getattr(p, "default_args", {}).get("document_root") is not None]
    saved = [p.default_args["document_root"] for p in patterns]
    for pattern in patterns:
        pattern.default_args["document_root"] = str(media_root)
    yield media_root
    for pattern, root in zip(patterns, saved, strict=True):
        pattern.default_args["document_root"] = root


def log_in(page, user, live_server):
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    page.context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie.value, "url": live_server.url}])


COLOURS = [(210, 90, 60), (60, 120, 200), (230, 190, 70), (90, 160, 110), (150, 80, 170), (40, 40, 60)]


@pytest.fixture
def gallery(owner, member, served_media):
    catalog_loaded()
    now = timezone.now()
    filler = [image_make(owner, prompt=f"study {n} of a quiet street, pencil sketch", color=COLOURS[n % 6],
                         created_at=now - timedelta(hours=2, minutes=n)) for n in range(36)]
    lighthouse = image_make(owner, prompt="a lighthouse on a cliff, stormy sea, watercolor painting",
                            negative_prompt="blurry", color=(70, 110, 150), size=(64, 64), index=True,
                            recipe={"subject": "a lighthouse on a cliff, stormy sea", "modifiers": ["watercolor"]})
    remix = image_make(member, prompt="a red lighthouse on a cliff at golden hour, watercolor painting",
                       remix_of=lighthouse, color=(200, 90, 60), size=(64, 64), index=True)
    image_make(owner, prompt="a red lighthouse on a cliff at golden hour, watercolor painting, night",
               remix_of=remix, color=(30, 40, 90), size=(64, 64))
    image_make(owner, prompt="a lighthouse on a cliff, stormy sea, watercolor painting", mode="variation",
               parent=lighthouse, color=(80, 120, 160), size=(64, 64))
    image_make(owner, prompt="a hidden lighthouse", hidden=True, index=True)
    ship = image_make(owner, prompt="a sailing ship in a storm, oil painting", color=(50, 70, 90), index=True)
    return {"lighthouse": lighthouse, "remix": remix, "ship": ship, "filler": filler}


def test_browse_search_open_like_lineage(page, shot, live_server, gallery, member):
    log_in(page, member, live_server)
    page.goto("/gallery")
    grid = page.get_by_test_id("gallery-grid")
    cards = grid.get_by_test_id("gallery-card")
    assert cards.count() == 30
    page.wait_for_function("document.querySelectorAll('[data-blurhash][data-painted]').length >= 30")
    shot("gallery", full_page=False)

    # infinite scroll: the next page arrives when the end of the grid comes into view
    page.mouse.wheel(0, 20000)
    page.wait_for_function("document.querySelectorAll('[data-testid=gallery-card]').length > 30")
    total = Image.objects.filter(visibility="public", hidden=False).count()
    page.wait_for_function(f"document.querySelectorAll('[data-testid=gallery-card]').length === {total}")
    assert page.locator("a[data-next]").count() == 0
    page.evaluate("window.scrollTo(0, 0)")
    cards.nth(2).hover()
    shot("gallery-scrolled")

    # search, hybrid by default; the hidden lighthouse never shows
    page.get_by_label("Search the gallery").fill("lighthouse")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url("**/gallery?q=lighthouse*")
    found = [int(v) for v in cards.evaluate_all("cards => cards.map(c => c.dataset.imageId)")]
    assert found and found[0] in (gallery["lighthouse"].pk, gallery["remix"].pk)
    assert gallery["ship"].pk not in found[:2]
    assert not Image.objects.filter(pk__in=found, hidden=True).exists()
    shot("gallery-search")

    # filters: by modifier (from the index) and "has remixes", shown as removable chips
    page.goto("/gallery?modifier=watercolor&has_remixes=1")
    found = [int(v) for v in cards.evaluate_all("cards => cards.map(c => c.dataset.imageId)")]
    assert found == [gallery["remix"].pk, gallery["lighthouse"].pk]  # newest first
    assert page.locator(".g-chips .chip").count() == 2
    shot("gallery-filters", full_page=False)

    # open the lighthouse
    page.locator(f'[data-image-id="{gallery["lighthouse"].pk}"] a.g-card-link').click()
    page.wait_for_url(f"**/i/{gallery['lighthouse'].pk}")
    assert "a lighthouse on a cliff" in page.get_by_test_id("image-prompt").inner_text()
    assert page.locator('a.chip[href="/book/medium/watercolor"]').count() == 1
    main = page.get_by_test_id("image-main")
    assert main.evaluate("img => img.naturalWidth") == 768  # the enlarged display copy, not 64 px
    assert main.evaluate("img => getComputedStyle(img).imageRendering") in ("auto", "smooth")
    shot("image-page", full_page=False)

    # like: toggles in place, the count follows, and it sticks
    like = page.get_by_test_id("like-button")
    like.click()
    page.wait_for_function("document.querySelector('[data-testid=like-button]').getAttribute('aria-pressed') === 'true'")
    assert page.get_by_test_id("like-count").inner_text().strip() == "1"
    assert Like.objects.filter(user=member, image=gallery["lighthouse"]).exists()
    page.reload()
    assert page.get_by_test_id("like-button").get_attribute("aria-pressed") == "true"
    page.get_by_test_id("like-button").click()
    page.wait_for_function("document.querySelector('[data-testid=like-button]').getAttribute('aria-pressed') === 'false'")
    assert page.get_by_test_id("like-count").inner_text().strip() == "0"

    # lineage: the remix tree two levels deep, each with its prompt diff
    lineage = page.get_by_test_id("lineage")
    lineage.scroll_into_view_if_needed()
    nodes = page.get_by_test_id("remix-node")
    assert nodes.count() == 2
    diff = page.get_by_test_id("prompt-diff").first
    assert "red" in diff.locator("ins").all_inner_texts()[0]
    assert "stormy sea" in " ".join(diff.locator("del").all_inner_texts())
    lineage.screenshot(path=str(shot_path("image-lineage")))

    # the remix says where it came from
    page.get_by_test_id("remix-node").first.locator("a").first.click()
    page.wait_for_url(f"**/i/{gallery['remix'].pk}")
    assert f"#{gallery['lighthouse'].pk}" in page.get_by_test_id("remixed-from").inner_text()
    shot("image-remix", full_page=False)
    page.emulate_media(color_scheme="dark")
    page.goto(f"/i/{gallery['lighthouse'].pk}")
    shot("image-page-dark")


def shot_path(name: str):
    from tests.e2e.conftest import SHOTS

    SHOTS.mkdir(parents=True, exist_ok=True)
    return SHOTS / f"{name}.png"


def test_owner_sees_hidden_banner_and_settings_phone_size(page, shot, live_server, owner, served_media):
    hidden = image_make(owner, prompt="a harbour at dawn", hidden=True, hidden_reason="Hidden after a report: Spam.",
                        size=(64, 64), color=(120, 150, 190))
    log_in(page, owner, live_server)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"/i/{hidden.pk}")
    assert "Spam" in page.get_by_test_id("hidden-banner").inner_text()
    assert page.get_by_test_id("owner-panel").get_attribute("open") is not None  # opened for the owner
    assert page.get_by_test_id("like-button").count() == 0 and page.get_by_test_id("remix-button").count() == 0
    shot("image-hidden-owner-phone")
    page.goto("/gallery")
    shot("gallery-empty-phone")


def test_collection_and_profile_pages(page, shot, live_server, owner, member, served_media):
    from gallery.models import Collection, CollectionItem

    collection = Collection.objects.create(owner=member, title="Lighthouses I like",
                                           description="Storms, cliffs and a little red.")
    for n in range(5):
        image = image_make(owner, prompt=f"lighthouse {n}", color=COLOURS[n], size=(64, 64))
        CollectionItem.objects.create(collection=collection, image=image)
    log_in(page, member, live_server)
    page.goto(f"/c/{collection.pk}")
    assert page.get_by_test_id("collection-title").inner_text() == "Lighthouses I like"
    shot("collection")
    page.goto("/u/member")
    assert page.get_by_test_id("collection-card").count() == 1
    shot("profile")
    page.goto("/import")
    shot("import")


def test_remix_opens_the_builder_prefilled(page, shot, live_server, owner, member, served_media):
    catalog_loaded()
    source = image_make(owner, prompt="A lighthouse on a cliff, watercolor painting, golden hour lighting",
                        negative_prompt="blurry", seed=4321, size=(64, 64),
                        recipe={"subject": "a lighthouse on a cliff", "modifiers": ["watercolor", "golden-hour:1.2"],
                                "dialect": "sd"})
    log_in(page, member, live_server)
    page.goto(f"/i/{source.pk}")
    page.get_by_test_id("remix-button").click()
    page.wait_for_url("**/create?*")
    assert f"remix_of={source.pk}" in page.url
    assert f"#{source.pk}" in page.get_by_test_id("remix-banner").inner_text()
    assert page.get_by_label("Subject", exact=True).input_value() == "a lighthouse on a cliff"
    assert page.locator("#negative").input_value() == "blurry"
    assert page.locator("#seed").input_value() == "4321"
    chosen = page.locator("[data-chosen]").inner_text()
    assert "Watercolor" in chosen and "Golden hour" in chosen
    shot("remix-builder-prefilled")


# -- the whole remix flow, with a real worker and the embedded model ------------------------------


@pytest.fixture
def worker(tmp_path, media_root, live_server):
    extra = {"MEDIA_ROOT": str(media_root), "GENERATION_MODEL": settings.GENERATION_MODEL,
             "ATELIER_BROKER_DIR": str(settings.BROKER_DIR)}
    with running_worker(env=subprocess_env(extra=extra), name="e2e-gallery", tmp_path=tmp_path) as w:
        yield w


@pytest.mark.worker
def test_search_open_remix_generate_lineage(page, shot, live_server, owner, member, served_media, need_weights,
                                           worker):
    catalog_loaded()
    source = image_make(owner, prompt="A lighthouse on a cliff, watercolor painting", size=(64, 64), index=True,
                        recipe={"subject": "a lighthouse on a cliff", "modifiers": ["watercolor"]})
    log_in(page, member, live_server)
    page.goto("/gallery?q=lighthouse")
    page.locator(f'[data-image-id="{source.pk}"] a.g-card-link').click()
    page.wait_for_url(f"**/i/{source.pk}")
    page.get_by_test_id("remix-button").click()
    page.wait_for_url("**/create?*")
    assert f"remix_of={source.pk}" in page.url
    page.get_by_test_id("remix-banner").wait_for()
    page.get_by_label("Subject", exact=True).fill("a red lighthouse on a cliff")
    shot("remix-builder")
    page.locator("[data-generate]").click()
    page.wait_for_url("**/jobs/*")
    page.get_by_test_id("result").first.wait_for(timeout=180_000)
    page.get_by_test_id("result").first.locator("a").first.click()
    page.wait_for_url("**/i/*")
    assert f"#{source.pk}" in page.get_by_test_id("remixed-from").inner_text()
    shot("remix-result")
    page.goto(f"/i/{source.pk}")
    tree = page.get_by_test_id("remix-tree")
    assert tree.get_by_test_id("remix-node").count() >= 1
    assert "red" in " ".join(tree.locator("ins").all_inner_texts())
    source.refresh_from_db()
    assert source.remix_count >= 1
    shot("remix-tree")
