"""The prompt builder in Chromium: menus, live preview and advice, fixes, Copy, dialects and
weights, presets, history, Generate."""

import re

import pytest
from playwright.sync_api import expect

from prompts.services import catalog_load
from tests.e2e.conftest import SHOTS

pytestmark = pytest.mark.e2e


@pytest.fixture(autouse=True)
def loaded_catalog(transactional_db):
    catalog_load(force=True)


@pytest.fixture(scope="module", autouse=True)
def warm_engines():
    """The live server runs in this process: load the tokenizer and the model's limits once,
    so the first preview is not seconds late."""
    from generation.backends import backend_limits
    from prompts.tokens import token_count

    token_count(text="a fox", model="embedded")
    backend_limits()


def preview(page):
    return page.get_by_test_id("preview")


def choose(page, slug):
    page.locator(f"label[for='mod-{slug}']").click()


def log_in(page, user):
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_test_id("credits-badge")).to_be_visible()


def test_menus_preview_advice_fix_copy_and_weights(page, shot):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.goto("/create")
    expect(preview(page)).to_contain_text("Your prompt appears here")
    expect(page.get_by_role("link", name="Log in to generate")).to_be_visible()

    page.get_by_label("Subject", exact=True).fill("five red apples")
    choose(page, "watercolor")
    expect(preview(page)).to_have_text("A watercolor painting of five red apples")
    expect(page.locator(".chosen-chip", has_text="Watercolor")).to_be_visible()
    expect(page.locator("[data-testid=token-meter]")).to_have_text(re.compile(r"^\d+ / 64 tokens$"))

    # the linter's finding, marked at its span, with a one-click fix
    counting = page.locator(".finding[data-code=counting]")
    expect(counting).to_contain_text("Exact counts above one are unreliable")
    expect(preview(page).locator("mark.hl-warning")).to_have_text("five")
    shot("builder-advice")
    counting.get_by_role("button").click()
    expect(preview(page)).to_have_text("A watercolor painting of a group of red apples")
    expect(page.get_by_label("Subject", exact=True)).to_have_value("a group of red apples")
    expect(page.locator(".finding[data-code=counting]")).to_have_count(0)

    # the filter finds an artist in a closed group; the description shows on keyboard focus
    page.get_by_label("Filter modifiers").fill("hokusai")
    entry = page.locator(".mod[data-slug=katsushika-hokusai]")
    expect(entry).to_be_visible()
    expect(page.locator(".mod[data-slug=watercolor]")).to_be_hidden()
    page.get_by_label("Filter modifiers").press("Tab")  # the Artist group's heading
    page.keyboard.press("Tab")
    expect(page.locator("#mod-katsushika-hokusai")).to_be_focused()
    expect(page.locator("#tip-katsushika-hokusai")).to_be_visible()
    expect(entry.get_by_role("link")).to_have_attribute("href", "/book/artist/katsushika-hokusai")
    page.keyboard.press("Space")
    expect(preview(page)).to_have_text(
        "A watercolor painting of a group of red apples, in the style of Katsushika Hokusai")
    page.get_by_label("Filter modifiers").fill("")
    page.locator(".mod[data-slug=oil-painting] label").hover()
    expect(page.locator("#tip-oil-painting")).to_be_visible()

    # Copy puts the prompt on the clipboard
    page.get_by_role("button", name="Copy").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == (
        "A watercolor painting of a group of red apples, in the style of Katsushika Hokusai")

    # sd: tags with weights; the chip gets a weight control
    page.locator("label[for=dialect-sd]").click()
    expect(preview(page)).to_have_text("a group of red apples, watercolor painting, Katsushika Hokusai")
    page.get_by_label("Weight of Watercolor").select_option("1.3")
    expect(preview(page)).to_have_text("a group of red apples, (watercolor painting:1.3), Katsushika Hokusai")
    page.get_by_label("Negative prompt").fill("blurry, text")
    expect(page.locator("[data-negative-text]")).to_have_text("blurry, text")
    # the address keeps the recipe, for reloads and sharing
    expect(page).to_have_url(re.compile(r"m=watercolor%3A1\.3%2Ckatsushika-hokusai"))
    shot("builder-sd")

    page.reload()
    expect(preview(page)).to_have_text("a group of red apples, (watercolor painting:1.3), Katsushika Hokusai")
    page.get_by_role("button", name="Remove Watercolor").click()
    expect(preview(page)).to_have_text("a group of red apples, Katsushika Hokusai")
    expect(page.locator("#mod-watercolor")).not_to_be_checked()


def test_negation_moves_to_the_negative_prompt(page):
    page.goto("/create?subject=a+cat+without+a+collar&m=oil-painting")
    finding = page.locator(".finding[data-code=negation]")
    expect(finding).to_be_visible()
    finding.get_by_role("button").click()
    expect(preview(page)).to_have_text("An oil painting of a cat")
    expect(page.get_by_label("Negative prompt")).to_have_value("collar")


def test_presets_history_and_generate(page, shot, make_user):
    user = make_user("hokusai")
    log_in(page, user)
    page.goto("/create?subject=a+fox&m=woodcut,fog")
    expect(preview(page)).to_contain_text("fox")
    page.get_by_role("button", name="Copy").click()  # copying remembers the prompt at once

    # save the modifiers as a preset, change them, apply it again
    page.locator("[data-presets-panel] summary").click()
    page.get_by_label("Preset name").fill("Misty woodcut")
    page.get_by_role("button", name="Save preset").click()
    expect(page.locator("[data-preset-list] .recipe-link")).to_have_text(["Misty woodcut"])
    page.locator("[data-presets-panel] summary").click()
    page.get_by_role("button", name="Remove Thick fog").click()
    page.get_by_label("Subject", exact=True).fill("a lighthouse")
    expect(page.locator(".chosen-chip")).to_have_count(1)
    page.locator("[data-presets-panel] summary").click()
    page.get_by_role("link", name="Misty woodcut").click()
    expect(page.locator(".chosen-chip")).to_have_count(2)
    expect(page.get_by_label("Subject", exact=True)).to_have_value("a lighthouse")  # presets keep the subject

    # history: composed prompts are remembered; search and restore one
    page.get_by_role("button", name="Copy").click()
    page.locator("[data-history-panel] summary").click()
    items = page.locator("[data-history-list] .history-item")
    expect(items.first).to_contain_text("lighthouse")
    page.get_by_label("Search history").fill("fox")
    expect(items).to_have_count(1)
    expect(items.first).to_contain_text("fox")
    shot("builder-history")
    items.first.click()
    expect(page.get_by_label("Subject", exact=True)).to_have_value("a fox")
    expect(page.locator(".chosen-chip")).to_have_count(2)
    expect(page.locator("[data-history-panel]")).not_to_have_attribute("open", "")

    # Generate posts the form (with the chips' modifiers) to /create/generate
    page.get_by_role("button", name="Generate").click()
    expect(page).to_have_url(re.compile(r"/jobs/\d+$"))
    expect(page.locator("h1")).to_contain_text("fox")


def test_phone_and_dark(page, shot):
    page.set_viewport_size({"width": 390, "height": 844})
    page.emulate_media(color_scheme="dark")
    page.goto("/create?subject=a+lighthouse+on+a+cliff&m=oil-painting,golden-hour,serene&dialect=plain&remix_of=7&seed=42")
    expect(page.get_by_test_id("remix-banner")).to_contain_text("Remixing image #7")
    expect(preview(page)).to_contain_text("An oil painting of a lighthouse")
    keep = page.get_by_label("Keep seed 42")
    expect(keep).to_be_checked()
    keep.uncheck()
    expect(page.locator("#seed")).to_have_value("")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing sticks out sideways
    shot("builder-phone-dark")
    shot("builder-phone-dark-top", full_page=False)
    page.locator(".preview-card").scroll_into_view_if_needed()
    shot("builder-phone-dark-preview", full_page=False)


def test_wide_light_screenshot(page, shot):
    page.set_viewport_size({"width": 1440, "height": 1000})
    page.goto("/create?subject=five+red+apples+without+stems&m=watercolor,katsushika-hokusai,golden-hour&negative=blurry")
    expect(page.locator(".finding")).not_to_have_count(0)
    shot("builder-desktop", full_page=False)
    shot("builder-desktop-full")
    page.emulate_media(color_scheme="dark")
    page.locator(".mod[data-slug=oil-painting] label").hover()
    shot("builder-desktop-dark", full_page=False)


def test_works_without_javascript(browser, live_server):
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False,
                                  viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        page.goto("/create?subject=five+red+apples&m=watercolor")
        expect(preview(page)).to_have_text("A watercolor painting of five red apples")
        expect(page.locator("mark.hl-warning")).to_have_text("five")
        # tick another modifier and ask the server for the preview
        page.locator("details[data-category=artist] > summary").click()
        page.locator("label[for=mod-katsushika-hokusai]").click()
        page.get_by_role("button", name="Preview").click()
        expect(preview(page)).to_have_text("A watercolor painting of five red apples, in the style of Katsushika Hokusai")
        expect(page).not_to_have_url(re.compile("csrfmiddlewaretoken"))
        # a fix is a link that reopens the builder with the edited prompt parsed into the menus
        page.locator(".finding[data-code=counting] .finding-apply").click()
        expect(preview(page)).to_have_text(
            "A watercolor painting of a group of red apples, in the style of Katsushika Hokusai")
        expect(page.locator("#mod-katsushika-hokusai")).to_be_checked()
        # sd: weights through the chips' selects
        page.locator("label[for=dialect-sd]").click()
        page.get_by_role("button", name="Preview").click()
        page.get_by_label("Weight of Watercolor").select_option("watercolor:1.4")
        page.get_by_role("button", name="Preview").click()
        expect(preview(page)).to_contain_text("(watercolor painting:1.4)")
        SHOTS.mkdir(parents=True, exist_ok=True)  # `shot` drives the JavaScript page; this one has none
        page.screenshot(path=str(SHOTS / "builder-nojs.png"), full_page=True)
    finally:
        context.close()
