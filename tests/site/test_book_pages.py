"""The prompt book's pages: contents, chapters, search, one page per modifier, and a crawl."""

import re
from urllib.parse import urldefrag, urlparse

import pytest
from django.urls import resolve
from django.utils.html import escape

from generation.models import Image
from prompts.book import book_get
from prompts.selectors import catalog_get
from prompts.services import catalog_load


@pytest.fixture
def loaded(db):
    catalog_load()
    return catalog_get()


def test_contents_lists_chapters_and_the_modifier_index(client, loaded, django_assert_max_num_queries):
    with django_assert_max_num_queries(3):
        response = client.get("/book")
    assert response.status_code == 200
    html = response.content.decode()
    for chapter in book_get().chapters:
        assert f'href="{chapter.url}"' in html
    for category in loaded.categories:
        assert f'id="category-{category.slug}"' in html
    assert html.count('href="/book/medium/') == len(loaded.category("medium").modifiers)


def test_every_chapter_renders_with_anchors_examples_and_try_it(client, loaded):
    book = book_get()
    for chapter in book.chapters:
        response = client.get(chapter.url)
        assert response.status_code == 200, chapter.slug
        html = response.content.decode()
        assert f"<h1>{escape(chapter.title)}</h1>" in html
        assert 'class="heading-anchor"' in html
        if "```prompt" in chapter.body:
            assert 'data-testid="try-it"' in html and 'href="/create?' in html
        previous, following = book.neighbours(chapter.slug)
        if following:
            assert f'href="{following.url}" rel="next"' in html
        if previous:
            assert f'href="{previous.url}" rel="prev"' in html


def test_chapter_examples_show_findings_at_their_spans(client, loaded):
    html = client.get("/book/how-it-works").content.decode()
    # "with no clouds" is a negation: highlighted, and explained below.
    assert re.search(r'<mark class="lint lint-warning"[^>]*>[^<]*no clouds', html)
    assert "finding-message" in html
    # Steps blocks are there, waiting for their strips.
    assert html.count('class="strip strip-steps"') == 3


def test_modifier_pages_exist_for_every_modifier(client, loaded):
    assert len(loaded) == 406
    for modifier in loaded:
        response = client.get(f"/book/{modifier.category}/{modifier.slug}")
        assert response.status_code == 200, modifier.slug
        html = response.content.decode()
        assert f'<code class="fragment">{escape(modifier.fragment)}</code>' in html
        if modifier.embedded:
            assert 'data-testid="swatch-missing"' in html, modifier.slug  # nothing built in this test
        else:
            assert "not known to the embedded model" in html, modifier.slug


def test_modifier_page_shows_notes_conflicts_and_grids(client, loaded):
    kusama = client.get("/book/artist/yayoi-kusama").content.decode()
    assert "is a living artist" in kusama
    booster = client.get("/book/detail/4k").content.decode()
    assert "An untested booster" in booster
    golden = client.get("/book/lighting/golden-hour").content.decode()
    assert 'data-testid="kelvin"' in golden and "about 3500 K" in golden
    # Conflicts hold both ways and link to their pages.
    assert 'href="/book/lighting/blue-hour"' in golden
    serene = client.get("/book/mood/serene").content.decode()
    assert 'data-testid="mood-grid"' in serene and 'class="here"' in serene
    assert 'href="/create?subject=' in serene and "&m=serene" in serene.replace("&amp;", "&")


def test_modifier_page_shows_top_and_newest_gallery_examples(client, loaded, owner):
    from gallery.models import ImageModifier

    images = []
    for i in range(3):
        image = Image.objects.create(owner=owner, file=f"images/x{i}.png", thumb_small=f"images/x{i}-256.webp",
                                     width=64, height=64, prompt=f"a fox, watercolor painting {i}",
                                     like_count=i)
        ImageModifier.objects.create(image=image, slug="watercolor", category="medium")
        images.append(image)
    hidden = Image.objects.create(owner=owner, file="images/h.png", width=64, height=64, prompt="hidden", hidden=True)
    ImageModifier.objects.create(image=hidden, slug="watercolor", category="medium")
    html = client.get("/book/medium/watercolor").content.decode()
    top = html.split('data-testid="examples-top"')[1].split("</div>")[0]
    assert [int(i) for i in re.findall(r'href="/i/(\d+)"', top)] == [images[2].pk, images[1].pk, images[0].pk]
    assert f'href="/i/{hidden.pk}"' not in html
    assert 'data-testid="examples-new"' in html
    assert "No public image uses" in client.get("/book/medium/pixel-art").content.decode()


@pytest.mark.parametrize("path, text", [
    ("/book/no-such-category/watercolor", "no category called"),
    ("/book/medium/no-such-modifier", "no modifier called"),
    ("/book/no-such-chapter", "no chapter called"),
])
def test_unknown_pages_are_404_in_the_sites_style(client, loaded, path, text):
    response = client.get(path)
    assert response.status_code == 404
    html = response.content.decode()
    assert text in html and 'class="site-header"' in html and 'action="/book/search"' in html


def test_a_modifier_under_another_category_redirects_to_its_page(client, loaded):
    response = client.get("/book/medium/golden-hour")
    assert response.status_code == 301 and response["Location"] == "/book/lighting/golden-hour"


def test_chapter_and_category_slugs_never_collide():
    """A chapter may share a category's slug (mood): the paths differ in length."""
    catalog_slugs = {"mood", "lighting", "colour"}
    book = book_get()
    assert catalog_slugs <= {c.slug for c in book.chapters}  # the case this guards
    for chapter in book.chapters:
        assert resolve(chapter.url).url_name == "book_chapter"
    assert resolve("/book/mood/serene").url_name == "book_modifier"
    assert resolve("/book/search").url_name == "book_search"
    assert resolve("/book").url_name == "book_index"


def test_search_page(client, loaded):
    html = client.get("/book/search", {"q": "golden hour"}).content.decode()
    assert 'href="/book/lighting/golden-hour"' in html
    assert "<mark>golden</mark>" in html.lower() or "<mark>Golden</mark>" in html
    assert re.search(r'href="/book/lighting#[a-z0-9-]+"', html)
    nasty = client.get("/book/search", {"q": "<script>alert(1)</script>"}).content.decode()
    assert "<script>alert(1)" not in nasty
    assert client.get("/book/search").status_code == 200


def _links(html: str) -> list[str]:
    return re.findall(r'(?:href|src|srcset)="([^"]+)"', html)


def test_crawl_the_book_finds_no_broken_link(client, loaded):
    """From /book, follow every internal link: book pages recursively, others once."""
    seen: dict[str, int] = {}
    pages: dict[str, str] = {}
    queue = ["/book"]
    anchors_to_check: list[tuple[str, str, str]] = []
    while queue:
        url = queue.pop()
        if url in seen:
            continue
        response = client.get(url)
        if response.status_code in (301, 302):
            seen[url] = response.status_code
            queue.append(response["Location"])
            continue
        seen[url] = response.status_code
        assert response.status_code == 200, f"{url} answered {response.status_code}"
        if not url.startswith("/book") or "text/html" not in response.get("Content-Type", ""):
            continue
        html = response.content.decode()
        pages[url] = html
        for link in _links(html):
            target, fragment = urldefrag(link)
            parsed = urlparse(target)
            if parsed.scheme or parsed.netloc or link.startswith("mailto:"):
                continue
            target = target or url
            if target.startswith("/api/") or target.startswith("/accounts/"):
                continue
            if fragment:
                anchors_to_check.append((url, target, fragment))
            queue.append(target)
    assert len([u for u in pages if re.fullmatch(r"/book/[^/]+/[^/]+", u)]) == 406
    for source, target, fragment in anchors_to_check:
        if target in pages:
            assert f'id="{fragment}"' in pages[target], f"{source} links to {target}#{fragment}, which is missing"
