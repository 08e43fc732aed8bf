"""The prompt book's pages: contents, chapters, search, and one page per modifier.

These views sit at the site level because a page draws on three apps: the chapters and
catalog (prompts), the swatch strips (generation) and live examples (gallery).
"""

from __future__ import annotations

import re
from collections import Counter
from urllib.parse import urlencode

from django.shortcuts import redirect, render
from django.utils.html import escape
from django.utils.safestring import mark_safe

from gallery.selectors import images_with_modifier
from generation.swatches import DEFAULT_SUBJECT, SUBJECTS, swatch_manifest_get
from prompts.book import book_get, book_search, chapter_outline, chapter_render
from prompts.book.render import PromptSpec, builder_url
from prompts.composer import ModifierChoice, Recipe, recipe_render
from prompts.selectors import catalog_get

KELVIN_RANGE = (1500, 10000)
MOOD_AXIS = (2, 1, 0, -1, -2)  # valence from bright (top) to dark; energy runs -2..2 left to right
EXAMPLES_PER_LIST = 8


def book_index(request):
    book = book_get()
    catalog = catalog_get()
    return render(request, "book/index.html", {
        "chapters": book.chapters,
        "categories": [c for c in catalog.categories if c.modifiers],
        "modifier_count": len(catalog),
        "known_count": sum(1 for m in catalog if m.embedded),
    })


def chapter_page(request, chapter: str):
    book = book_get()
    found = book.get(chapter)
    if found is None:
        return _not_found(request, f"There is no chapter called “{chapter}”.")
    catalog = catalog_get()
    rendered = chapter_render(found, catalog=catalog)
    manifest = swatch_manifest_get(catalog=catalog)
    parts = [{"part": part, "strip": manifest.denoising_strip(part.key) if manifest and part.kind == "steps" else None}
             for part in rendered.parts]
    previous, following = book.neighbours(found.slug)
    return render(request, "book/chapter.html", {
        "chapter": found, "parts": parts, "toc": rendered.toc, "previous": previous, "next": following,
        "chapters": book.chapters,
    })


def _highlight(text: str, terms: tuple[str, ...]):
    if not terms:
        return escape(text)
    pattern = re.compile("|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True)), re.I)
    out, last = [], 0
    for match in pattern.finditer(text):
        out.append(escape(text[last:match.start()]))
        out.append(f"<mark>{escape(match.group())}</mark>")
        last = match.end()
    out.append(escape(text[last:]))
    return mark_safe("".join(out))  # noqa: S308 - every piece is escaped above


def book_search_page(request):
    query = (request.GET.get("q") or "").strip()[:200]
    result = book_search(query=query, book=book_get(), catalog=catalog_get()) if query else None
    sections = [{"hit": hit, "title": _highlight(f"{hit.chapter.title}" + (f" › {hit.title}" if hit.anchor else ""),
                                                  result.terms),
                 "snippet": _highlight(hit.snippet, result.terms)} for hit in result.sections] if result else []
    modifiers = [{"modifier": hit.modifier, "name": _highlight(hit.modifier.name, result.terms),
                  "description": _highlight(hit.modifier.description, result.terms)}
                 for hit in result.modifiers] if result else []
    return render(request, "book/search.html", {"q": query, "result": result, "sections": sections,
                                                "modifiers": modifiers})


def _not_found(request, message: str):
    return render(request, "book/404.html", {"message": message}, status=404)


def _chapter_for_category(category: str):
    """The chapter that links to this category's modifier pages most often."""
    counts: Counter = Counter()
    prefix = f"/book/{category}/"
    for chapter in book_get().chapters:
        counts[chapter.slug] = sum(1 for href in chapter_outline(chapter).links if href.startswith(prefix))
    slug, n = counts.most_common(1)[0] if counts else (None, 0)
    return book_get().get(slug) if n else None


def _mood_grid(catalog, current) -> dict:
    """The 5×5 valence/energy grid with every mood in its cell, plus the moods next to
    this one and those in the opposite cell (the ones it contradicts)."""
    cells: dict[tuple[int, int], list] = {(v, e): [] for v in MOOD_AXIS for e in sorted(MOOD_AXIS)}
    moods = catalog.category("mood").modifiers if catalog.category("mood") else ()
    for modifier in moods:
        place = modifier.extra.get("mood_grid") or {}
        key = (place.get("valence"), place.get("energy"))
        if key in cells:
            cells[key].append(modifier)
    here = current.extra.get("mood_grid") or {}
    v0, e0 = here.get("valence"), here.get("energy")
    near = [m for (v, e), group in cells.items() if max(abs(v - v0), abs(e - e0)) == 1 for m in group]
    near += [m for m in cells.get((v0, e0), []) if m.slug != current.slug]
    return {
        "rows": [{"valence": v, "cells": [{"energy": e, "moods": cells[(v, e)], "here": (v, e) == (v0, e0)}
                                          for e in sorted(MOOD_AXIS)]} for v in MOOD_AXIS],
        "near": sorted(near, key=lambda m: m.name),
        "opposite": cells.get((-v0, -e0), []),
    }


def _gallery_examples(slug: str) -> dict:
    """Top and newest public gallery images that use the modifier."""
    return {"top": list(images_with_modifier(slug=slug, sort="top", limit=EXAMPLES_PER_LIST)),
            "new": list(images_with_modifier(slug=slug, sort="new", limit=EXAMPLES_PER_LIST))}


def modifier_page(request, category: str, slug: str):
    catalog = catalog_get()
    group = catalog.category(category)
    entry = catalog.get(slug)
    if group is None:
        return _not_found(request, f"The prompt book has no category called “{category}”.")
    if entry is None:
        return _not_found(request, f"There is no modifier called “{slug}” in {group.name}.")
    if entry.category != category:
        return redirect("book_modifier", category=entry.category, slug=slug, permanent=True)

    siblings = list(group.modifiers)
    i = siblings.index(entry)
    subject = SUBJECTS.get(category, DEFAULT_SUBJECT)
    manifest = swatch_manifest_get(catalog=catalog) if entry.embedded else None
    strip = manifest.modifier_strip(slug) if manifest else None
    kelvin = entry.extra.get("kelvin")
    kelvin_pos = None
    if isinstance(kelvin, int | float):
        lo, hi = KELVIN_RANGE
        kelvin_pos = round(100 * (min(max(kelvin, lo), hi) - lo) / (hi - lo), 1)
    example = recipe_render(recipe=Recipe(subject=subject, modifiers=(ModifierChoice(slug),)), dialect="plain",
                            catalog=catalog).prompt
    return render(request, "book/modifier.html", {
        "m": entry,
        "category": group,
        "conflicts": sorted((catalog.get(s) for s in catalog.conflicts_of(slug)), key=lambda e: e.name.casefold()),
        "strip": strip,
        "strip_members": [catalog.get(s) for s in strip.labels] if strip else [],
        "swatch_steps": manifest.steps if manifest else None,
        "examples": _gallery_examples(slug),
        "kelvin": kelvin, "kelvin_pos": kelvin_pos,
        "mood_grid": _mood_grid(catalog, entry) if entry.extra.get("mood_grid") else None,
        "example_prompt": example,
        "subject": subject,
        "try_url": builder_url(PromptSpec(text=subject, modifiers=(ModifierChoice(slug),))),
        "grid_url": "/create/grid?" + urlencode({"x": category, "subject": subject}),
        "previous": siblings[i - 1] if i > 0 else None,
        "next": siblings[i + 1] if i + 1 < len(siblings) else None,
        "chapter": _chapter_for_category(category),
    })
