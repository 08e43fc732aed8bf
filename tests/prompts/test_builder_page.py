"""/create without JavaScript: the server renders menus, composes the prompt from the query
string and shows the linter's findings."""

import re
from urllib.parse import parse_qs, urlsplit

import pytest

from prompts.models import Preset, PromptHistory
from prompts.services import catalog_load

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def loaded_catalog(db):
    catalog_load()


def page(client, query=""):
    response = client.get(f"/create{query}")
    assert response.status_code == 200
    return response.content.decode()


def checkbox(html, slug):
    match = re.search(rf'<input class="mod-input" type="checkbox" id="mod-{slug}"[^>]*>', html)
    assert match, f"no menu entry for {slug}"
    return match.group()


def preview_text(html):
    match = re.search(r'<p class="preview-text" data-testid="preview">(.*?)</p>', html, re.S)
    assert match, "no preview on the page"
    return re.sub(r"<[^>]+>", "", match.group(1))


def test_prefilled_state_is_composed_on_the_server(client):
    html = page(client, "?subject=a+fox&m=watercolor,katsushika-hokusai&dialect=plain")
    assert preview_text(html) == "A watercolor painting of a fox, in the style of Katsushika Hokusai"
    assert "checked" in checkbox(html, "watercolor")
    assert "checked" in checkbox(html, "katsushika-hokusai")
    assert "checked" not in checkbox(html, "oil-painting")
    assert 'id="dialect-plain" name="dialect" value="plain" checked' in html
    # chips for the chosen modifiers, menus for all 13 categories, book links
    assert html.count('class="chip chip-accent chosen-chip"') == 2
    assert html.count('class="menu-group"') == 13
    assert html.count('class="mod"') == 406
    assert 'href="/book/medium/watercolor"' in html
    assert 'role="tooltip" id="tip-watercolor"' in html


def test_findings_are_rendered_with_spans_and_fixes(client):
    html = page(client, "?subject=five+red+apples&m=watercolor")
    assert '<mark class="hl hl-warning"' in html and ">five</mark>" in html
    assert 'data-code="counting"' in html
    link = re.search(r'<a class="btn btn-small finding-apply" href="([^"]+)"', html).group(1)
    query = parse_qs(urlsplit(link.replace("&amp;", "&")).query)
    assert query["prompt"] == ["A watercolor painting of a group of red apples"]
    applied = page(client, "?" + urlsplit(link.replace("&amp;", "&")).query)
    assert preview_text(applied) == "A watercolor painting of a group of red apples"
    assert "checked" in checkbox(applied, "watercolor")


def test_form_field_names_work_too(client):
    html = page(client, "?subject=a+lighthouse&modifiers=oil-painting&modifiers=golden-hour:1.2"
                        "&negative_prompt=text&dialect=sd&preview=1")
    assert preview_text(html).startswith("a lighthouse, oil painting")
    assert "(golden hour light:1.2)" in preview_text(html)
    assert 'data-negative-text>text<' in html
    # sd: the chip carries the weight; the menu checkbox is shown checked but not submitted
    assert '<option value="golden-hour:1.2" selected>×1.2</option>' in html
    assert "disabled" in checkbox(html, "golden-hour")


def test_prompt_prefill_is_parsed_into_subject_and_menus(client):
    prompt = "A watercolor painting of a fox in a forest, in the style of Katsushika Hokusai, purple teapots"
    html = page(client, "?" + "prompt=" + prompt.replace(" ", "+").replace(",", "%2C"))
    assert "checked" in checkbox(html, "watercolor")
    assert "checked" in checkbox(html, "forest")
    assert "checked" in checkbox(html, "katsushika-hokusai")
    subject = re.search(r'<textarea id="subject"[^>]*>(.*?)</textarea>', html, re.S).group(1)
    assert subject == "a fox, purple teapots"  # unrecognised phrases stay in the subject


def test_prompt_prefill_reads_parameters(client):
    html = page(client, "?prompt=a+fox+--ar+3:2+--no+text+--seed+77&dialect=midjourney")
    assert 'value="77"' in html
    assert preview_text(html) == "A fox --no text --seed 77"


def test_script_in_subject_is_escaped(client):
    html = page(client, "?subject=%3Cscript%3Ealert(1)%3C/script%3E+fox&m=watercolor")
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; fox" in html
    # the state for builder.js travels in a JSON script element, escaped too
    state = re.search(r'<script id="builder-state" type="application/json">(.*?)</script>', html, re.S).group(1)
    assert "<script>" not in state and "\\u003Cscript\\u003E" in state


def test_bad_query_values_become_form_errors(client):
    html = page(client, "?subject=a+fox&m=watercolor,no-such-modifier&seed=abc&dialect=klingon")
    errors = re.search(r'data-testid="builder-errors">(.*?)</div>', html, re.S).group(1)
    assert "Unknown modifier(s): no-such-modifier" in errors
    assert "seed" in errors and "klingon" in errors
    assert preview_text(html) == "A watercolor painting of a fox"  # the good parts still render


def test_empty_builder_invites_a_subject(client):
    html = page(client)
    assert "Your prompt appears here" in html
    assert 'class="mod-input" type="checkbox" id="mod-watercolor"' in html


def test_logged_out_sees_log_in_to_generate(client):
    html = page(client, "?subject=a+fox")
    assert "Log in to generate" in html
    assert 'formaction="/create/generate"' not in html
    link = re.search(r'href="([^"]+)" data-login-link', html).group(1).replace("&amp;", "&")
    assert urlsplit(link).path == "/accounts/login/"
    assert parse_qs(urlsplit(link).query)["next"] == ["/create?subject=a+fox"]


def test_logged_in_form_posts_to_generate(owner_client):
    html = page(owner_client, "?subject=a+fox")
    assert 'formmethod="post" formaction="/create/generate"' in html
    assert 'name="csrfmiddlewaretoken"' in html


def test_preview_submission_drops_the_csrf_token_from_the_address(owner_client):
    response = owner_client.get("/create?csrfmiddlewaretoken=abc&subject=a+fox&preview=1")
    assert response.status_code == 302
    assert response["Location"] == "/create?subject=a+fox&preview=1"


def test_preview_submission_records_history_for_the_owner(owner_client, owner):
    page(owner_client, "?subject=a+fox&m=watercolor&preview=1")
    page(owner_client, "?subject=a+fox&m=watercolor&preview=1")  # same prompt again: one entry
    entries = list(PromptHistory.objects.filter(owner=owner))
    assert [e.prompt for e in entries] == ["A watercolor painting of a fox"]
    assert entries[0].state["modifiers"] == ["watercolor"]
    page(owner_client, "?subject=a+fox&m=watercolor")  # a prefill alone is not history
    assert PromptHistory.objects.filter(owner=owner).count() == 1


def test_remix_banner_and_keep_seed(client):
    html = page(client, "?subject=a+fox&seed=1234&remix_of=42")
    assert "Remixing" in html and 'href="/i/42"' in html
    assert re.search(r'name="keep_seed" value="1" form="builder" data-keep-seed data-seed="1234" checked', html)
    assert '<input type="hidden" name="remix_of" value="42">' in html
    unchecked = page(client, "?subject=a+fox&seed=1234&remix_of=42&preview=1")
    assert 'id="seed" name="seed"' in unchecked and 'value="1234"' not in unchecked


def test_presets_and_history_render_as_links_for_the_owner(owner_client, owner, outsider):
    Preset.objects.create(owner=owner, name="Misty woodcut", state={"modifiers": ["woodcut", "fog"]})
    Preset.objects.create(owner=outsider, name="Not mine", state={"modifiers": ["watercolor"]})
    PromptHistory.objects.create(owner=owner, prompt="A fox <b>bold</b>", state={"subject": "a fox"})
    html = page(owner_client)
    assert "Misty woodcut" in html and "Not mine" not in html
    assert 'href="/create?m=woodcut%2Cfog"' in html
    assert "A fox &lt;b&gt;bold&lt;/b&gt;" in html


def test_builder_page_query_count_is_bounded(owner_client, owner, django_assert_max_num_queries):
    for i in range(30):
        Preset.objects.create(owner=owner, name=f"preset {i}", state={"modifiers": ["watercolor"]})
        PromptHistory.objects.create(owner=owner, prompt=f"a fox number {i}", state={"subject": f"fox {i}"})
    page(owner_client, "?subject=a+fox&m=watercolor")  # builds the per-process catalog snapshot
    # session, user, presets, history, and the header's credit balance: not one per row
    with django_assert_max_num_queries(7):
        page(owner_client, "?subject=a+fox&m=watercolor,fog&dialect=sd")


def test_token_meter_shows_what_the_model_cuts_off(client):
    subject = "+".join(["a+lighthouse+on+a+cliff%2C"] * 20)
    html = page(client, f"?subject={subject}&m=watercolor")
    assert re.search(r'data-testid="token-meter">\d+ / 64 tokens<', html)
    assert 'class="meter is-over"' in html
    cut = re.search(r'<span class="cutoff-text" data-cutoff-text>(.*?)</span>', html, re.S).group(1)
    assert cut and preview_text(html).endswith(cut)
    assert 'data-code="token_budget"' in html
