"""Prompts API: the catalog, and (with the builder) compose, lint, parse, expand."""

from __future__ import annotations

from ninja import Router, Schema

from prompts.selectors import catalog_get

router = Router(tags=["prompts"])


class ModifierOut(Schema):
    slug: str
    name: str
    fragment: str
    description: str
    aliases: list[str]
    embedded: bool


class CategoryOut(Schema):
    slug: str
    name: str
    modifiers: list[ModifierOut]


class CatalogOut(Schema):
    categories: list[CategoryOut]


@router.get("/modifiers", response=CatalogOut, auth=None, summary="Every category and its modifiers")
def modifiers(request):
    catalog = catalog_get()
    return {
        "categories": [
            {
                "slug": c.slug,
                "name": c.name,
                "modifiers": [
                    {"slug": m.slug, "name": m.name, "fragment": m.fragment, "description": m.description,
                     "aliases": list(m.aliases), "embedded": m.embedded}
                    for m in c.modifiers
                ],
            }
            for c in catalog.categories
        ]
    }
