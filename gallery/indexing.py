"""Keeping the search index current: one ImageSearch row (and its ImageModifier rows) per
image, written from the image's prompt, recipe and author.

`images_index` is idempotent: running it twice, or after a crash halfway, leaves the same
rows. Embeddings are computed only for prompts that changed, outside the transaction;
the writes happen in one short transaction per batch with the images' rows locked, so two
indexers of the same image take turns instead of counting its words twice.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass

from django.db import transaction

from gallery.embeddings import texts_embed, vector_pack, vectors_unpack
from gallery.models import ImageModifier, ImageSearch
from gallery.search.vectors import ivf_index_get, ivf_rows_write
from gallery.search.vocabulary import vocabulary_apply, vocabulary_words
from generation.models import Image
from prompts.catalog import Catalog
from prompts.parser import prompt_parse
from prompts.selectors import catalog_get

logger = logging.getLogger(__name__)

BATCH_SIZE = 500
MAX_PROMPT_CHARS = 4000


@dataclass(frozen=True)
class ImageDocument:
    """What the index holds for one image, before the embedding."""

    prompt_text: str
    modifier_text: str
    author_text: str
    modifiers: tuple[tuple[str, str], ...]  # (slug, category), in prompt order

    @property
    def modifier_slugs(self) -> list[str]:
        return [slug for slug, _ in self.modifiers]

    def words(self) -> set[str]:
        return vocabulary_words((self.prompt_text, self.modifier_text, self.author_text))


def _recipe_slugs(recipe) -> list[str]:
    """The slugs a recipe names: `{"slug": ...}` items or strings, a weight (`golden-hour:1.2`)
    dropped."""
    modifiers = recipe.get("modifiers") if isinstance(recipe, dict) else None
    slugs = []
    for item in modifiers if isinstance(modifiers, list) else []:
        slug = item.get("slug") if isinstance(item, dict) else item
        if isinstance(slug, str):
            slugs.append(slug.split(":", 1)[0].strip())
    return slugs


def image_document(*, prompt: str, recipe: dict | None, author: str, catalog: Catalog) -> ImageDocument:
    """The modifiers are those the recipe names plus those the prompt's text uses (an
    imported or hand-written prompt has only the latter)."""
    prompt_text = (prompt or "")[:MAX_PROMPT_CHARS]
    parsed = prompt_parse(text=prompt_text, catalog=catalog) if prompt_text else None
    slugs = dict.fromkeys(_recipe_slugs(recipe or {}) + [m.slug for m in (parsed.modifiers if parsed else ())])
    entries = [entry for slug in slugs if (entry := catalog.get(slug)) is not None]
    names = []
    for entry in entries:
        same = entry.fragment.casefold() == entry.name.casefold()
        names.append(entry.name if same else f"{entry.name} {entry.fragment}")
    return ImageDocument(
        prompt_text=prompt_text,
        modifier_text="; ".join(names),
        author_text=author or "",
        modifiers=tuple((entry.slug, entry.category) for entry in entries),
    )


def _batches(ids: list[int], size: int):
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def images_index(*, image_ids: list[int]) -> int:
    """Create or refresh the search rows of these images; returns how many were indexed
    (ids of images that no longer exist are skipped)."""
    ids = sorted({int(i) for i in image_ids})
    catalog = catalog_get() if ids else None
    return sum(_index_batch(batch, catalog) for batch in _batches(ids, BATCH_SIZE))


def _index_batch(ids: list[int], catalog: Catalog) -> int:
    images = list(Image.objects.filter(pk__in=ids).select_related("owner").only("id", "prompt", "recipe", "owner__username"))
    if not images:
        return 0
    documents = {
        image.pk: image_document(prompt=image.prompt, recipe=image.recipe, author=image.owner.username, catalog=catalog)
        for image in images
    }
    previous = {row[0]: row[1:] for row in ImageSearch.objects.filter(image_id__in=documents).values_list(
        "image_id", "prompt_text", "embedding")}
    embeddings: dict[int, bytes | None] = {}
    to_embed = []
    for image_id, document in documents.items():
        old = previous.get(image_id)
        if not document.prompt_text.strip():
            embeddings[image_id] = None
        elif old is not None and old[0] == document.prompt_text and old[1] is not None:
            embeddings[image_id] = bytes(old[1])
        else:
            to_embed.append(image_id)
    if to_embed:
        vectors = texts_embed([documents[i].prompt_text for i in to_embed])
        embeddings.update({i: vector_pack(v) for i, v in zip(to_embed, vectors, strict=True)})
    _index_write(documents, embeddings)
    return len(documents)


@transaction.atomic
def _index_write(documents: dict[int, ImageDocument], embeddings: dict[int, bytes | None]) -> None:
    # Lock the images: a concurrent indexer of the same image waits here, then reads the
    # rows this one wrote, so the word counts stay right. (SQLite writes one at a time anyway.)
    ids = sorted(Image.objects.select_for_update().filter(pk__in=documents).values_list("pk", flat=True))
    if not ids:
        return
    deltas: Counter = Counter()
    for old in ImageSearch.objects.filter(image_id__in=ids).values_list("prompt_text", "modifier_text", "author_text"):
        deltas.subtract(vocabulary_words(old))
    rows = []
    for image_id in ids:
        document = documents[image_id]
        deltas.update(document.words())
        rows.append(ImageSearch(
            image_id=image_id, prompt_text=document.prompt_text, modifier_text=document.modifier_text,
            author_text=document.author_text, modifier_slugs=document.modifier_slugs,
            embedding=embeddings[image_id],
        ))
    ImageSearch.objects.bulk_create(
        rows, update_conflicts=True, unique_fields=["image"],
        update_fields=["prompt_text", "modifier_text", "author_text", "modifier_slugs", "embedding", "indexed_at"],
    )
    vocabulary_apply(deltas)
    _modifiers_sync(ids, documents)
    _lists_sync(ids, embeddings)


def _modifiers_sync(ids: list[int], documents: dict[int, ImageDocument]) -> None:
    wanted = {(image_id, slug): category for image_id in ids for slug, category in documents[image_id].modifiers}
    existing = set(ImageModifier.objects.filter(image_id__in=ids).values_list("image_id", "slug"))
    stale = existing - wanted.keys()
    for image_id in {image_id for image_id, _ in stale}:
        ImageModifier.objects.filter(image_id=image_id, slug__in=[s for i, s in stale if i == image_id]).delete()
    ImageModifier.objects.bulk_create(
        [ImageModifier(image_id=image_id, slug=slug, category=category)
         for (image_id, slug), category in wanted.items() if (image_id, slug) not in existing],
        ignore_conflicts=True,
    )


def _lists_sync(ids: list[int], embeddings: dict[int, bytes | None]) -> None:
    """Put new vectors in their IVF list, with their code (when the gallery has an IVF index)."""
    ivf_rows_write([i for i in ids if embeddings[i] is None], None, None)
    index = ivf_index_get()
    with_vectors = [i for i in ids if embeddings[i] is not None]
    if index is not None and with_vectors:
        ivf_rows_write(with_vectors, vectors_unpack([embeddings[i] for i in with_vectors]), index)


@transaction.atomic
def image_unindex(*, image_id: int) -> None:
    """Remove an image from the index (its rows go with the image too; this also takes
    its words out of the spelling vocabulary)."""
    old = ImageSearch.objects.filter(image_id=image_id).values_list("prompt_text", "modifier_text", "author_text").first()
    if old is not None:
        vocabulary_apply(Counter({word: -1 for word in vocabulary_words(old)}))
    ImageSearch.objects.filter(image_id=image_id).delete()
    ImageModifier.objects.filter(image_id=image_id).delete()
