"""Gallery reads: who sees what, sorts and keyset pages, filters, lineage, remix state."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core import signing
from django.utils import timezone

from gallery import selectors
from gallery.models import Collection, CollectionItem, ImageModifier, Like
from gallery.selectors import ImageQuery, InvalidCursor, images_list
from prompts.errors import NotFound, ValidationFailed
from tests.gallery.image_factory import catalog_loaded, image_make

pytestmark = pytest.mark.django_db


def ids(page) -> list[int]:
    return [image.pk for image in page.items]


def all_pages(user, query: ImageQuery, limit: int, now=None) -> list[int]:
    seen, cursor = [], None
    for _ in range(50):
        page = images_list(user=user, query=query, cursor=cursor, limit=limit, now=now)
        seen.extend(ids(page))
        cursor = page.next_cursor
        if cursor is None:
            return seen
    raise AssertionError("pages never ended")


# -- visibility -----------------------------------------------------------------------------


@pytest.fixture
def four(owner):
    return {
        "public": image_make(owner, prompt="public harbour"),
        "unlisted": image_make(owner, prompt="unlisted harbour", visibility="unlisted"),
        "private": image_make(owner, prompt="private harbour", visibility="private"),
        "hidden": image_make(owner, prompt="hidden harbour", hidden=True, hidden_reason="Spam"),
    }


@pytest.mark.parametrize("who", ["owner", "member", "outsider", "anonymous"])
def test_listings_hold_public_visible_images_only_whoever_looks(four, who, request):
    user = AnonymousUser() if who == "anonymous" else request.getfixturevalue(who)
    assert ids(images_list(user=user, query=ImageQuery())) == [four["public"].pk]


def test_unlisted_is_reachable_by_link_by_anyone(four, member):
    assert selectors.image_get(user=member, image_id=four["unlisted"].pk) == four["unlisted"]
    assert selectors.image_get(user=AnonymousUser(), image_id=four["unlisted"].pk) == four["unlisted"]


@pytest.mark.parametrize("kind", ["private", "hidden"])
def test_private_and_hidden_are_404_for_others_but_open_for_the_owner(four, owner, member, kind):
    with pytest.raises(NotFound):
        selectors.image_get(user=member, image_id=four[kind].pk)
    with pytest.raises(NotFound):
        selectors.image_get(user=AnonymousUser(), image_id=four[kind].pk)
    assert selectors.image_get(user=owner, image_id=four[kind].pk).pk == four[kind].pk


def test_missing_image_is_404(member):
    with pytest.raises(NotFound):
        selectors.image_get(user=member, image_id=999_999)


# -- sorts and keyset pages --------------------------------------------------------------------


def test_new_is_newest_first_and_pages_cover_everything_once(owner, outsider):
    now = timezone.now()
    made = [image_make(owner, created_at=now - timedelta(minutes=i)) for i in range(7)]
    # Two images at the same instant: the id breaks the tie, so none is lost between pages.
    twin = image_make(owner, created_at=made[3].created_at)
    expected = [made[0].pk, made[1].pk, made[2].pk, twin.pk, made[3].pk, made[4].pk, made[5].pk, made[6].pk]
    assert all_pages(outsider, ImageQuery(), limit=3) == expected


def test_top_all_ranks_by_like_count(owner, member):
    low = image_make(owner, like_count=1)
    high = image_make(owner, like_count=9)
    none = image_make(owner)
    assert all_pages(member, ImageQuery(sort="top_all"), limit=2) == [high.pk, low.pk, none.pk]


def _like(user, image, *, ago: timedelta):
    like = Like.objects.create(user=user, image=image)
    Like.objects.filter(pk=like.pk).update(created_at=timezone.now() - ago)


def test_top_day_and_week_count_only_likes_inside_the_window(owner, make_user):
    users = [make_user() for _ in range(4)]
    old_favourite = image_make(owner, prompt="liked last week")
    today = image_make(owner, prompt="liked today")
    for user in users[:3]:
        _like(user, old_favourite, ago=timedelta(days=3))
    _like(users[3], today, ago=timedelta(hours=2))
    viewer = users[0]
    assert ids(images_list(user=viewer, query=ImageQuery(sort="top_day")))[0] == today.pk
    assert ids(images_list(user=viewer, query=ImageQuery(sort="top_week")))[:2] == [old_favourite.pk, today.pk]


def test_trending_weighs_recent_likes_more(owner, make_user):
    users = [make_user() for _ in range(3)]
    steady = image_make(owner, prompt="two likes a day and a half ago")
    fresh = image_make(owner, prompt="one like an hour ago")
    stale = image_make(owner, prompt="many likes three days ago")
    for user in users[:2]:
        _like(user, steady, ago=timedelta(hours=36))
    _like(users[0], fresh, ago=timedelta(hours=1))
    for user in users:
        _like(user, stale, ago=timedelta(days=3))
    # fresh: 1 like x 4 = 4; steady: 2 likes x 1 = 2; stale: outside 48 hours = 0
    assert ids(images_list(user=users[0], query=ImageQuery(sort="trending"))) == [fresh.pk, steady.pk, stale.pk]


def test_a_window_cursor_keeps_the_moment_page_one_was_ranked_at(owner, make_user):
    users = [make_user() for _ in range(3)]
    images = [image_make(owner) for _ in range(4)]
    for n, image in enumerate(images):
        for user in users[:n % 3]:
            _like(user, image, ago=timedelta(hours=20))
    first = images_list(user=users[0], query=ImageQuery(sort="top_day"), limit=2)
    # A day later those likes fall out of the window; page 2 still ranks by page 1's window.
    later = timezone.now() + timedelta(days=1)
    second = images_list(user=users[0], query=ImageQuery(sort="top_day"), cursor=first.next_cursor, limit=2,
                         now=later)
    assert set(ids(first)) | set(ids(second)) == {image.pk for image in images}


# -- cursors ------------------------------------------------------------------------------------


@pytest.fixture
def paged(owner):
    for _ in range(3):
        image_make(owner)
    return images_list(user=owner, query=ImageQuery(), limit=1).next_cursor


def test_tampered_cursor_is_refused(paged, owner):
    payload, _, signature = paged.rpartition(":")
    forged = signing.b64_encode(b'{"k":"new","id":999999}').decode() + ":" + signature
    for cursor in (paged[:-2] + "xx", forged, "not-a-cursor", "", "a" * 5000, paged + "\x00"):
        if not cursor:
            continue
        with pytest.raises(InvalidCursor) as caught:
            images_list(user=owner, query=ImageQuery(), cursor=cursor)
        assert caught.value.status == 400
        assert caught.value.code == "invalid_cursor"


def test_a_cursor_of_another_sort_or_query_is_refused(paged, owner):
    with pytest.raises(InvalidCursor):
        images_list(user=owner, query=ImageQuery(sort="top_all"), cursor=paged)
    with pytest.raises(InvalidCursor):
        images_list(user=owner, query=ImageQuery(model="other"), cursor=paged)


def test_a_cursor_signed_with_another_key_is_refused(paged, owner, settings):
    settings.SECRET_KEY = "another-secret-key-for-this-test-only-0123456789"
    with pytest.raises(InvalidCursor):
        images_list(user=owner, query=ImageQuery(), cursor=paged)


# -- filters -------------------------------------------------------------------------------------


def test_filters(owner, member):
    watercolor = image_make(owner, model="embedded", mode="text2img")
    ImageModifier.objects.create(image=watercolor, slug="watercolor", category="medium")
    ImageModifier.objects.create(image=watercolor, slug="film-noir", category="style")
    other_model = image_make(owner, model="sd15")
    variation = image_make(owner, mode="variation", parent=watercolor)
    remixed = image_make(owner)
    image_make(owner, remix_of=remixed)

    def found(**kwargs):
        return set(ids(images_list(user=member, query=ImageQuery(**kwargs))))

    assert found(modifiers=("watercolor",)) == {watercolor.pk}
    assert found(modifiers=("watercolor", "film-noir")) == {watercolor.pk}
    assert found(modifiers=("watercolor", "pixel-art")) == set()
    assert found(model="sd15") == {other_model.pk}
    assert found(mode="variation") == {variation.pk}
    assert found(has_remixes=True) == {remixed.pk}
    assert found(author="owner") == found()
    assert found(author="member") == set()


def test_query_parse_refuses_unknown_and_bad_values():
    with pytest.raises(ValidationFailed) as caught:
        selectors.image_query_parse({"colour": "red"}, strict=True)
    assert (caught.value.code, caught.value.status) == ("unknown_filter", 422)
    assert selectors.image_query_parse({"colour": "red"}, strict=False) == ImageQuery()
    for params in ({"sort": "best"}, {"search": "fuzzy"}, {"mode": "dream"}, {"has_remixes": "maybe"},
                   {"sort": "relevance"}):
        with pytest.raises(ValidationFailed) as caught:
            selectors.image_query_parse(params, strict=True)
        assert caught.value.code == "invalid_filter"


def test_query_parse_cleans_the_search_text():
    query = selectors.image_query_parse({"q": "  cat\x00 \"dog\" OR\n" + "x" * 20_000}, strict=True)
    assert "\x00" not in query.q and len(query.q) <= selectors.MAX_QUERY_CHARS
    assert query.sort == "relevance"


def test_images_with_modifier_for_the_prompt_book(owner):
    top = image_make(owner, like_count=5)
    new = image_make(owner)
    hidden = image_make(owner, hidden=True)
    private = image_make(owner, visibility="private")
    unrelated = image_make(owner)
    for image in (top, new, hidden, private):
        ImageModifier.objects.create(image=image, slug="watercolor", category="medium")
    ImageModifier.objects.create(image=unrelated, slug="oil-painting", category="medium")
    assert [i.pk for i in selectors.images_with_modifier(slug="watercolor")] == [top.pk, new.pk]
    assert [i.pk for i in selectors.images_with_modifier(slug="watercolor", sort="new")] == [new.pk, top.pk]
    assert len(selectors.images_with_modifier(slug="watercolor", limit=1)) == 1


def test_list_query_count_is_flat(owner, make_user, django_assert_max_num_queries):
    for _ in range(12):
        image = image_make(owner)
        ImageModifier.objects.create(image=image, slug="watercolor", category="medium")
    viewer = make_user()
    for sort in ("new", "top_day", "top_all", "trending"):
        query = ImageQuery(sort=sort, modifiers=("watercolor",))
        with django_assert_max_num_queries(1):
            page = images_list(user=viewer, query=query, limit=5)
            [image.owner.username for image in page.items]
        with django_assert_max_num_queries(1):
            images_list(user=viewer, query=query, cursor=page.next_cursor, limit=5)


# -- lineage and remixes ------------------------------------------------------------------------


def test_parent_chain_goes_up_to_the_root_and_masks_what_the_viewer_may_not_see(owner, member):
    root = image_make(owner, prompt="root")
    private_middle = image_make(owner, prompt="middle", mode="variation", parent=root, visibility="private")
    leaf = image_make(member, prompt="leaf", mode="edit", parent=private_middle)
    chain = selectors.image_lineage(user=member, image=leaf).ancestors
    assert [node.image_id for node in chain] == [private_middle.pk, root.pk]
    assert chain[0].image is None  # private, not member's
    assert chain[1].image == root
    mine = selectors.image_lineage(user=owner, image=leaf).ancestors
    assert mine[0].image == private_middle


def test_remix_tree_with_diffs_depth_and_visibility(owner, member):
    root = image_make(owner, prompt="a lighthouse on a cliff")
    child = image_make(member, prompt="a red lighthouse on a cliff", remix_of=root)
    hidden_child = image_make(member, prompt="hidden", remix_of=root, hidden=True)
    chain = [child]
    for depth in range(5):
        chain.append(image_make(member, prompt=f"a red lighthouse on a cliff {depth}", remix_of=chain[-1]))
    lineage = selectors.image_lineage(user=owner, image=root)
    assert [node.image.pk for node in lineage.remixes] == [child.pk]
    assert hidden_child.pk not in {node.image.pk for node in lineage.remixes}
    node, depth = lineage.remixes[0], 1
    assert "<ins>red</ins>" in node.diff_html
    assert ["ins", " red"] in node.diff
    while node.children:
        node, depth = node.children[0], depth + 1
    assert depth == selectors.REMIX_TREE_DEPTH
    # the member, who owns the hidden child, sees it in the tree
    member_view = selectors.image_lineage(user=member, image=root)
    assert hidden_child.pk in {node.image.pk for node in member_view.remixes}


def test_remixed_from_hidden_parent_is_masked(owner, member):
    parent = image_make(owner, visibility="private")
    remix = image_make(member, remix_of=parent)
    lineage = selectors.image_lineage(user=member, image=remix)
    assert lineage.remix_of is None and lineage.remix_of_hidden


def test_remix_state_from_the_builder_recipe(owner, member):
    image = image_make(owner, prompt="A fox, watercolor painting", negative_prompt="blurry", seed=77,
                       recipe={"subject": "a fox", "modifiers": ["watercolor", "film-noir:1.2"], "dialect": "sd"})
    state = selectors.image_remix_state(user=member, image=image)
    assert state["subject"] == "a fox"
    assert state["modifiers"] == ["watercolor", "film-noir:1.2"]
    assert (state["negative_prompt"], state["dialect"], state["seed"]) == ("blurry", "sd", 77)
    assert (state["size"], state["steps"], state["guidance"], state["remix_of"]) == ("16x16", 20, 7.5, image.pk)
    url = selectors.remix_builder_url(state)
    assert url.startswith("/create?subject=a+fox&m=watercolor,film-noir:1.2&negative=blurry&dialect=sd&seed=77")
    assert url.endswith(f"&size=16x16&steps=20&guidance=7.5&remix_of={image.pk}")


def test_remix_state_parses_a_prompt_without_a_recipe(owner, member):
    catalog_loaded()
    image = image_make(owner, prompt="a lighthouse on a cliff, watercolor painting, (golden hour:1.3)")
    state = selectors.image_remix_state(user=member, image=image)
    assert "lighthouse" in state["subject"]
    assert "watercolor" in state["modifiers"]
    assert "golden-hour:1.3" in state["modifiers"]
    assert state["dialect"] == "sd"


def test_remix_state_leaves_out_what_the_owner_withholds(owner, member):
    image = image_make(owner, negative_prompt="blurry", withheld=("seed", "negative_prompt"),
                       recipe={"subject": "a fox", "modifiers": []})
    state = selectors.image_remix_state(user=member, image=image)
    assert state["seed"] is None and state["negative_prompt"] == ""
    assert "seed=" not in selectors.remix_builder_url(state)
    own = selectors.image_remix_state(user=owner, image=image)
    assert own["seed"] == 1234 and own["negative_prompt"] == "blurry"


# -- people ------------------------------------------------------------------------------------------


def test_profile_counts_public_work_only(owner):
    image_make(owner, like_count=3)
    image_make(owner, like_count=2)
    image_make(owner, visibility="private", like_count=50)
    Collection.objects.create(owner=owner, title="Shown")
    Collection.objects.create(owner=owner, title="Mine", visibility="private")
    profile = selectors.profile_get(username="owner")
    assert (profile.image_count, profile.likes_received, profile.collection_count) == (2, 5, 1)
    with pytest.raises(NotFound):
        selectors.profile_get(username="nobody")


def test_private_collections_are_404_for_others(owner, member):
    private = Collection.objects.create(owner=owner, title="Secret", visibility="private")
    unlisted = Collection.objects.create(owner=owner, title="By link", visibility="unlisted")
    assert selectors.collection_get(user=owner, collection_id=private.pk) == private
    with pytest.raises(NotFound):
        selectors.collection_get(user=member, collection_id=private.pk)
    with pytest.raises(NotFound):
        selectors.collection_get(user=AnonymousUser(), collection_id=private.pk)
    assert selectors.collection_get(user=member, collection_id=unlisted.pk) == unlisted


def test_a_collection_lists_only_what_the_viewer_may_list(owner, member, outsider):
    collection = Collection.objects.create(owner=member, title="Harbours")
    public = image_make(owner)
    unlisted = image_make(owner, visibility="unlisted")
    hidden = image_make(owner, hidden=True)
    for image in (public, unlisted, hidden):
        CollectionItem.objects.create(collection=collection, image=image)
    assert [i.pk for i in selectors.collection_images(user=outsider, collection=collection)] == [public.pk]
    assert {i.pk for i in selectors.collection_images(user=owner, collection=collection)} == {
        public.pk, unlisted.pk, hidden.pk}
