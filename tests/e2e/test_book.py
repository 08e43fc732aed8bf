"""The prompt book and the comparison grid in Chromium, at desktop and phone widths."""

import io
import re

import PIL.Image
import pytest
from django.conf import settings
from django.core.files.storage import default_storage
from django.core.management import call_command

from generation.backends.embedded import WEIGHTS
from generation.models import Image, Job
from prompts.services import catalog_load
from tests.generation.test_swatches import swatch_weights

pytestmark = pytest.mark.e2e

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def book(transactional_db):
    catalog_load()


@pytest.fixture
def logged_in(page, owner, client, live_server):
    client.force_login(owner)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    page.context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie.value, "url": live_server.url}])
    return page


def _no_horizontal_scroll(page):
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 1, f"the page scrolls sideways by {overflow}px"


def test_chapter_try_it_opens_the_builder_prefilled(page, book, shot):
    page.goto("/book/anatomy")
    assert page.get_by_role("heading", level=1).inner_text() == "The anatomy of a prompt"
    shot("book-chapter-desktop", full_page=False)
    # The table of contents jumps to a heading that carries an anchor.
    page.locator(".book-side").get_by_role("link", name="How the builder writes a prompt").click()
    assert page.url.endswith("#how-the-builder-writes-a-prompt")

    example = page.locator("[data-example]").nth(1)
    example.scroll_into_view_if_needed()
    page.mouse.wheel(0, -120)
    shot("book-examples-desktop", full_page=False)
    assert "A crayon drawing of a small red house in a snowy field" in example.inner_text()
    example.get_by_test_id("try-it").click()
    page.wait_for_url("**/create?**")
    assert page.locator("#subject").input_value() == "a small red house"
    assert page.locator("#seed").input_value() == "11"
    chosen = page.locator("[data-chosen]").inner_text()
    for name in ("Snowy field", "Crayon drawing", "Cheerful"):
        assert name in chosen
    shot("book-try-it-builder", full_page=False)


def test_a_raw_example_prefills_the_builder_from_its_text(page, book):
    page.goto("/book/how-it-works")
    example = page.locator("[data-example]", has_text="with no clouds").first
    assert example.locator("mark.lint-warning").count() >= 1
    example.get_by_test_id("try-it").click()
    page.wait_for_url("**/create?**")
    assert "a white boat" in page.locator("#subject").input_value()


def test_an_example_can_be_edited_and_is_rechecked_live(page, book):
    page.goto("/book/anatomy")
    example = page.locator("[data-example]").first  # "a house": vague, nothing highlighted
    example.get_by_role("button", name="Edit and re-check").click()
    editor = example.locator("textarea")
    editor.fill("a boat with no sails")
    example.locator("mark.lint").first.wait_for()
    assert "no sails" in example.locator("mark.lint").first.inner_text()
    assert "sails" in example.locator(".findings").inner_text()
    assert "prompt=a%20boat%20with%20no%20sails" in example.get_by_test_id("try-it").get_attribute("href").replace("+", "%20")


def test_chapter_and_contents_read_well_on_a_phone(page, book, shot):
    page.set_viewport_size(PHONE)
    page.goto("/book/mood")
    _no_horizontal_scroll(page)
    assert not page.locator(".book-side").is_visible()
    page.locator(".book-toc-mobile summary").click()
    assert page.locator(".book-toc-mobile").get_by_role("link", name="The mood grid").is_visible()
    shot("book-chapter-phone", full_page=False)
    page.goto("/book/how-it-works#step-three-noise-into-a-picture")
    assert page.get_by_role("heading", name="Step three: noise into a picture").is_visible()
    shot("book-anchor-phone", full_page=False)
    page.goto("/book")
    _no_horizontal_scroll(page)
    shot("book-contents-phone", full_page=False)
    page.set_viewport_size({"width": 1280, "height": 860})
    page.goto("/book")
    shot("book-contents-desktop", full_page=False)


def test_search_within_the_book(page, book):
    page.goto("/book")
    page.get_by_label("Search the prompt book").first.fill("golden hour")
    page.keyboard.press("Enter")
    page.wait_for_url("**/book/search?q=golden+hour")
    page.get_by_role("link", name=re.compile("Golden hour")).first.click()
    page.wait_for_url("**/book/lighting/golden-hour")


def _show_strip(page):
    strip = page.locator(".strip-steps").first
    strip.scroll_into_view_if_needed()
    if strip.locator("img").count():
        strip.locator("img").evaluate("img => img.decode()")  # lazy: wait until it is loaded


def test_modifier_pages_on_desktop_and_phone(page, book, shot, settings):
    weights = swatch_weights()
    if weights is not None:
        settings.GENERATION_MODEL = "embedded" if weights == WEIGHTS else str(weights)
        # Real weights get enough steps for the screenshots to show real pictures.
        call_command("build_book_swatches", "--steps", "1" if weights.name == "weights-tiny" else "8")
    page.goto("/book/how-it-works")
    _show_strip(page)
    shot("book-steps-desktop", full_page=False)
    page.goto("/book/lighting/golden-hour")
    assert page.get_by_test_id("kelvin").is_visible()
    if weights is not None:
        assert page.get_by_test_id("swatch").locator("img").evaluate("img => img.naturalWidth") > 0
    shot("book-modifier-desktop")
    page.goto("/book/mood/serene")
    assert page.locator(".mood-dot-here").count() == 1
    page.locator("a.mood-dot[aria-label=Idyllic]").click()
    page.wait_for_url("**/book/mood/idyllic")
    page.go_back()
    shot("book-modifier-mood-desktop")
    page.set_viewport_size(PHONE)
    for path, name in (("/book/lighting/golden-hour", "book-modifier-phone"),
                       ("/book/mood/serene", "book-modifier-mood-phone"),
                       ("/book/artist/yayoi-kusama", "book-modifier-living-phone")):
        page.goto(path)
        _no_horizontal_scroll(page)
        shot(name)
    page.goto("/book/how-it-works")
    _show_strip(page)
    shot("book-steps-phone", full_page=False)


def _finish(job, colour):
    picture = PIL.Image.new("RGB", (64, 64), colour)
    buf = io.BytesIO()
    picture.save(buf, format="PNG")
    name = default_storage.save(f"images/e2e/{job.pk}.png", io.BytesIO(buf.getvalue()))
    Job.objects.filter(pk=job.pk).update(state=Job.State.SUCCEEDED)
    return Image.objects.create(job=job, index=0, owner=job.owner, file=name, thumb_small=name, width=64, height=64,
                                prompt=job.prompt, recipe=job.recipe, seed=job.seed)


def test_grid_shows_the_cost_runs_and_shows_the_result(logged_in, book, shot, monkeypatch):
    from generation import grids

    monkeypatch.setattr(grids, "job_enqueue", lambda job_id: None)  # no worker: the cells are finished below
    page = logged_in
    page.goto("/create/grid?subject=a+small+red+house&x=medium")
    page.locator("#grid-y").select_option("mood")
    page.wait_for_url("**y=mood**")
    cost = page.locator("[data-cost]")
    cells = int(cost.locator("[data-cells]").inner_text())
    assert cells == 9 * 5
    shot("grid-form-desktop", full_page=False)
    # Unticking updates the cost before anything runs.
    page.locator("[data-axis=y]").get_by_role("button", name="None").click()
    assert cost.locator("[data-cells]").inner_text() == "0"
    assert page.get_by_test_id("grid-run").is_disabled()
    for mood in ("Serene", "Gloomy"):
        page.locator("[data-axis=y]").get_by_label(mood).check()
    page.locator("[data-axis=x]").get_by_role("button", name="None").click()
    for medium in ("Watercolor", "Pixel art", "Ink drawing"):
        page.locator("[data-axis=x]").get_by_label(medium, exact=True).check()
    assert cost.locator("[data-cells]").inner_text() == "6"
    page.set_viewport_size(PHONE)
    _no_horizontal_scroll(page)
    shot("grid-form-phone", full_page=False)
    page.set_viewport_size({"width": 1280, "height": 860})
    page.get_by_test_id("grid-run").click()
    page.wait_for_url(re.compile(r".*/create/grid/[0-9a-f]{32}$"))
    assert page.locator(".grid-cell").count() == 6
    colours = [(224, 87, 46), (91, 60, 196), (42, 157, 143), (242, 165, 65), (29, 27, 24), (236, 231, 251)]
    for job, colour in zip(Job.objects.order_by("id"), colours, strict=True):
        _finish(job, colour)
    page.reload()
    page.get_by_test_id("grid-sheet").wait_for()
    assert page.locator(".grid-cell a[href^='/i/']").count() == 6
    shot("grid-result-desktop")
    page.set_viewport_size(PHONE)
    shot("grid-result-phone")
