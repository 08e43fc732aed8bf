"""The prompt book's renderer and chapter loader: safe HTML, anchors, examples, search."""

import pytest

from prompts.book.chapters import (
    RESERVED_SLUGS,
    BookError,
    book_get,
    book_load,
    book_search,
    chapter_parse,
)
from prompts.book.render import (
    BookBlockError,
    builder_url,
    chapter_outline,
    chapter_render,
    markdown_render,
    prompt_block_parse,
    prompt_segments,
    steps_block_parse,
)
from prompts.linter import Finding


def chapter(body: str, *, name: str = "01-test.md", title: str = "A test"):
    return chapter_parse(text=f"---\ntitle: {title}\nsummary: For tests.\n---\n{body}", filename=name)


# -- sanitising ---------------------------------------------------------------------------

HOSTILE = """
# Hello

<script>document.title = "pwned"</script>

<img src="x.png" onerror="alert(1)">

<a href="javascript:alert(2)">click</a> and [a link](javascript:alert(3)) and <a href="/book/anatomy" onclick="evil()">fine</a>

<div style="position:fixed" class="btn">boxed</div><iframe src="https://example.com"></iframe>

<style>body { display: none }</style>

| a | b |
| --- | :-: |
| <b>1</b> | <script>x()</script> |
"""


def test_a_chapter_with_script_renders_it_inert(catalog):
    rendered = chapter_render(chapter(HOSTILE), catalog=catalog)
    html = "".join(p.html for p in rendered.parts if p.kind == "html")
    lowered = html.lower()
    for forbidden in ("<script", "onerror", "onclick", 'href="javascript', "<iframe", "<style", "position:fixed",
                      'class="btn"', "pwned", "display: none"):
        assert forbidden not in lowered, forbidden
    # What is harmless survives.
    assert '<a href="/book/anatomy">fine</a>' in html
    assert '<img src="x.png">' in html
    assert "<table>" in html and '<th style="text-align:center">b</th>' in html
    assert "<b>1</b>" in html


def test_markdown_render_is_sanitised_too():
    assert "<script" not in markdown_render("<script>alert(1)</script>hi")
    html = markdown_render("[a](javascript:alert(1)) [b](JAVASCRIPT:x) [c](data:text/html,x) [d](/book)")
    assert 'href="javascript' not in html.lower() and 'href="data:' not in html
    assert '<a href="/book">d</a>' in html


def test_a_forged_block_marker_stays_text(catalog):
    rendered = chapter_render(chapter("<div>book-block-0000000000000000-0</div>\n\ntext"), catalog=catalog)
    assert [p.kind for p in rendered.parts] == ["html"]


# -- anchors and contents -----------------------------------------------------------------------


def test_headings_get_unique_anchors_and_a_table_of_contents(catalog):
    body = "## What's next\n\ntext\n\n## What's next\n\n### Main\n\n#### Deep\n"
    rendered = chapter_render(chapter(body), catalog=catalog)
    html = rendered.parts[0].html
    assert '<h2 id="whats-next">What\'s next<a class="heading-anchor" href="#whats-next"' in html
    assert 'id="whats-next-2"' in html
    # "main" is the page's own landmark id, so the heading gets another.
    assert 'id="main"' not in html and 'id="main-2"' in html
    assert [(t.level, t.anchor) for t in rendered.toc] == [(2, "whats-next"), (2, "whats-next-2"), (3, "main-2")]


def test_tables_scroll_on_small_screens(catalog):
    html = markdown_render("| a |\n| - |\n| 1 |\n")
    assert html.startswith('<div class="table-wrap"><table>')


# -- prompt and steps blocks ---------------------------------------------------------------------


def test_prompt_block_parses_every_line_kind():
    spec = prompt_block_parse("a small red house\nin the snow\nmodifiers: snowy-field, gloomy:1.2\n"
                              "negative: clouds\ndialect: sd\nseed: 31\n")
    assert spec.text == "a small red house in the snow"
    assert [(c.slug, c.weight) for c in spec.modifiers] == [("snowy-field", 1.0), ("gloomy", 1.2)]
    assert (spec.negative, spec.dialect, spec.seed) == ("clouds", "sd", 31)


@pytest.mark.parametrize("content, message", [
    ("", "needs a line"),
    ("a fox\ndialect: klingon", "dialect must be"),
    ("a fox\nseed: -4", "seed must be"),
    ("a fox\nmodifiers: watercolor:lots", "not a number"),
])
def test_bad_prompt_blocks_are_refused_with_a_reason(content, message):
    with pytest.raises(BookBlockError, match=message):
        prompt_block_parse(content)


def test_steps_block():
    steps = steps_block_parse("prompt: a white boat\nseed: 3\n")
    assert (steps.prompt, steps.seed) == ("a white boat", 3)
    with pytest.raises(BookBlockError):
        steps_block_parse("seed: 3")


def test_an_example_is_composed_linted_and_linked_to_the_builder(catalog):
    body = "Text.\n\n```prompt\na small red house\nmodifiers: snowy-field, crayon-drawing\nseed: 11\n```\n\n" \
           "```prompt\na white boat at the seaside with no clouds\nseed: 3\n```\n"
    rendered = chapter_render(chapter(body), catalog=catalog)
    composed, raw = rendered.examples
    assert composed.prompt == "A crayon drawing of a small red house in a snowy field"
    assert composed.try_url == "/create?subject=a%20small%20red%20house&m=snowy-field,crayon-drawing&seed=11"
    assert composed.modifier_links == (("Snowy field", "/book/setting/snowy-field"),
                                       ("Crayon drawing", "/book/medium/crayon-drawing"))
    # The negation is found, and highlighted at its span.
    negation = [f for f in raw.findings if f.code == "negation"]
    assert negation
    marked = [s for s in raw.segments if s.findings]
    assert "no clouds" in "".join(s.text for s in marked)
    assert "".join(s.text for s in raw.segments) == raw.prompt
    assert raw.try_url == "/create?prompt=a%20white%20boat%20at%20the%20seaside%20with%20no%20clouds&seed=3"


def test_a_broken_example_shows_its_error_instead_of_failing(catalog):
    rendered = chapter_render(chapter("```prompt\na fox\nmodifiers: not-a-modifier\n```\n"), catalog=catalog)
    (example,) = rendered.examples
    assert example.error and "not-a-modifier" in example.error


def test_segments_split_overlapping_findings():
    prompt = "abcdefgh"
    findings = (Finding("a", "info", "A", 0, 4), Finding("b", "warning", "B", 2, 6))
    segments = prompt_segments(prompt, findings)
    assert [(s.text, s.findings, s.severity) for s in segments] == [
        ("ab", (1,), "info"), ("cd", (1, 2), "warning"), ("ef", (2,), "warning"), ("gh", (), None)]


def test_builder_url_for_a_raw_prompt_carries_every_setting():
    spec = prompt_block_parse("a green fish --ar 2:1 --no clouds\ndialect: midjourney\nnegative: rain\nseed: 4")
    assert builder_url(spec) == ("/create?prompt=a%20green%20fish%20--ar%202:1%20--no%20clouds"
                                 "&negative=rain&dialect=midjourney&seed=4")


# -- the shipped chapters -------------------------------------------------------------------------


def test_every_shipped_example_composes_and_names_known_modifiers(catalog):
    book = book_get()
    assert len(book.chapters) >= 10
    for ch in book.chapters:
        for example in chapter_render(ch, catalog=catalog).examples:
            assert example.error is None, (ch.slug, example)


def test_chapter_slugs_never_take_a_reserved_path():
    assert not {c.slug for c in book_get().chapters} & RESERVED_SLUGS
    with pytest.raises(BookError, match="reserved"):
        chapter(body="x", name="20-search.md")


def test_loader_refuses_duplicates_and_missing_titles(tmp_path):
    (tmp_path / "01-a.md").write_text("---\ntitle: A\n---\nx")
    (tmp_path / "02-a.md").write_text("---\ntitle: A again\n---\nx")
    with pytest.raises(BookError, match="two chapters"):
        book_load(tmp_path)
    (tmp_path / "02-a.md").unlink()
    (tmp_path / "03-b.md").write_text("no front matter")
    with pytest.raises(BookError, match="front matter"):
        book_load(tmp_path)


def test_neighbours_give_reading_order():
    book = book_get()
    first, second = book.chapters[0], book.chapters[1]
    assert book.neighbours(first.slug) == (None, second)
    assert book.neighbours(second.slug)[0] == first
    assert book.neighbours(book.chapters[-1].slug)[1] is None


# -- search -----------------------------------------------------------------------------------


def test_search_finds_sections_and_modifiers(catalog):
    result = book_search(query="golden hour", book=book_get(), catalog=catalog)
    assert result.modifiers[0].modifier.slug == "golden-hour"
    assert any(hit.chapter.slug == "lighting" for hit in result.sections)
    hit = result.sections[0]
    assert hit.url.startswith(f"/book/{hit.chapter.slug}")
    # Every anchor search links to is a heading the page really has.
    anchors = {t.anchor for t in chapter_render(hit.chapter, catalog=catalog).toc}
    assert all(h.anchor in anchors or not h.anchor for h in result.sections if h.chapter == hit.chapter)


def test_search_matches_aliases_and_needs_every_word(catalog):
    assert "watercolor" in [h.modifier.slug for h in book_search(query="aquarelle", book=book_get(),
                                                                 catalog=catalog).modifiers]
    assert book_search(query="golden zzqxv", book=book_get(), catalog=catalog).count == 0
    assert book_search(query="   ", book=book_get(), catalog=catalog).count == 0


def test_outline_collects_links_and_steps():
    outline = chapter_outline(book_get().get("how-it-works"))
    assert len(outline.steps) == 3
    assert "/book/limitations" in outline.links
