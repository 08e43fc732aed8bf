"""Gallery search: what a person typing into the search box gets back, on SQLite (FTS5)
and PostgreSQL (tsvector + pg_trgm) alike; the PostgreSQL-only checks say so."""

from __future__ import annotations

import numpy as np
import pytest
from django.db import connection

from gallery.search import (
    SEARCH_MODES,
    SearchModeError,
    images_search,
    images_similar,
    query_vector,
)
from gallery.search.keyword import clauses_from_items
from gallery.search.text import query_items
from gallery.search.vectors import ivf_index_forget, ivf_train, vector_search
from generation.models import Image
from prompts.services import catalog_load
from tests.gallery.image_factory import image_make
from tests.support import need_postgres

PROMPTS = {
    "fox": "A watercolor painting of a fox in a misty forest",
    "cat": "A watercolor painting of a cat on a windowsill",
    "oil_fox": "An oil painting of a fox, dramatic lighting",
    "fox_far": "A fox sitting in a quiet forest clearing at dawn, loose washes, watercolor painting",
    "chalet": "A snowy chalet by firelight",
    "city": "A neon cyberpunk city street at night, rain, reflections",
    "wave": "The Great Wave off the coast, in the style of Katsushika Hokusai",
    "ramen": "A bowl of ramen on a wooden table, food photography",
    "ship": "A sailing ship in a storm at sea, oil painting",
}


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


@pytest.fixture
def gallery(catalog, owner, member):
    images = {key: image_make(owner, prompt=prompt, index=True) for key, prompt in PROMPTS.items()}
    images["member_fox"] = image_make(member, prompt="A red fox in the snow, pencil sketch", index=True)
    return images


def _ids(hits):
    return [hit.image_id for hit in hits]


# -- keyword -----------------------------------------------------------------------------------


def test_keyword_ranks_the_watercolor_fox_first(gallery):
    found = _ids(images_search(q="watercolor fox", mode="keyword"))
    assert found[0] == gallery["fox"].pk
    assert set(found) <= {gallery["fox"].pk, gallery["fox_far"].pk}
    assert gallery["cat"].pk not in found and gallery["oil_fox"].pk not in found


def test_keyword_finds_modifier_names_and_authors(gallery, member):
    # "Ukiyo-e"-free prompt, but the parser found Katsushika Hokusai: the artist's name is indexed.
    assert _ids(images_search(q="katsushika", mode="keyword")) == [gallery["wave"].pk]
    # The author's username is searchable (weight C), so the member's image comes up.
    assert gallery["member_fox"].pk in _ids(images_search(q="member", mode="keyword"))


def test_keyword_understands_phrases_or_and_exclusion(gallery):
    assert _ids(images_search(q='"oil painting" -fox', mode="keyword")) == [gallery["ship"].pk]
    found = set(_ids(images_search(q="ramen or chalet", mode="keyword")))
    assert found == {gallery["ramen"].pk, gallery["chalet"].pk}


def test_keyword_stems_and_ignores_case_and_accents(gallery):
    assert gallery["fox"].pk in _ids(images_search(q="FOXES", mode="keyword"))
    assert gallery["fox"].pk in _ids(images_search(q="wátercolor", mode="keyword"))


@pytest.mark.parametrize("q", ["watercolour", "aquarelle"])
def test_keyword_accepts_catalog_aliases(gallery, q):
    """No prompt says "watercolour", but the catalog knows it is Watercolor."""
    found = set(_ids(images_search(q=q, mode="keyword")))
    assert {gallery["fox"].pk, gallery["cat"].pk, gallery["fox_far"].pk} <= found
    assert gallery["oil_fox"].pk not in found


@pytest.mark.parametrize(("q", "key"), [("hokusia", "wave"), ("watercolr fox", "fox"), ("cyberpnk", "city")])
def test_keyword_corrects_misspelt_words(gallery, q, key):
    assert _ids(images_search(q=q, mode="keyword"))[0] == gallery[key].pk


def test_keyword_exact_matches_come_before_corrected_ones(catalog, owner):
    exact = image_make(owner, prompt="a lighthuose painted wrongly", index=True)
    corrected = image_make(owner, prompt="a lighthouse on a cliff", index=True)
    assert _ids(images_search(q="lighthuose", mode="keyword")) == [exact.pk]
    assert _ids(images_search(q="lighthusee", mode="keyword"))[:1] in ([corrected.pk], [exact.pk])


def test_unknown_words_without_a_near_word_find_nothing(gallery):
    assert images_search(q="zzqxv", mode="keyword") == []


# -- semantic and hybrid ---------------------------------------------------------------------


def test_semantic_finds_by_meaning(gallery):
    found = _ids(images_search(q="cozy winter cabin", mode="semantic"))
    assert found[0] == gallery["chalet"].pk
    # Keyword search has nothing for it: no prompt shares a word.
    assert images_search(q="cozy winter cabin", mode="keyword") == []


def test_semantic_ranks_related_above_unrelated(gallery):
    hits = images_search(q="noodle soup", mode="semantic", limit=20)
    assert _ids(hits)[0] == gallery["ramen"].pk
    scores = [hit.score for hit in hits]
    assert scores == sorted(scores, reverse=True)


def test_hybrid_puts_what_both_rankings_agree_on_first(gallery):
    hits = images_search(q="fox in the snow", mode="hybrid")
    assert _ids(hits)[0] == gallery["member_fox"].pk
    # Semantic-only matches still come through the fusion.
    found = _ids(images_search(q="winter cabin by the fire", mode="hybrid"))
    assert gallery["chalet"].pk in found[:3]


def test_hybrid_scores_are_reciprocal_rank_fusion(gallery):
    keyword = _ids(images_search(q="watercolor fox", mode="keyword", limit=100))
    semantic = _ids(images_search(q="watercolor fox", mode="semantic", limit=100))
    hybrid = images_search(q="watercolor fox", mode="hybrid")
    expected = {}
    for ranking in (keyword, semantic):
        for rank, image_id in enumerate(ranking, start=1):
            expected[image_id] = expected.get(image_id, 0) + 1 / (60 + rank)
    assert {hit.image_id: pytest.approx(hit.score) for hit in hybrid} == expected
    assert hybrid[0].image_id == gallery["fox"].pk


def test_similar_images_are_nearest_by_meaning(gallery):
    similar = _ids(images_similar(image_id=gallery["fox"].pk, limit=3))
    assert gallery["fox"].pk not in similar
    assert similar[0] in {gallery["fox_far"].pk, gallery["cat"].pk}
    assert gallery["ramen"].pk not in similar


def test_similar_of_an_unindexed_image_is_empty(catalog, owner):
    image = image_make(owner, prompt="a teapot")
    assert images_similar(image_id=image.pk) == []
    assert images_similar(image_id=10**9) == []


# -- what may be found -------------------------------------------------------------------------


@pytest.mark.parametrize("mode", SEARCH_MODES)
def test_hidden_private_and_unlisted_images_never_come_back(catalog, owner, mode):
    public = image_make(owner, prompt="a red fox in a snowy forest", index=True)
    others = [
        image_make(owner, prompt="a red fox in a snowy forest at dusk", hidden=True, index=True),
        image_make(owner, prompt="a red fox in a snowy forest asleep", visibility="private", index=True),
        image_make(owner, prompt="a red fox in a snowy forest again", visibility="unlisted", index=True),
    ]
    found = _ids(images_search(q="red fox snowy forest", mode=mode))
    assert found == [public.pk]
    similar = _ids(images_similar(image_id=public.pk))
    assert not {o.pk for o in others} & set(similar)
    assert not {o.pk for o in others} & set(_ids(images_similar(image_id=others[0].pk)))


@pytest.mark.parametrize("mode", SEARCH_MODES)
def test_results_stay_inside_the_callers_queryset(gallery, member, mode):
    mine = Image.objects.filter(owner=member)
    assert _ids(images_search(q="fox", mode=mode, base_queryset=mine)) == [gallery["member_fox"].pk]
    assert _ids(images_similar(image_id=gallery["fox"].pk, base_queryset=mine)) == [gallery["member_fox"].pk]


def test_a_narrow_queryset_still_finds_its_matches_past_the_newest(catalog, owner, member, monkeypatch):
    """Ranking looks at the newest matches first; an older match inside a narrow queryset
    must still be found (by ranking inside the queryset)."""
    from gallery.search import keyword

    monkeypatch.setattr(keyword, "KEYWORD_CANDIDATES", 2)
    old = image_make(member, prompt="a fox in a meadow", index=True)
    newer = [image_make(owner, prompt=f"a fox number {n}", index=True) for n in range(4)]
    mine = Image.objects.filter(owner=member)
    assert _ids(images_search(q="fox", mode="keyword", base_queryset=mine)) == [old.pk]
    # Without a narrow queryset the newest matches are ranked.
    assert set(_ids(images_search(q="fox", mode="keyword", limit=2))) <= {n.pk for n in newer}


@pytest.mark.parametrize("reach", [1000, 0], ids=["read-on-backwards", "gin-index"])
def test_matches_older_than_the_newest_window_are_found(catalog, owner, monkeypatch, reach):
    """Past the window of newest images, older matches come from reading on backwards
    (a common word) or from the GIN index (a rare one): either way, all are found."""
    from gallery.search import keyword

    monkeypatch.setattr(keyword, "KEYWORD_WINDOW", 3)
    monkeypatch.setattr(keyword, "KEYWORD_REACH", reach)
    foxes = []
    for n in range(6):  # interleaved, so the window holds a fox or two
        foxes.append(image_make(owner, prompt=f"a red fox, study {n}", index=True))
        image_make(owner, prompt=f"a blue whale, study {n}", index=True)
    assert set(_ids(images_search(q="fox", mode="keyword", limit=10))) == {f.pk for f in foxes}


def test_a_narrow_queryset_is_scanned_exactly_when_the_probe_misses_it(gallery, member):
    ivf_train(lists=8)
    ivf_index_forget()
    mine = Image.objects.filter(owner=member)
    hits = vector_search(vector=query_vector("a bowl of noodle soup"), limit=5, base_queryset=mine, nprobe=1)
    assert [i for i, _ in hits] == [gallery["member_fox"].pk]


def test_a_queryset_of_another_model_is_refused(gallery, owner):
    from django.contrib.auth import get_user_model

    with pytest.raises(TypeError):
        images_search(q="fox", mode="keyword", base_queryset=get_user_model().objects.all())


def test_unknown_mode_is_a_clear_error(gallery):
    with pytest.raises(SearchModeError, match="keyword, semantic, hybrid"):
        images_search(q="fox", mode="fuzzy")


NASTY = [
    "", " ", '"', '""', "'", "\"fox", "fox\"", "AND OR NOT", "fox AND", "OR", "NOT fox", "-", "--fox", "-fox",
    "*", "fox*", "^fox", "NEAR(fox cat)", "prompt_text:fox", "{fox}", "(fox", "fox)", "fox & cat | !dog",
    "fox <-> cat", "fox:*", "a\x00b", "\x00", "fox\x00' OR 1=1 --", "x" * 10_000, "fox " * 2_500,
    "!!!...???", "%_%", "\\", "😀🦊", "ﬀ ß İ", "\u200b\u202e", "'; DROP TABLE gallery_imagesearch; --",
]


@pytest.mark.parametrize("mode", SEARCH_MODES)
def test_nasty_queries_do_not_raise(gallery, mode):
    for q in NASTY:
        hits = images_search(q=q, mode=mode, limit=10)
        assert len(hits) <= 10, q
        assert all(isinstance(hit.image_id, int) for hit in hits)
    # Words inside the noise are still found.
    assert _ids(images_search(q="(watercolor* AND fox) -", mode=mode))[0] == gallery["fox"].pk


def test_queries_without_words_find_nothing(gallery):
    for q in ["", "*", "!!!...???", '"', "-fox", "\x00", "OR"]:
        for mode in SEARCH_MODES:
            assert images_search(q=q, mode=mode) == [], (q, mode)


def test_query_syntax_is_read_like_web_search():
    clauses = clauses_from_items(query_items('"golden hour" fox or wolf -cat sci-fi'))
    assert [(c.alternatives, c.negated) for c in clauses] == [
        ((( ("golden", "hour"),),), False),
        (((("fox",),), (("wolf",),)), False),
        (((("cat",),),), True),
        (((("sci", "fi"),),), False),
    ]


# -- the IVF index ------------------------------------------------------------------------------


def test_ivf_index_agrees_with_the_exact_scan(gallery, owner):
    exact = _ids(images_search(q="a fox", mode="semantic", limit=3))
    assert ivf_train(lists=3) == 3
    ivf_index_forget()
    # A probe of every list is exact.
    probed = [i for i, _ in vector_search(vector=query_vector("a fox"), limit=3, nprobe=3)]
    assert probed == exact
    # New images go into a list as they are indexed, and are found.
    late = image_make(owner, prompt="a fox made of origami paper", index=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT ivf_list, ivf_code FROM gallery_imagesearch WHERE image_id = %s", [late.pk])
        ivf_list, code = cursor.fetchone()
        assert ivf_list in (0, 1, 2) and len(bytes(code)) == 128
    assert late.pk in _ids(images_search(q="origami fox", mode="semantic", limit=3))
    # Back below the threshold, the index is dropped and every row scanned again.
    assert ivf_train() == 0
    ivf_index_forget()
    assert late.pk in _ids(images_search(q="origami fox", mode="semantic", limit=3))


def test_stored_embeddings_are_unit_float16(gallery):
    from gallery.models import ImageSearch

    row = ImageSearch.objects.get(image=gallery["fox"])
    vector = np.frombuffer(bytes(row.embedding), dtype="<f2").astype(np.float32)
    assert vector.shape == (384,)
    assert np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-2)


# -- PostgreSQL ---------------------------------------------------------------------------------


def test_postgres_keeps_a_weighted_tsvector_with_the_row(gallery, member):
    need_postgres()
    with connection.cursor() as cursor:
        cursor.execute("SELECT search_vector::text FROM gallery_imagesearch WHERE image_id = %s",
                       [gallery["member_fox"].pk])
        vector = cursor.fetchone()[0]
    assert "'fox':" in vector and "A" in vector.split("'fox':")[1].split(" ")[0]
    assert "'member':" in vector and vector.split("'member':")[1].split(" ")[0].endswith("C")


def test_postgres_uses_the_gin_indexes(gallery):
    need_postgres()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN SELECT image_id FROM gallery_imagesearch "
                       "WHERE search_vector @@ websearch_to_tsquery('gallery_english', 'fox')")
        plan = "\n".join(row[0] for row in cursor.fetchall())
        assert "gallery_imagesearch_vector" in plan
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'gallery_searchword_trgm'")
        assert "gin_trgm_ops" in cursor.fetchone()[0]
