"""Writes for the prompts app: loading the catalog, presets, history."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from django.db import transaction

from prompts.catalog import DATA_DIR, Catalog
from prompts.models import CatalogState, Category, Modifier, PolicyRule
from prompts.policy import DATA_DIR as POLICY_DATA_DIR
from prompts.policy import load_rule_file
from prompts.selectors import catalog_invalidate, policy_invalidate


@dataclass(frozen=True)
class CatalogLoadResult:
    created: int
    updated: int
    unchanged: int
    skipped: bool


def _files_digest(directory: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(directory.glob("*.yaml")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


@transaction.atomic
def catalog_load(*, directory: Path | None = None, force: bool = False) -> CatalogLoadResult:
    """Upsert categories and modifiers from the YAML files by slug.

    Idempotent: a second load of the same files changes nothing (and is skipped by digest
    unless `force`). Rows edited in the admin are overwritten only when the files change.
    """
    directory = directory or DATA_DIR
    digest = _files_digest(directory)
    state = CatalogState.objects.select_for_update().first()
    if state and state.digest == digest and not force:
        return CatalogLoadResult(0, 0, Modifier.objects.count(), skipped=True)

    catalog = Catalog.from_files(directory)
    created = updated = unchanged = 0
    for entry in catalog.categories:
        category, _ = Category.objects.update_or_create(
            slug=entry.slug,
            defaults={"name": entry.name, "description": entry.description, "order": entry.order},
        )
        for position, mod in enumerate(entry.modifiers):
            values = {
                "category": category,
                "name": mod.name,
                "fragment": mod.fragment,
                "description": mod.description,
                "aliases": list(mod.aliases),
                "tips": list(mod.tips),
                "conflicts": list(mod.conflicts),
                "embedded": mod.embedded,
                "living": mod.living,
                "tested": mod.tested,
                "extra": mod.extra,
                "position": position,
            }
            existing = Modifier.objects.filter(slug=mod.slug).first()
            if existing is None:
                Modifier.objects.create(slug=mod.slug, **values)
                created += 1
            elif any(getattr(existing, key) != value for key, value in values.items()):
                for key, value in values.items():
                    setattr(existing, key, value)
                existing.save(update_fields=list(values))
                updated += 1
            else:
                unchanged += 1
    if state:
        state.digest = digest
        state.save(update_fields=["digest", "loaded_at"])
    else:
        CatalogState.objects.create(digest=digest)
    transaction.on_commit(catalog_invalidate)
    return CatalogLoadResult(created, updated, unchanged, skipped=False)


@transaction.atomic
def policy_rules_load(*, directory: Path | None = None) -> int:
    """Add the bundled policy terms that the table lacks. Idempotent; rules an admin
    disabled or edited stay as they are. Returns the number of rules added."""
    directory = directory or POLICY_DATA_DIR
    existing = set(PolicyRule.objects.values_list("category", "term"))
    new = []
    for path in sorted(Path(directory).glob("*.yaml")):
        for category, term, kind, rule_id in load_rule_file(path):
            if (category, term) not in existing:
                existing.add((category, term))
                new.append(PolicyRule(category=category, term=term, match=kind, rule_id=rule_id))
    PolicyRule.objects.bulk_create(new, batch_size=500)
    if new:
        transaction.on_commit(policy_invalidate)
    return len(new)
