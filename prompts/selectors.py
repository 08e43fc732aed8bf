"""Reads for the prompts app."""

from __future__ import annotations

import threading

from django.core.cache import cache
from django.db.models import Q, QuerySet

from prompts.catalog import Catalog, CategoryEntry, ModifierEntry
from prompts.models import Category, Modifier, PolicyRule, Preset, PromptHistory
from prompts.policy import RuleSet, default_ruleset

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


_POLICY_KEY = "prompts:policy-version"
_policy_snapshot: tuple[int, RuleSet] | None = None


def policy_invalidate() -> None:
    try:
        cache.incr(_POLICY_KEY)
    except ValueError:
        cache.set(_POLICY_KEY, 1, timeout=None)
    global _policy_snapshot
    with _lock:
        _policy_snapshot = None


def policy_ruleset_get() -> RuleSet:
    """The enabled policy rules from the database (the admin edits them), compiled and
    cached per process; the bundled files when the table is still empty."""
    global _policy_snapshot
    version = cache.get(_POLICY_KEY) or 0
    current = _policy_snapshot
    if current is not None and current[0] == version:
        return current[1]
    with _lock:
        rows = list(PolicyRule.objects.filter(enabled=True).values_list("category", "term", "match", "rule_id"))
        ruleset = RuleSet.from_rules(rows) if rows else default_ruleset()
        _policy_snapshot = (version, ruleset)
    return ruleset


# -- the builder's presets and history ------------------------------------------------------------

HISTORY_LIMIT = 100


def presets_for_user(*, user) -> QuerySet[Preset]:
    return Preset.objects.filter(owner=user).order_by("name", "id")


def history_for_user(*, user, q: str | None = None, limit: int = HISTORY_LIMIT) -> list[PromptHistory]:
    """The newest entries first; `q` keeps those whose prompt or negative prompt holds it."""
    entries = PromptHistory.objects.filter(owner=user)
    q = (q or "").strip()
    if q:
        entries = entries.filter(Q(prompt__icontains=q) | Q(negative_prompt__icontains=q))
    return list(entries.order_by("-created_at", "-id")[: max(0, min(limit, HISTORY_LIMIT))])
