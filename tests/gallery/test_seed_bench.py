"""The scale tools: `seed_gallery` fills the gallery with benchmark images, `--remove` takes
them out again, `bench_gallery` prints its table. No timing is asserted here."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from gallery.models import ImageModifier, ImageSearch
from gallery.search import images_search
from gallery.search.vectors import ivf_index_forget
from generation.models import Image
from tests.gallery.image_factory import image_make


@pytest.fixture(autouse=True)
def _fresh_ivf_cache():
    ivf_index_forget()
    yield
    ivf_index_forget()


def _run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_seed_gallery_adds_realistic_indexed_images(db, media_root):
    output = _run("seed_gallery", "--images", "120", "--distinct-prompts", "40", "--batch", "50")

    images = Image.objects.filter(is_benchmark=True)
    assert images.count() == 120
    assert "Added 120 benchmark images" in output
    prompts = set(images.values_list("prompt", flat=True))
    assert 20 <= len(prompts) <= 40
    assert {img.owner.username for img in images.select_related("owner")} <= {
        u for u in ("bench-ada", "bench-basho", "bench-clara", "bench-dmitri", "bench-emeka", "bench-fumiko",
                    "bench-gus", "bench-hana")}
    # Newest first by created_at is newest first by id, as for real uploads.
    newest = list(images.order_by("-created_at", "-id").values_list("id", flat=True))
    assert newest == sorted(newest, reverse=True)
    # The files are real and shared.
    files = set(images.values_list("file", flat=True))
    assert len(files) <= 6 and all((media_root / name).exists() for name in files)
    # Every image is indexed like any other: text, modifiers, embedding.
    assert ImageSearch.objects.filter(image__is_benchmark=True, embedding__isnull=False).count() == 120
    assert ImageModifier.objects.filter(image__is_benchmark=True).exists()
    sample = images.exclude(visibility="private").filter(hidden=False).first()
    word = sample.prompt.split()[-1].strip(",")
    assert images_search(q=word, mode="keyword", limit=500)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM gallery_searchword WHERE ndoc > 0")
        assert cursor.fetchone()[0] > 20


def test_seed_gallery_remove_takes_only_benchmark_images(db, owner, media_root):
    mine = image_make(owner, prompt="a lighthouse on a cliff", index=True)
    _run("seed_gallery", "--images", "30", "--distinct-prompts", "10")
    output = _run("seed_gallery", "--remove")

    assert "Removed 30 benchmark images" in output
    assert list(Image.objects.values_list("pk", flat=True)) == [mine.pk]
    assert list(ImageSearch.objects.values_list("image_id", flat=True)) == [mine.pk]
    assert not (media_root / "benchmark").exists() or not any((media_root / "benchmark").iterdir())
    assert [hit.image_id for hit in images_search(q="lighthouse", mode="keyword")] == [mine.pk]
    with connection.cursor() as cursor:
        cursor.execute("SELECT word FROM gallery_searchword WHERE ndoc > 0")
        assert {row[0] for row in cursor.fetchall()} == {"lighthouse", "cliff", "owner"}


def test_seed_gallery_refuses_nonsense(db):
    with pytest.raises(CommandError):
        call_command("seed_gallery", "--images", "0")


def test_bench_gallery_prints_the_table(db, media_root):
    _run("seed_gallery", "--images", "60", "--distinct-prompts", "30")
    output = _run("bench_gallery", "--runs", "2")

    table = output[output.index("Gallery benchmark:"):]
    assert f"{connection.vendor}, 60 images" in table
    for row in ("browse: first page", "browse: deep", "keyword search (images_search", "semantic search (images_search",
                "hybrid search (images_search", "similar images", "naive icontains search"):
        line = next(line for line in table.splitlines() if line.startswith(row))
        p50, p95, queries = line.split()[-3:]
        assert float(p50) >= 0 and float(p95) >= float(p50) and int(queries) >= 1


def test_bench_gallery_needs_images(db):
    with pytest.raises(CommandError, match="seed_gallery"):
        call_command("bench_gallery", "--runs", "1")
