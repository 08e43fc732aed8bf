"""Gallery writes: likes, owner settings, deletion, reports and moderation, collections."""

from __future__ import annotations

import pytest
from django.core.files.storage import default_storage

from gallery import services
from gallery.models import Collection, CollectionItem, Like, Report
from generation import imagefiles
from generation.models import Image
from prompts.errors import NotFound, ValidationFailed
from tests.gallery.image_factory import image_make, media_files

pytestmark = pytest.mark.django_db


# -- likes ------------------------------------------------------------------------------------


def test_like_once_toggle_and_counts(owner, member, outsider):
    image = image_make(owner)
    assert services.like_add(user=member, image_id=image.pk).like_count == 1
    assert services.like_add(user=member, image_id=image.pk).like_count == 1  # again: no change
    assert services.like_add(user=outsider, image_id=image.pk).like_count == 2
    state = services.like_toggle(user=member, image_id=image.pk)
    assert (state.liked, state.like_count) == (False, 1)
    state = services.like_toggle(user=member, image_id=image.pk)
    assert (state.liked, state.like_count) == (True, 2)
    assert services.like_remove(user=outsider, image_id=image.pk).like_count == 1
    assert services.like_remove(user=outsider, image_id=image.pk).like_count == 1  # nothing to remove
    image.refresh_from_db()
    assert image.like_count == Like.objects.filter(image=image).count() == 1


def test_unlisted_images_can_be_liked_by_link(owner, member):
    image = image_make(owner, visibility="unlisted")
    assert services.like_add(user=member, image_id=image.pk).liked


@pytest.mark.parametrize("kind", ["private", "hidden"])
def test_liking_hidden_or_someone_elses_private_image_is_404(owner, member, kind):
    image = image_make(owner, **({"visibility": "private"} if kind == "private" else {"hidden": True}))
    with pytest.raises(NotFound):
        services.like_add(user=member, image_id=image.pk)
    with pytest.raises(NotFound):
        services.like_remove(user=member, image_id=image.pk)
    assert not Like.objects.exists()


def test_owner_may_like_their_private_image_but_nobody_a_hidden_one(owner):
    assert services.like_add(user=owner, image_id=image_make(owner, visibility="private").pk).liked
    with pytest.raises(NotFound):
        services.like_add(user=owner, image_id=image_make(owner, hidden=True).pk)


def test_liking_a_missing_image_is_404(member):
    with pytest.raises(NotFound):
        services.like_add(user=member, image_id=424242)


# -- owner settings -----------------------------------------------------------------------------


def test_only_the_owner_changes_visibility(owner, member):
    image = image_make(owner)
    with pytest.raises(NotFound):
        services.image_update(user=member, image_id=image.pk, visibility="private")
    services.image_update(user=owner, image_id=image.pk, visibility="unlisted")
    image.refresh_from_db()
    assert image.visibility == "unlisted"
    with pytest.raises(ValidationFailed) as caught:
        services.image_update(user=owner, image_id=image.pk, visibility="secret")
    assert caught.value.code == "invalid_visibility"


def test_withholding_rewrites_the_stored_png_without_those_fields(owner):
    image = image_make(owner, negative_prompt="blurry, watermark", seed=987654)
    with pytest.raises(ValidationFailed):
        services.image_update(user=owner, image_id=image.pk, withheld=["prompt"])
    services.image_update(user=owner, image_id=image.pk, withheld=["seed", "negative_prompt"])
    with default_storage.open(image.file, "rb") as fh:
        chunks = imagefiles.png_metadata_read(fh.read())
    assert "987654" not in chunks["parameters"] and "987654" not in chunks["atelier"]
    assert "watermark" not in chunks["parameters"] and "watermark" not in chunks["atelier"]
    assert "Sampler: DDIM" in chunks["parameters"]  # the rest survives
    image.refresh_from_db()
    assert image.withheld == ["negative_prompt", "seed"]
    # Given back: the file carries them again, rebuilt from the row.
    services.image_update(user=owner, image_id=image.pk, withheld=[])
    with default_storage.open(image.file, "rb") as fh:
        chunks = imagefiles.png_metadata_read(fh.read())
    assert "Seed: 987654" in chunks["parameters"] and "watermark" in chunks["parameters"]


def test_delete_removes_row_and_files(owner, member, media_root, django_capture_on_commit_callbacks):
    image = image_make(owner)
    keep = image_make(owner)
    with pytest.raises(NotFound):
        services.image_delete(user=member, image_id=image.pk)
    with django_capture_on_commit_callbacks(execute=True):
        services.image_delete(user=owner, image_id=image.pk)
    assert not Image.objects.filter(pk=image.pk).exists()
    assert media_files(media_root) == sorted(
        name for name in (keep.file, keep.thumb_small, keep.thumb_large))


# -- reports and moderation ---------------------------------------------------------------------


def test_report_once_then_hide_resolves_then_restore(owner, member, outsider):
    image = image_make(owner)
    report = services.report_create(user=member, image_id=image.pk, reason="spam", note="ads")
    with pytest.raises(services.AlreadyReported):
        services.report_create(user=member, image_id=image.pk, reason="spam")
    with pytest.raises(ValidationFailed):
        services.report_create(user=outsider, image_id=image.pk, reason="boring")
    services.image_hide(image_id=image.pk, reason="Spam links")
    image.refresh_from_db()
    report.refresh_from_db()
    assert image.hidden and image.hidden_reason == "Spam links"
    assert report.status == Report.Status.HIDDEN and report.resolved_at is not None
    with pytest.raises(NotFound):  # a hidden image can no longer be reported
        services.report_create(user=outsider, image_id=image.pk, reason="spam")
    services.image_restore(image_id=image.pk)
    image.refresh_from_db()
    assert not image.hidden and image.hidden_reason == ""


def test_dismiss_leaves_the_image(owner, member):
    image = image_make(owner)
    report = services.report_create(user=member, image_id=image.pk, reason="other")
    assert services.reports_dismiss(report_ids=[report.pk]) == 1
    report.refresh_from_db()
    image.refresh_from_db()
    assert report.status == Report.Status.DISMISSED and not image.hidden


# -- collections --------------------------------------------------------------------------------


def test_collections_create_add_remove(owner, member):
    collection = services.collection_create(user=member, title="  Harbours ", visibility="unlisted")
    assert collection.title == "Harbours"
    public, unlisted = image_make(owner), image_make(owner, visibility="unlisted")
    services.collection_item_add(user=member, collection_id=collection.pk, image_id=public.pk)
    services.collection_item_add(user=member, collection_id=collection.pk, image_id=public.pk)  # once
    services.collection_item_add(user=member, collection_id=collection.pk, image_id=unlisted.pk)
    assert CollectionItem.objects.filter(collection=collection).count() == 2
    services.collection_item_remove(user=member, collection_id=collection.pk, image_id=public.pk)
    assert list(collection.images.all()) == [unlisted]


def test_collections_refuse_what_the_user_may_not_touch(owner, member):
    theirs = services.collection_create(user=owner, title="Owner's")
    mine = services.collection_create(user=member, title="Mine")
    private = image_make(owner, visibility="private")
    hidden = image_make(owner, hidden=True)
    public = image_make(owner)
    with pytest.raises(NotFound):
        services.collection_item_add(user=member, collection_id=theirs.pk, image_id=public.pk)
    for image in (private, hidden):
        with pytest.raises(NotFound):
            services.collection_item_add(user=member, collection_id=mine.pk, image_id=image.pk)
    with pytest.raises(NotFound):
        services.collection_delete(user=member, collection_id=theirs.pk)
    with pytest.raises(ValidationFailed):
        services.collection_create(user=member, title="   ")
    with pytest.raises(ValidationFailed):
        services.collection_create(user=member, title="x", visibility="friends")
    services.collection_delete(user=owner, collection_id=theirs.pk)
    assert not Collection.objects.filter(pk=theirs.pk).exists()
    assert Image.objects.filter(pk=public.pk).exists()
