"""The modifier catalog as an immutable in-memory snapshot.

The versioned YAML files in `prompts/catalog/data/` are the source of truth; they are
loaded into the database (`load_catalog`) so operators can edit them in the admin, and
everything that reads the catalog at run time (composer, parser, linter, builder) works
on a `Catalog` snapshot built from the database rows — or straight from the files where
no database is at hand (tests of pure functions, the embedded model's captions).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

DATA_DIR = Path(__file__).resolve().parent / "data"

SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


def term_key(text: str) -> str:
    """The form in which fragments and aliases are compared: case, hyphens and
    spacing do not matter ("Water-Colour" == "water colour")."""
    return " ".join(re.sub(r"[-_\s]+", " ", text.casefold()).split())


@dataclass(frozen=True)
class ModifierEntry:
    slug: str
    name: str
    category: str
    fragment: str
    description: str = ""
    aliases: tuple[str, ...] = ()
    tips: tuple[str, ...] = ()
    conflicts: tuple[str, ...] = ()
    embedded: bool = False
    living: bool = False
    tested: bool = True
    extra: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    @property
    def terms(self) -> tuple[str, ...]:
        """Every text form that names this modifier: fragment, name and aliases."""
        seen: dict[str, None] = {}
        for term in (self.fragment, self.name, *self.aliases):
            if term and term_key(term) not in seen:
                seen[term_key(term)] = None
        return tuple(seen)


@dataclass(frozen=True)
class CategoryEntry:
    slug: str
    name: str
    description: str = ""
    order: int = 0
    modifiers: tuple[ModifierEntry, ...] = ()


class CatalogError(ValueError):
    """The catalog data is inconsistent (duplicate slug, unknown conflict, ...)."""


class Catalog:
    """Categories in menu order, each with its modifiers; lookups by slug and by term."""

    def __init__(self, categories: list[CategoryEntry] | tuple[CategoryEntry, ...]):
        self.categories: tuple[CategoryEntry, ...] = tuple(
            sorted(categories, key=lambda c: (c.order, c.slug))
        )
        self._by_slug: dict[str, ModifierEntry] = {}
        self._categories: dict[str, CategoryEntry] = {}
        for category in self.categories:
            self._categories[category.slug] = category
            for modifier in category.modifiers:
                if modifier.slug in self._by_slug:
                    raise CatalogError(f"duplicate modifier slug {modifier.slug!r}")
                self._by_slug[modifier.slug] = modifier

    # -- lookups -------------------------------------------------------------
    def __contains__(self, slug: str) -> bool:
        return slug in self._by_slug

    def __iter__(self):
        for category in self.categories:
            yield from category.modifiers

    def __len__(self) -> int:
        return len(self._by_slug)

    def get(self, slug: str) -> ModifierEntry | None:
        return self._by_slug.get(slug)

    def category(self, slug: str) -> CategoryEntry | None:
        return self._categories.get(slug)

    @cached_property
    def term_index(self) -> dict[str, str]:
        """term_key(term) → slug, for every fragment, name and alias."""
        index: dict[str, str] = {}
        for modifier in self:
            for term in modifier.terms:
                index.setdefault(term_key(term), modifier.slug)
        return index

    def conflicts_of(self, slug: str) -> frozenset[str]:
        """Conflicts are symmetric: listed on either side, they hold both ways."""
        return self._conflict_map.get(slug, frozenset())

    @cached_property
    def _conflict_map(self) -> dict[str, frozenset[str]]:
        pairs: dict[str, set[str]] = {}
        for modifier in self:
            for other in modifier.conflicts:
                if other in self._by_slug:
                    pairs.setdefault(modifier.slug, set()).add(other)
                    pairs.setdefault(other, set()).add(modifier.slug)
        return {slug: frozenset(others) for slug, others in pairs.items()}

    # -- construction ----------------------------------------------------------
    @classmethod
    def from_files(cls, directory: Path | str | None = None) -> Catalog:
        directory = Path(directory) if directory else DATA_DIR
        categories = []
        for path in sorted(directory.glob("*.yaml")):
            with path.open(encoding="utf-8") as fh:
                data = yaml.safe_load(fh)
            categories.append(_category_from_data(data, source=path.name))
        catalog = cls(categories)
        catalog.validate()
        return catalog

    def validate(self) -> None:
        for modifier in self:
            if not SLUG_RE.match(modifier.slug):
                raise CatalogError(f"modifier slug {modifier.slug!r} is not a slug")
            for other in modifier.conflicts:
                if other not in self._by_slug:
                    raise CatalogError(f"{modifier.slug}: conflict with unknown slug {other!r}")


def _category_from_data(data: dict[str, Any], *, source: str) -> CategoryEntry:
    try:
        meta = data["category"]
        rows = data.get("modifiers") or []
    except (KeyError, TypeError) as exc:
        raise CatalogError(f"{source}: expected keys 'category' and 'modifiers'") from exc
    known = {"slug", "name", "fragment", "description", "aliases", "tips", "conflicts",
             "embedded", "living", "tested"}
    modifiers = []
    for row in rows:
        try:
            modifiers.append(
                ModifierEntry(
                    slug=str(row["slug"]),
                    name=str(row["name"]),
                    category=meta["slug"],
                    fragment=str(row["fragment"]),
                    description=str(row.get("description") or "").strip(),
                    aliases=tuple(str(a) for a in row.get("aliases") or ()),
                    tips=tuple(str(t) for t in row.get("tips") or ()),
                    conflicts=tuple(str(c) for c in row.get("conflicts") or ()),
                    embedded=bool(row.get("embedded", False)),
                    living=bool(row.get("living", False)),
                    tested=bool(row.get("tested", True)),
                    extra={k: v for k, v in row.items() if k not in known},
                )
            )
        except KeyError as exc:
            raise CatalogError(f"{source}: modifier {row!r} lacks {exc}") from exc
    return CategoryEntry(
        slug=str(meta["slug"]),
        name=str(meta["name"]),
        description=str(meta.get("description") or "").strip(),
        order=int(meta.get("order") or 0),
        modifiers=tuple(modifiers),
    )
