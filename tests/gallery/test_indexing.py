"""Keeping the search index current: on the signals generation sends, by the Celery task,
by `reindex_gallery`, and idempotently."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import connection

from gallery import indexing, tasks
from gallery.models import ImageModifier, ImageSearch
from gallery.search import images_search
from gallery.search.vectors import ivf_index_forget
from generation.models import Image, Job
from generation.services import image_delete
from generation.signals import images_created
from prompts.services import catalog_load
from tests.gallery.image_factory import image_make


@pytest.fixture(autouse=True)
def _fresh_ivf_cache():
    ivf_index_forget()
    yield
    ivf_index_forget()


@pytest.fixture
def catalog(db, django_capture_on_commit_callbacks):
    # Loading invalidates the per-process catalog snapshot on commit: run that now.
    with django_capture_on_commit_callbacks(execute=True):
        catalog_load()


def _words() -> dict[str, int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT word, ndoc FROM gallery_searchword WHERE ndoc > 0")
        return dict(cursor.fetchall())


def test_images_created_signal_indexes_the_images(catalog, owner):
    image = image_make(owner, prompt="A watercolor painting of a fox, in the style of Katsushika Hokusai",
                       recipe={"modifiers": ["golden-hour"]})
    assert not ImageSearch.objects.filter(image=image).exists()

    images_created.send(sender=Job, job_id=None, image_ids=[image.pk])

    row = ImageSearch.objects.get(image=image)
    assert row.prompt_text == image.prompt
    assert row.author_text == "owner"
    assert set(row.modifier_slugs) >= {"watercolor", "katsushika-hokusai"}
    assert "Watercolor" in row.modifier_text and "Katsushika Hokusai" in row.modifier_text
    assert len(bytes(row.embedding)) == 384 * 2
    assert set(ImageModifier.objects.filter(image=image).values_list("slug", "category")) >= {
        ("watercolor", "medium"), ("katsushika-hokusai", "artist")}
    assert [hit.image_id for hit in images_search(q="hokusai fox", mode="keyword")] == [image.pk]


def test_recipe_modifiers_are_indexed_with_those_of_the_prompt(catalog, owner):
    from prompts.selectors import catalog_get

    slug = next(m.slug for m in catalog_get() if m.category == "lighting")
    image = image_make(owner, prompt="a fox", recipe={"modifiers": [slug, "no-such-modifier", {"slug": slug}]})
    indexing.images_index(image_ids=[image.pk])
    assert ImageSearch.objects.get(image=image).modifier_slugs == [slug]


def test_a_weighted_recipe_modifier_is_indexed_by_its_slug(catalog, owner):
    image = image_make(owner, prompt="a fox", recipe={"modifiers": ["golden-hour:1.2"]})
    indexing.images_index(image_ids=[image.pk])
    assert ImageSearch.objects.get(image=image).modifier_slugs == ["golden-hour"]


def test_indexing_twice_changes_nothing(catalog, owner):
    image = image_make(owner, prompt="An oil painting of a lighthouse on a cliff")
    assert indexing.images_index(image_ids=[image.pk, image.pk]) == 1
    first = ImageSearch.objects.get(image=image)
    modifiers = sorted(ImageModifier.objects.filter(image=image).values_list("pk", "slug"))
    words = _words()

    assert indexing.images_index(image_ids=[image.pk]) == 1

    again = ImageSearch.objects.get(image=image)
    assert (again.prompt_text, again.modifier_text, bytes(again.embedding)) == (
        first.prompt_text, first.modifier_text, bytes(first.embedding))
    assert sorted(ImageModifier.objects.filter(image=image).values_list("pk", "slug")) == modifiers
    assert _words() == words
    assert words["lighthouse"] == 1


def test_a_changed_prompt_is_reindexed(catalog, owner):
    image = image_make(owner, prompt="An oil painting of a lighthouse", index=True)
    old_embedding = bytes(ImageSearch.objects.get(image=image).embedding)
    Image.objects.filter(pk=image.pk).update(prompt="A pixel art castle")
    indexing.images_index(image_ids=[image.pk])

    row = ImageSearch.objects.get(image=image)
    assert "pixel-art" in row.modifier_slugs and "oil-painting" not in row.modifier_slugs
    assert bytes(row.embedding) != old_embedding
    assert set(ImageModifier.objects.filter(image=image).values_list("slug", flat=True)) == set(row.modifier_slugs)
    words = _words()
    assert "lighthouse" not in words and words["castle"] == 1
    assert [hit.image_id for hit in images_search(q="castle", mode="keyword")] == [image.pk]
    assert images_search(q="lighthouse", mode="keyword") == []


def test_missing_images_are_skipped(catalog, owner):
    assert indexing.images_index(image_ids=[10**9]) == 0
    assert indexing.images_index(image_ids=[]) == 0


def test_an_empty_prompt_has_no_embedding(catalog, owner):
    image = image_make(owner, prompt="")
    indexing.images_index(image_ids=[image.pk])
    assert ImageSearch.objects.get(image=image).embedding is None
    assert images_search(q="anything at all", mode="semantic") == []


def test_deleting_an_image_unindexes_it(catalog, owner, django_capture_on_commit_callbacks):
    image = image_make(owner, prompt="a sailing ship in a storm", index=True)
    keep = image_make(owner, prompt="a sailing ship in the harbor", index=True)
    with django_capture_on_commit_callbacks(execute=True):
        image_delete(user=owner, image_id=image.pk)

    assert not ImageSearch.objects.filter(image_id=image.pk).exists()
    assert not ImageModifier.objects.filter(image_id=image.pk).exists()
    for mode in ("keyword", "semantic", "hybrid"):
        assert [hit.image_id for hit in images_search(q="sailing ship storm", mode=mode)] in ([keep.pk], [])
    assert [hit.image_id for hit in images_search(q="sailing ship", mode="keyword")] == [keep.pk]


def test_unindex_takes_the_words_out_of_the_vocabulary(catalog, owner):
    image = image_make(owner, prompt="a quetzal on a branch", index=True)
    assert _words()["quetzal"] == 1
    indexing.image_unindex(image_id=image.pk)
    assert "quetzal" not in _words()
    assert not ImageSearch.objects.filter(image=image).exists()
    indexing.image_unindex(image_id=image.pk)  # twice is harmless


def test_the_celery_task_indexes_by_ids(catalog, owner):
    image = image_make(owner, prompt="a teapot, studio lighting")
    assert tasks.images_index.run([image.pk]) == 1
    assert ImageSearch.objects.filter(image=image).exists()
    tasks.image_unindex.run(image.pk)
    assert not ImageSearch.objects.filter(image=image).exists()


def test_a_failure_at_creation_is_retried_by_the_task(catalog, owner, monkeypatch):
    image = image_make(owner, prompt="a teapot")
    queued = []

    def broken(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(indexing, "images_index", broken)
    monkeypatch.setattr(tasks.images_index, "delay", lambda ids: queued.append(ids))
    images_created.send(sender=Job, job_id=None, image_ids=[image.pk])
    assert queued == [[image.pk]]


def test_reindex_gallery_rebuilds_everything(catalog, owner, capsys):
    images = [image_make(owner, prompt=f"a lighthouse number {n}", index=True) for n in range(3)]
    unindexed = image_make(owner, prompt="a windmill in a tulip field")
    ImageSearch.objects.filter(image=images[0]).delete()
    with connection.cursor() as cursor:
        cursor.execute("UPDATE gallery_searchword SET ndoc = 99")

    call_command("reindex_gallery", "--batch", "2")

    assert ImageSearch.objects.count() == 4
    words = _words()
    assert words["lighthouse"] == 3 and words["windmill"] == 1
    assert [hit.image_id for hit in images_search(q="windmill", mode="keyword")] == [unindexed.pk]
    assert "Indexed 4 images" in capsys.readouterr().out


def test_sqlite_schema_damage_is_reported_and_repaired(catalog, owner):
    if connection.vendor != "sqlite":
        pytest.skip("SQLite only: PostgreSQL keeps raw columns through Django's ALTERs")
    from gallery.search.schema import search_schema_check, search_schema_restore

    image = image_make(owner, prompt="a lighthouse", index=True)
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER gallery_imagesearch_fts_update")
    assert [e.id for e in search_schema_check(databases=["default"])] == ["gallery.W001"]
    assert search_schema_restore(connection) == ["trigger gallery_imagesearch_fts_update is missing"]
    assert search_schema_check(databases=["default"]) == []
    assert [hit.image_id for hit in images_search(q="lighthouse", mode="keyword")] == [image.pk]
