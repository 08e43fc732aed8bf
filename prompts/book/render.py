"""Chapter Markdown → safe HTML, a table of contents, and structured example blocks.

Chapters are CommonMark with tables (markdown-it-py). Whatever HTML the Markdown
produces is passed through nh3 with a short allow-list, so a chapter can never inject a
script, an event handler or a `javascript:` link, whoever wrote it.

Two fenced directives become structured blocks instead of code:

    ```prompt                        ```steps
    a small red house                prompt: a white boat, watercolor painting
    modifiers: snowy-field, gloomy   seed: 3
    negative: clouds                 ```
    dialect: sd
    seed: 31
    ```

A `prompt` block is composed with the builder's composer when it names modifiers (the
text lines are then the subject), otherwise the text lines are the whole prompt; it is
linted server-side and carries a "Try it" link into the builder. A `steps` block names
a prompt and seed whose denoising steps the site shows as a strip of pictures
(pre-rendered by `build_book_swatches`; this module only describes the block).

The rendered chapter is a sequence of parts: sanitised HTML strings and example
blocks, which templates render with autoescaping.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import secrets
import threading
from dataclasses import dataclass, field, replace
from functools import lru_cache
from urllib.parse import quote, urlencode

import nh3
from markdown_it import MarkdownIt

from prompts.book.chapters import Chapter
from prompts.catalog import Catalog
from prompts.composer import DIALECTS, ComposeError, ModifierChoice, Recipe, recipe_render
from prompts.linter import Finding, LintError, prompt_lint
from prompts.linter.findings import SEVERITIES

BUILDER_URL = "/create"
MAX_SEED = 2**32 - 1

# Element ids the page itself uses; a heading never takes one of them.
_PAGE_IDS = frozenset({"main", "nav-toggle", "toc", "book-search", "book-content", "findings"})

_SANITISER = nh3.Cleaner(
    tags={
        "a", "abbr", "b", "blockquote", "br", "code", "del", "div", "em", "h1", "h2", "h3", "h4", "h5", "h6",
        "hr", "i", "img", "kbd", "li", "ol", "p", "pre", "s", "span", "strong", "sub", "sup", "table", "tbody",
        "td", "th", "thead", "tr", "ul",
    },
    clean_content_tags={"script", "style"},
    attributes={
        "a": {"href", "title", "aria-label"},
        "img": {"src", "alt", "title", "width", "height"},
        "h1": {"id"}, "h2": {"id"}, "h3": {"id"}, "h4": {"id"}, "h5": {"id"}, "h6": {"id"},
        "th": {"style"}, "td": {"style"},
        "ol": {"start"},
        "abbr": {"title"},
    },
    allowed_classes={"a": {"heading-anchor"}, "div": {"table-wrap"}},
    filter_style_properties={"text-align"},
    url_schemes={"http", "https", "mailto"},
    link_rel=None,
)


class BookBlockError(ValueError):
    """A prompt or steps block that cannot be read or composed."""


# -- blocks -------------------------------------------------------------------------------

_PROMPT_KEYS = ("negative", "modifiers", "dialect", "seed")
_KEY_RE = re.compile(r"^(?P<key>[a-z]+):\s*(?P<value>.*)$")


@dataclass(frozen=True)
class PromptSpec:
    """A prompt block as written in the chapter."""

    text: str
    modifiers: tuple[ModifierChoice, ...] = ()
    negative: str = ""
    dialect: str | None = None
    seed: int | None = None


@dataclass(frozen=True)
class Segment:
    """A run of prompt text covered by the same findings (none for plain text)."""

    text: str
    findings: tuple[int, ...] = ()  # 1-based numbers into PromptExample.findings
    severity: str | None = None


@dataclass(frozen=True)
class PromptExample:
    kind = "prompt"
    spec: PromptSpec
    prompt: str = ""
    negative_prompt: str = ""
    segments: tuple[Segment, ...] = ()
    findings: tuple[Finding, ...] = ()
    error: str | None = None
    try_url: str = BUILDER_URL
    number: int = 0  # position among the chapter's blocks, for element ids
    modifier_links: tuple[tuple[str, str], ...] = ()  # (name, book page) per modifier of the recipe

    @property
    def dialect(self) -> str:
        return self.spec.dialect or "plain"


@dataclass(frozen=True)
class StepsExample:
    kind = "steps"
    prompt: str
    seed: int
    error: str | None = None
    number: int = 0

    @property
    def key(self) -> str:
        return steps_key(prompt=self.prompt, seed=self.seed)


@dataclass(frozen=True)
class Html:
    kind = "html"
    html: str


@dataclass(frozen=True)
class TocEntry:
    level: int
    anchor: str
    title: str


@dataclass(frozen=True)
class Section:
    """A stretch of chapter text under one heading (the intro has no anchor): for search."""

    anchor: str
    title: str
    text: str


@dataclass(frozen=True)
class RenderedChapter:
    parts: tuple[Html | PromptExample | StepsExample, ...]
    toc: tuple[TocEntry, ...]

    @property
    def examples(self) -> tuple[PromptExample | StepsExample, ...]:
        return tuple(p for p in self.parts if p.kind != "html")


def steps_key(*, prompt: str, seed: int) -> str:
    """A stable name for the strip of one prompt and seed (shared with the swatch builder)."""
    return hashlib.sha256(f"{prompt.strip()}\n{seed}".encode()).hexdigest()[:16]


def _seed(value: str) -> int:
    if not re.fullmatch(r"\d{1,10}", value.strip()) or int(value) > MAX_SEED:
        raise BookBlockError(f"seed must be a whole number from 0 to {MAX_SEED}, not {value!r}")
    return int(value)


def prompt_block_parse(content: str) -> PromptSpec:
    text_lines: list[str] = []
    values: dict[str, str] = {}
    for line in content.splitlines():
        match = _KEY_RE.match(line.strip())
        if match and match.group("key") in _PROMPT_KEYS:
            values[match.group("key")] = match.group("value").strip()
        elif line.strip():
            text_lines.append(line.strip())
    text = " ".join(text_lines)
    if not text:
        raise BookBlockError("a prompt block needs a line of prompt text")
    modifiers = []
    for item in (values.get("modifiers") or "").split(","):
        item = item.strip()
        if not item:
            continue
        slug, _, weight = item.partition(":")
        try:
            modifiers.append(ModifierChoice(slug=slug.strip(), weight=float(weight) if weight else 1.0))
        except ValueError:
            raise BookBlockError(f"the weight in {item!r} is not a number") from None
    dialect = values.get("dialect") or None
    if dialect is not None and dialect not in DIALECTS:
        raise BookBlockError(f"dialect must be one of {', '.join(DIALECTS)}, not {dialect!r}")
    return PromptSpec(text=text, modifiers=tuple(modifiers), negative=values.get("negative", ""), dialect=dialect,
                      seed=_seed(values["seed"]) if values.get("seed") else None)


def steps_block_parse(content: str) -> StepsExample:
    values: dict[str, str] = {}
    for line in content.splitlines():
        match = _KEY_RE.match(line.strip())
        if match:
            values[match.group("key")] = match.group("value").strip()
        elif line.strip():
            raise BookBlockError(f"a steps block has only 'prompt:' and 'seed:' lines, not {line.strip()!r}")
    if not values.get("prompt"):
        raise BookBlockError("a steps block needs a 'prompt:' line")
    return StepsExample(prompt=values["prompt"], seed=_seed(values.get("seed") or "0"))


def builder_url(spec: PromptSpec) -> str:
    """The builder, prefilled: menus from a recipe, or a raw prompt for it to parse."""
    params: list[tuple[str, str]] = []
    if spec.modifiers:
        params.append(("subject", spec.text))
        params.append(("m", ",".join(c.slug if c.weight == 1 else f"{c.slug}:{c.weight:g}" for c in spec.modifiers)))
    else:
        params.append(("prompt", spec.text))
    if spec.negative:
        params.append(("negative", spec.negative))
    if spec.dialect:
        params.append(("dialect", spec.dialect))
    if spec.seed is not None:
        params.append(("seed", str(spec.seed)))
    return f"{BUILDER_URL}?{urlencode(params, quote_via=quote, safe=',:')}"


_RANK = {severity: rank for rank, severity in enumerate(SEVERITIES)}


def prompt_segments(prompt: str, findings: tuple[Finding, ...]) -> tuple[Segment, ...]:
    """Split the prompt at finding boundaries; each run knows the findings covering it."""
    spans = [(i + 1, f) for i, f in enumerate(findings)
             if f.start is not None and f.end is not None and 0 <= f.start < f.end <= len(prompt)]
    cuts = sorted({0, len(prompt), *(f.start for _, f in spans), *(f.end for _, f in spans)})
    segments: list[Segment] = []
    for start, end in zip(cuts, cuts[1:], strict=False):
        covering = tuple(n for n, f in spans if f.start <= start and end <= f.end)
        severity = min((findings[n - 1].severity for n in covering), key=_RANK.__getitem__, default=None)
        if segments and segments[-1].findings == covering:
            segments[-1] = Segment(segments[-1].text + prompt[start:end], covering, severity)
        else:
            segments.append(Segment(prompt[start:end], covering, severity))
    return tuple(segments)


def prompt_example_build(spec: PromptSpec, *, catalog: Catalog, number: int = 0) -> PromptExample:
    prompt, negative = spec.text, spec.negative
    links = tuple((entry.name, f"/book/{entry.category}/{entry.slug}")
                  for entry in (catalog.get(c.slug) for c in spec.modifiers) if entry is not None)
    if spec.modifiers:
        params = {"seed": spec.seed} if spec.seed is not None and spec.dialect == "midjourney" else {}
        try:
            rendered = recipe_render(
                recipe=Recipe(subject=spec.text, modifiers=spec.modifiers, negative_prompt=spec.negative,
                              params=params),
                dialect=spec.dialect or "plain", catalog=catalog)
        except ComposeError as exc:
            return PromptExample(spec=spec, prompt=spec.text, negative_prompt=spec.negative, error=str(exc),
                                 segments=(Segment(spec.text),), try_url=builder_url(spec), number=number,
                                 modifier_links=links)
        prompt, negative = rendered.prompt, rendered.negative_prompt
    try:
        result = prompt_lint(prompt=prompt, negative_prompt=negative, dialect=spec.dialect, catalog=catalog)
    except LintError as exc:
        return PromptExample(spec=spec, prompt=prompt, negative_prompt=negative, error=str(exc),
                             segments=(Segment(prompt),), try_url=builder_url(spec), number=number,
                             modifier_links=links)
    return PromptExample(spec=spec, prompt=prompt, negative_prompt=negative, findings=result.findings,
                         segments=prompt_segments(prompt, result.findings), try_url=builder_url(spec),
                         number=number, modifier_links=links)


# -- Markdown ---------------------------------------------------------------------------------


def heading_slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", re.sub(r"['’]", "", text.casefold())).strip("-")
    return slug[:60].rstrip("-") or "section"


def _heading_ids(state) -> None:
    """Give every heading a unique id from its text (core rule, after inline parsing)."""
    used: set[str] = set(_PAGE_IDS)
    tokens = state.tokens
    for i, token in enumerate(tokens):
        if token.type != "heading_open":
            continue
        inline = tokens[i + 1]
        title = "".join(child.content for child in inline.children or () if child.type in ("text", "code_inline"))
        base = heading_slug(title)
        anchor, n = base, 2
        while anchor in used:
            anchor, n = f"{base}-{n}", n + 1
        used.add(anchor)
        token.attrSet("id", anchor)
        token.meta = {"title": title}


def _render_heading_close(self, tokens, idx, options, env):
    anchor = tokens[idx - 2].attrGet("id")
    link = f'<a class="heading-anchor" href="#{anchor}" aria-label="Link to this section">#</a>' if anchor else ""
    return f"{link}</{tokens[idx].tag}>\n"


def _render_table_open(self, tokens, idx, options, env):
    return '<div class="table-wrap"><table>\n'


def _render_table_close(self, tokens, idx, options, env):
    return "</table></div>\n"


def _render_fence(self, tokens, idx, options, env):
    token = tokens[idx]
    info = token.info.strip().split(" ", 1)[0] if token.info else ""
    if info in ("prompt", "steps") and "blocks" in env:
        env["blocks"].append((info, token.content))
        return f'<div>{env["marker"]}{len(env["blocks"]) - 1}</div>\n'
    return self.fence_default(tokens, idx, options, env)


@lru_cache(maxsize=1)
def _markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": True}).enable("table")
    md.core.ruler.push("heading_ids", _heading_ids)
    renderer = md.renderer
    renderer.fence_default = renderer.rules["fence"]
    md.add_render_rule("heading_close", _render_heading_close)
    md.add_render_rule("table_open", _render_table_open)
    md.add_render_rule("table_close", _render_table_close)
    md.add_render_rule("fence", _render_fence)
    return md


def markdown_render(text: str) -> str:
    """Markdown → sanitised HTML (directives are left as plain code blocks)."""
    return _SANITISER.clean(_markdown().render(text))


def chapter_render(chapter: Chapter, *, catalog: Catalog) -> RenderedChapter:
    """The chapter as sanitised HTML parts and example blocks, with its table of contents.

    Cached per chapter version and catalog snapshot: the linter and composer read the
    catalog, so a catalog edit re-renders the examples.
    """
    cached = _cache.get(chapter.slug)
    if cached is not None and cached[0] == chapter.digest and cached[1] is catalog:
        return cached[2]
    rendered = _chapter_render(chapter, catalog=catalog)
    with _cache_lock:
        _cache[chapter.slug] = (chapter.digest, catalog, rendered)
    return rendered


_cache: dict[str, tuple[str, Catalog, RenderedChapter]] = {}
_cache_lock = threading.Lock()


def _chapter_render(chapter: Chapter, *, catalog: Catalog) -> RenderedChapter:
    md = _markdown()
    # A fresh marker per render: chapter text cannot forge a block placeholder.
    env = {"blocks": [], "marker": f"book-block-{secrets.token_hex(8)}-"}
    tokens = md.parse(chapter.body, env)
    html = _SANITISER.clean(md.renderer.render(tokens, md.options, env))
    toc = tuple(TocEntry(level=int(t.tag[1]), anchor=t.attrGet("id"), title=t.meta["title"])
                for t in tokens if t.type == "heading_open" and t.tag in ("h2", "h3"))

    parts: list[Html | PromptExample | StepsExample] = []
    pieces = re.split(rf"<div>{re.escape(env['marker'])}(\d+)</div>\n?", html)
    for i, piece in enumerate(pieces):
        if i % 2 == 0:
            if piece.strip():
                parts.append(Html(piece))
            continue
        kind, content = env["blocks"][int(piece)]
        number = int(piece) + 1
        try:
            if kind == "prompt":
                parts.append(prompt_example_build(prompt_block_parse(content), catalog=catalog, number=number))
            else:
                parts.append(replace(steps_block_parse(content), number=number))
        except BookBlockError as exc:
            parts.append(PromptExample(spec=PromptSpec(text=content.strip() or "?"), prompt=content.strip(),
                                       error=str(exc), number=number) if kind == "prompt"
                         else StepsExample(prompt=content.strip(), seed=0, error=str(exc), number=number))
    return RenderedChapter(parts=tuple(parts), toc=toc)


# -- outline: sections, links and steps blocks, without composing or linting ---------------


@dataclass(frozen=True)
class Outline:
    sections: tuple[Section, ...]
    links: tuple[str, ...]
    steps: tuple[StepsExample, ...] = field(default=())


def chapter_outline(chapter: Chapter) -> Outline:
    cached = _outlines.get(chapter.slug)
    if cached is not None and cached[0] == chapter.digest:
        return cached[1]
    outline = _chapter_outline(chapter)
    with _cache_lock:
        _outlines[chapter.slug] = (chapter.digest, outline)
    return outline


_outlines: dict[str, tuple[str, Outline]] = {}


def _chapter_outline(chapter: Chapter) -> Outline:
    tokens = _markdown().parse(chapter.body, {})
    sections: list[Section] = []
    anchor, title, words = "", chapter.title, []
    links: list[str] = []
    steps: list[StepsExample] = []

    def flush():
        text = " ".join(" ".join(words).split())
        if text:
            sections.append(Section(anchor=anchor, title=title, text=text))

    for i, token in enumerate(tokens):
        if token.type == "heading_open":
            flush()
            anchor, title, words = token.attrGet("id"), token.meta["title"], []
        elif token.type == "inline" and not (i and tokens[i - 1].type == "heading_open"):
            for child in token.children or ():
                if child.type in ("text", "code_inline"):
                    words.append(child.content)
                elif child.type == "link_open":
                    links.append(child.attrGet("href") or "")
        elif token.type == "fence":
            info = token.info.strip().split(" ", 1)[0]
            if info == "prompt":
                words.extend(line for line in token.content.splitlines() if not _KEY_RE.match(line.strip()))
            elif info == "steps":
                # A malformed block is reported where the chapter shows it; here it is skipped.
                with contextlib.suppress(BookBlockError):
                    steps.append(steps_block_parse(token.content))
    flush()
    return Outline(sections=tuple(sections), links=tuple(links), steps=tuple(steps))
