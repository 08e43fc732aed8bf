"""The prompt book's chapters: loaded from `chapters/NN-slug.md`, ordered by NN.

A chapter file starts with YAML front matter (`title`, `summary`) between `---` lines;
the rest is Markdown. Its URL slug is the file name without the `NN-` prefix and `.md`.
Files are re-read when they change on disk (by name, size and mtime), so editing a
chapter needs no restart.
"""

from __future__ import annotations

import hashlib
import re
import threading
from dataclasses import dataclass
from pathlib import Path

import yaml

from prompts.catalog import SLUG_RE

CHAPTERS_DIR = Path(__file__).resolve().parent / "chapters"

# Paths under /book/ that are pages of their own, so no chapter may take their name.
RESERVED_SLUGS = frozenset({"search"})

_FILE_RE = re.compile(r"^(?P<number>\d{2,3})-(?P<slug>[a-z0-9-]+)\.md$")
_FRONT_MATTER_RE = re.compile(r"\A---[ \t]*\n(?P<meta>.*?)\n---[ \t]*(?:\n|\Z)", re.S)


class BookError(ValueError):
    """A chapter file is malformed (no title, duplicate or reserved slug, ...)."""


@dataclass(frozen=True)
class Chapter:
    slug: str
    number: int
    title: str
    summary: str
    body: str  # the Markdown after the front matter
    digest: str  # of the whole file: a cache key for anything derived from it

    @property
    def url(self) -> str:
        return f"/book/{self.slug}"


@dataclass(frozen=True)
class Book:
    chapters: tuple[Chapter, ...]

    def get(self, slug: str) -> Chapter | None:
        return next((c for c in self.chapters if c.slug == slug), None)

    def neighbours(self, slug: str) -> tuple[Chapter | None, Chapter | None]:
        """(previous, next) in reading order; None at either end."""
        slugs = [c.slug for c in self.chapters]
        i = slugs.index(slug)
        return (self.chapters[i - 1] if i > 0 else None,
                self.chapters[i + 1] if i + 1 < len(self.chapters) else None)


def chapter_parse(*, text: str, filename: str) -> Chapter:
    match = _FILE_RE.match(filename)
    if not match:
        raise BookError(f"{filename}: chapter files are named NN-slug.md")
    slug = match.group("slug")
    if not SLUG_RE.match(slug):
        raise BookError(f"{filename}: {slug!r} is not a slug")
    if slug in RESERVED_SLUGS:
        raise BookError(f"{filename}: the slug {slug!r} is reserved for /book/{slug}")
    front = _FRONT_MATTER_RE.match(text)
    if not front:
        raise BookError(f"{filename}: the file must start with front matter between '---' lines")
    try:
        meta = yaml.safe_load(front.group("meta")) or {}
    except yaml.YAMLError as exc:
        raise BookError(f"{filename}: front matter is not YAML: {exc}") from None
    title = str(meta.get("title") or "").strip() if isinstance(meta, dict) else ""
    if not title:
        raise BookError(f"{filename}: front matter needs a title")
    return Chapter(
        slug=slug,
        number=int(match.group("number")),
        title=title,
        summary=str(meta.get("summary") or "").strip(),
        body=text[front.end():],
        digest=hashlib.sha256(text.encode()).hexdigest()[:16],
    )


def book_load(directory: Path | str | None = None) -> Book:
    directory = Path(directory) if directory else CHAPTERS_DIR
    chapters = [chapter_parse(text=path.read_text(encoding="utf-8"), filename=path.name)
                for path in sorted(directory.glob("*.md"))]
    seen: dict[str, int] = {}
    for chapter in chapters:
        if chapter.slug in seen:
            raise BookError(f"two chapters use the slug {chapter.slug!r}")
        seen[chapter.slug] = chapter.number
    return Book(tuple(sorted(chapters, key=lambda c: (c.number, c.slug))))


_lock = threading.Lock()
_cached: dict[Path, tuple[tuple, Book]] = {}


def book_get(directory: Path | str | None = None) -> Book:
    """The book, re-read only when a chapter file was added, removed or changed."""
    directory = Path(directory) if directory else CHAPTERS_DIR
    stats = [(p.name, p.stat()) for p in sorted(directory.glob("*.md"))]
    signature = tuple((name, st.st_size, st.st_mtime_ns) for name, st in stats)
    current = _cached.get(directory)
    if current is not None and current[0] == signature:
        return current[1]
    with _lock:
        book = book_load(directory)
        _cached[directory] = (signature, book)
    return book


# -- search -------------------------------------------------------------------------------

MAX_QUERY = 200
_WORD_RE = re.compile(r"[\w'’-]+")


@dataclass(frozen=True)
class SectionHit:
    chapter: Chapter
    anchor: str
    title: str
    snippet: str  # plain text around the first match; the template highlights `terms`
    score: int

    @property
    def url(self) -> str:
        return f"{self.chapter.url}#{self.anchor}" if self.anchor else self.chapter.url


@dataclass(frozen=True)
class ModifierHit:
    modifier: object  # prompts.catalog.ModifierEntry
    score: int


@dataclass(frozen=True)
class SearchResult:
    query: str
    terms: tuple[str, ...]
    sections: tuple[SectionHit, ...]
    modifiers: tuple[ModifierHit, ...]

    @property
    def count(self) -> int:
        return len(self.sections) + len(self.modifiers)


def query_terms(query: str) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for word in _WORD_RE.findall(query[:MAX_QUERY].casefold()):
        word = word.strip("'’-")
        if word:
            seen.setdefault(word, None)
    return tuple(seen)


def _snippet(text: str, terms: tuple[str, ...], width: int = 220) -> str:
    lower = text.casefold()
    first = min((i for i in (lower.find(t) for t in terms) if i >= 0), default=0)
    start = max(0, first - width // 3)
    if start:
        start = text.rfind(" ", 0, start) + 1
    end = min(len(text), start + width)
    if end < len(text):
        end = text.rfind(" ", start, end) if text.rfind(" ", start, end) > start else end
    return ("… " if start else "") + text[start:end].strip() + (" …" if end < len(text) else "")


def book_search(*, query: str, book: Book, catalog, limit: int = 40) -> SearchResult:
    """Every chapter section and modifier that contains all the query's words.

    Titles count more than body text; names and aliases more than descriptions. Word
    prefixes match ("water" finds "watercolor"), case does not matter.
    """
    from prompts.book.render import chapter_outline

    terms = query_terms(query)
    if not terms:
        return SearchResult(query=query, terms=(), sections=(), modifiers=())

    sections: list[SectionHit] = []
    for chapter in book.chapters:
        for section in chapter_outline(chapter).sections:
            title = f"{chapter.title} {section.title}".casefold()
            body = section.text.casefold()
            if not all(t in title or t in body for t in terms):
                continue
            phrase = " ".join(terms)
            score = sum(5 * (t in title) + min(body.count(t), 5) for t in terms) + 10 * (phrase in title or phrase in body)
            sections.append(SectionHit(chapter=chapter, anchor=section.anchor, title=section.title,
                                       snippet=_snippet(section.text, terms), score=score))
    modifiers: list[ModifierHit] = []
    for modifier in catalog:
        names = " ".join((modifier.name, modifier.fragment, modifier.slug, *modifier.aliases)).casefold()
        body = " ".join((modifier.description, *modifier.tips)).casefold()
        if not all(t in names or t in body for t in terms):
            continue
        score = sum(10 * (t in names) + (t in body) for t in terms) + 5 * (" ".join(terms) == modifier.name.casefold())
        modifiers.append(ModifierHit(modifier=modifier, score=score))
    sections.sort(key=lambda h: (-h.score, h.chapter.number))
    modifiers.sort(key=lambda h: (-h.score, h.modifier.name.casefold()))
    return SearchResult(query=query, terms=terms, sections=tuple(sections[:limit]),
                        modifiers=tuple(modifiers[:limit]))
