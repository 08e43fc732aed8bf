"""Reads for the prompts app."""

from __future__ import annotations

import threading

from django.core.cache import cache

from prompts.catalog import Catalog, CategoryEntry, ModifierEntry
from prompts.models import Category, Modifier

_CACHE_KEY = "prompts:catalog-version"
_lock = threading.Lock()
_snapshot: tuple[int, Catalog] | None = None


def catalog_invalidate() -> None:
    """Called after the catalog rows change (load, admin edit): every process rebuilds."""
    try:
        cache.incr(_CACHE_KEY)
    except ValueError:
        cache.set(_CACHE_KEY, 1, timeout=None)
    global _snapshot
    with _lock:
        _snapshot = None


def catalog_get() -> Catalog:
    """The catalog as the database holds it, cached per process until invalidated."""
    global _snapshot
    version = cache.get(_CACHE_KEY) or 0
    current = _snapshot
    if current is not None and current[0] == version:
        return current[1]
    with _lock:
        catalog = _catalog_from_db()
        _snapshot = (version, catalog)
    return catalog


def _catalog_from_db() -> Catalog:
    by_category: dict[int, list[ModifierEntry]] = {}
    categories = list(Category.objects.all())
    slugs = {c.id: c.slug for c in categories}
    for m in Modifier.objects.all().order_by("category__order", "position", "slug"):
        by_category.setdefault(m.category_id, []).append(
            ModifierEntry(
                slug=m.slug,
                name=m.name,
                category=slugs[m.category_id],
                fragment=m.fragment,
                description=m.description,
                aliases=tuple(m.aliases or ()),
                tips=tuple(m.tips or ()),
                conflicts=tuple(m.conflicts or ()),
                embedded=m.embedded,
                living=m.living,
                tested=m.tested,
                extra=dict(m.extra or {}),
            )
        )
    return Catalog(
        [
            CategoryEntry(
                slug=c.slug,
                name=c.name,
                description=c.description,
                order=c.order,
                modifiers=tuple(by_category.get(c.id, ())),
            )
            for c in categories
        ]
    )
