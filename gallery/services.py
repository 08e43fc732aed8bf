"""Writes for the gallery: visibility and withholding, likes, reports and moderation,
collections, and importing another tool's image with its recipe.

Each function checks first (the image exists and this user may act on it: a 404 for
anything the user may not see, so existence never leaks), then changes rows inside one
transaction; counters move with F() expressions.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from io import BytesIO

import PIL.Image
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from gallery import export
from gallery.indexing import images_index
from gallery.metadata import ImportedRecipe, MetadataError, metadata_read
from gallery.models import Collection, CollectionItem, Like, Report
from generation import imagefiles
from generation.imagefiles import WITHHOLDABLE
from generation.models import Image, Job
from generation.policy import account_check_active, texts_check
from generation.services import image_delete as generation_image_delete
from generation.uploads import ALLOWED_FORMATS, MAX_UPLOAD_BYTES, UploadError, upload_open
from prompts.errors import AtelierError, NotFound, ValidationFailed

logger = logging.getLogger(__name__)

COLLECTION_MAX_ITEMS = 500
MAX_IMPORT_BYTES = MAX_UPLOAD_BYTES
COLLECTIONS_MAX_PER_USER = 200
MAX_SEED_COLUMN = 2**63 - 1  # Image.seed is a signed 64-bit column; ComfyUI seeds go to 2**64 - 1


class AlreadyReported(AtelierError):
    status = 409
    code = "already_reported"


# -- checks -----------------------------------------------------------------------------


def _image_for_viewer(*, user, image_id: int, lock: bool = False) -> Image:
    """An image the user may act on as a viewer: reachable by link and not hidden.
    (A hidden image is gone for everyone but its owner, who may only read or delete it.)"""
    qs = Image.objects.select_for_update() if lock else Image.objects
    image = qs.filter(pk=image_id).first()
    if image is None or not image.visible_to(user) or image.hidden:
        raise NotFound("No such image.")
    return image


def _image_for_owner(*, user, image_id: int) -> Image:
    image = Image.objects.filter(pk=image_id, owner_id=getattr(user, "pk", None)).first()
    if image is None:
        raise NotFound("No such image.")
    return image


def _after_commit_index(image_ids: list[int]) -> None:
    def run():
        try:
            images_index(image_ids=image_ids)
        except Exception:  # the index can be rebuilt; the change itself stands
            logger.exception("re-indexing images %s failed", image_ids)

    transaction.on_commit(run)


# -- visibility, withholding, deletion ----------------------------------------------------


def image_update(*, user, image_id: int, visibility: str | None = None,
                 withheld: list[str] | None = None) -> Image:
    """The owner changes who sees the image and which recipe fields are withheld.

    Withholding also rewrites the stored PNG without those fields: the file is served
    from the media folder as it is, and a withheld seed must not be readable there."""
    image = _image_for_owner(user=user, image_id=image_id)
    fields: list[str] = []
    if visibility is not None:
        if visibility not in Image.Visibility.values:
            raise ValidationFailed(f"visibility must be one of {', '.join(Image.Visibility.values)}.",
                                   code="invalid_visibility", details={"field": "visibility"})
        if visibility != image.visibility:
            image.visibility = visibility
            fields.append("visibility")
    rewrite = False
    if withheld is not None:
        unknown = sorted(set(withheld) - WITHHOLDABLE)
        if unknown:
            raise ValidationFailed(f"Only {', '.join(sorted(WITHHOLDABLE))} can be withheld, not {', '.join(unknown)}.",
                                   code="invalid_withheld", details={"field": "withheld", "allowed": sorted(WITHHOLDABLE)})
        wanted = sorted(set(withheld))
        if wanted != sorted(image.withheld or []):
            image.withheld = wanted
            fields.append("withheld")
            rewrite = True
    if not fields:
        return image
    if rewrite:
        # Written before the row: if the write fails the row still says what the file holds.
        export.file_rewrite(image=image)
    with transaction.atomic():
        image.save(update_fields=fields)
        _after_commit_index([image.pk])
    return image


def image_delete(*, user, image_id: int) -> None:
    """Owners delete their images; generation removes the row and the files."""
    generation_image_delete(user=user, image_id=image_id)


# -- likes ------------------------------------------------------------------------------


@dataclass(frozen=True)
class LikeState:
    image_id: int
    liked: bool
    like_count: int


def _like_state(image_id: int, liked: bool) -> LikeState:
    count = Image.objects.filter(pk=image_id).values_list("like_count", flat=True).first() or 0
    return LikeState(image_id=image_id, liked=liked, like_count=count)


def like_add(*, user, image_id: int) -> LikeState:
    """Like once; liking again changes nothing."""
    image = _image_for_viewer(user=user, image_id=image_id)
    try:
        with transaction.atomic():
            Like.objects.create(user=user, image=image)
            Image.objects.filter(pk=image.pk).update(like_count=F("like_count") + 1)
    except IntegrityError:
        pass  # already liked (perhaps by a concurrent click): the unique constraint says so
    return _like_state(image.pk, True)


def like_remove(*, user, image_id: int) -> LikeState:
    image = _image_for_viewer(user=user, image_id=image_id)
    with transaction.atomic():
        deleted, _ = Like.objects.filter(user=user, image=image).delete()
        if deleted:
            Image.objects.filter(pk=image.pk, like_count__gt=0).update(like_count=F("like_count") - 1)
    return _like_state(image.pk, False)


def like_toggle(*, user, image_id: int) -> LikeState:
    if Like.objects.filter(user=user, image_id=image_id).exists():
        return like_remove(user=user, image_id=image_id)
    return like_add(user=user, image_id=image_id)


# -- reports and moderation ---------------------------------------------------------------


def report_create(*, user, image_id: int, reason: str, note: str = "") -> Report:
    image = _image_for_viewer(user=user, image_id=image_id)
    if reason not in Report.Reason.values:
        raise ValidationFailed(f"reason must be one of {', '.join(Report.Reason.values)}.",
                               code="invalid_reason", details={"field": "reason", "allowed": Report.Reason.values})
    note = (note or "").replace("\x00", "").strip()
    if len(note) > 500:
        raise ValidationFailed("The note is longer than 500 characters.", code="too_long", details={"field": "note"})
    try:
        with transaction.atomic():
            return Report.objects.create(image=image, reporter=user, reason=reason, note=note)
    except IntegrityError:
        raise AlreadyReported("You have already reported this image; a moderator will look at it.") from None


def image_hide(*, image_id: int, reason: str, by=None) -> Image:
    """A moderator hides an image: gone from every listing and link but its owner's, who
    sees the reason. Open reports on it are resolved."""
    reason = (reason or "").strip()[:300] or "Hidden by a moderator."
    with transaction.atomic():
        changed = Image.objects.filter(pk=image_id).update(hidden=True, hidden_reason=reason)
        if not changed:
            raise NotFound("No such image.")
        Report.objects.filter(image_id=image_id, status=Report.Status.OPEN).update(
            status=Report.Status.HIDDEN, resolved_at=timezone.now(),
            resolution=f"Hidden{f' by {by}' if by else ''}: {reason}"[:300])
        _after_commit_index([image_id])
    return Image.objects.get(pk=image_id)


def image_restore(*, image_id: int) -> Image:
    with transaction.atomic():
        if not Image.objects.filter(pk=image_id).update(hidden=False, hidden_reason=""):
            raise NotFound("No such image.")
        _after_commit_index([image_id])
    return Image.objects.get(pk=image_id)


def reports_dismiss(*, report_ids: list[int], by=None) -> int:
    return Report.objects.filter(pk__in=report_ids, status=Report.Status.OPEN).update(
        status=Report.Status.DISMISSED, resolved_at=timezone.now(),
        resolution=f"Dismissed{f' by {by}' if by else ''}")


# -- collections ------------------------------------------------------------------------


def _collection_fields(title: str | None, description: str | None, visibility: str | None) -> dict:
    fields = {}
    if title is not None:
        title = title.replace("\x00", "").strip()
        if not title:
            raise ValidationFailed("A collection needs a title.", code="title_required", details={"field": "title"})
        if len(title) > 120:
            raise ValidationFailed("The title is longer than 120 characters.", code="too_long", details={"field": "title"})
        fields["title"] = title
    if description is not None:
        description = description.replace("\x00", "").strip()
        if len(description) > 2000:
            raise ValidationFailed("The description is longer than 2,000 characters.", code="too_long",
                                   details={"field": "description"})
        fields["description"] = description
    if visibility is not None:
        if visibility not in Collection.Visibility.values:
            raise ValidationFailed(f"visibility must be one of {', '.join(Collection.Visibility.values)}.",
                                   code="invalid_visibility", details={"field": "visibility"})
        fields["visibility"] = visibility
    return fields


def collection_create(*, user, title: str, description: str = "", visibility: str = "public") -> Collection:
    fields = _collection_fields(title, description, visibility)
    if Collection.objects.filter(owner=user).count() >= COLLECTIONS_MAX_PER_USER:
        raise ValidationFailed(f"You have {COLLECTIONS_MAX_PER_USER} collections already.", code="too_many_collections")
    return Collection.objects.create(owner=user, **fields)


def _collection_for_owner(*, user, collection_id: int) -> Collection:
    collection = Collection.objects.filter(pk=collection_id, owner_id=getattr(user, "pk", None)).first()
    if collection is None:
        raise NotFound("No such collection.")
    return collection


def collection_update(*, user, collection_id: int, title: str | None = None, description: str | None = None,
                      visibility: str | None = None) -> Collection:
    collection = _collection_for_owner(user=user, collection_id=collection_id)
    fields = _collection_fields(title, description, visibility)
    for name, value in fields.items():
        setattr(collection, name, value)
    if fields:
        collection.save(update_fields=[*fields, "updated_at"])
    return collection


def collection_delete(*, user, collection_id: int) -> None:
    _collection_for_owner(user=user, collection_id=collection_id).delete()


def collection_item_add(*, user, collection_id: int, image_id: int) -> CollectionItem:
    """Add an image the user may see (their own, or anyone's not private and not hidden)."""
    with transaction.atomic():
        collection = (Collection.objects.select_for_update()
                      .filter(pk=collection_id, owner_id=getattr(user, "pk", None)).first())
        if collection is None:
            raise NotFound("No such collection.")
        image = _image_for_viewer(user=user, image_id=image_id)
        existing = CollectionItem.objects.filter(collection=collection, image=image).first()
        if existing is not None:
            return existing
        if CollectionItem.objects.filter(collection=collection).count() >= COLLECTION_MAX_ITEMS:
            raise ValidationFailed(f"A collection holds at most {COLLECTION_MAX_ITEMS} images.",
                                   code="collection_full", details={"max": COLLECTION_MAX_ITEMS})
        item = CollectionItem.objects.create(collection=collection, image=image)
        collection.save(update_fields=["updated_at"])
    return item


def collection_item_remove(*, user, collection_id: int, image_id: int) -> None:
    collection = _collection_for_owner(user=user, collection_id=collection_id)
    with transaction.atomic():
        if CollectionItem.objects.filter(collection=collection, image_id=image_id).delete()[0]:
            collection.save(update_fields=["updated_at"])


# -- import -----------------------------------------------------------------------------


def _recipe_json(recipe: ImportedRecipe, picture: PIL.Image.Image, seed: int | None) -> dict:
    """The Atelier recipe of an imported image. Settings the tool did not record stay out."""
    data = {
        "mode": Job.Mode.TEXT2IMG, "prompt": recipe.prompt, "negative_prompt": recipe.negative_prompt,
        "model": recipe.model or "", "seed": seed, "width": recipe.width or picture.width,
        "height": recipe.height or picture.height, "steps": recipe.steps, "guidance": recipe.cfg_scale,
        "sampler": recipe.sampler, "source_tool": recipe.tool,
    }
    extra = dict(recipe.extra)
    if recipe.tool == "atelier":
        # Atelier's own chunk carries the builder state; it becomes the recipe's again.
        for key in ("subject", "modifiers", "dialect"):
            if key in extra:
                data[key] = extra.pop(key)
    if extra:
        data["imported"] = extra
    return {key: value for key, value in data.items() if value is not None}


def _metadata_for_import(data: bytes) -> ImportedRecipe:
    # upload_open hands back bare pixels; the text chunks and EXIF are read from a second,
    # header-only open of the same bytes (already vetted as a safe image by upload_open).
    try:
        with PIL.Image.open(BytesIO(data), formats=ALLOWED_FORMATS) as source:
            return metadata_read(source)
    except (OSError, ValueError, SyntaxError, EOFError) as exc:  # MetadataError is none of these
        raise UploadError("The image's metadata is damaged or too large.", code="corrupt_metadata") from exc


def image_import(*, user, data: bytes) -> Image:
    """Bring in an image made elsewhere (A1111, ComfyUI, InvokeAI, Atelier) with its recipe.

    Refused with a 400 and nothing stored: not an image, too big, a decompression bomb,
    no generation metadata, malformed metadata, or text the content policy refuses."""
    account_check_active(user=user)
    picture = upload_open(data)
    try:
        recipe = _metadata_for_import(data)
    except MetadataError as exc:
        if exc.code == "no_metadata":
            raise MetadataError("no generation metadata found", code="no_metadata",
                                details={"readers": ["atelier", "invokeai", "comfyui", "automatic1111"]}) from None
        raise
    if not recipe.prompt:
        raise MetadataError("no generation metadata found: the image's metadata has no prompt", code="no_metadata")
    texts = {"prompt": recipe.prompt, "negative_prompt": recipe.negative_prompt,
             "metadata": "\n".join(t for t in recipe.texts() if t not in (recipe.prompt, recipe.negative_prompt))}
    texts_check(user=user, texts=texts)

    seed = recipe.seed if recipe.seed is not None and recipe.seed <= MAX_SEED_COLUMN else None
    recipe_json = _recipe_json(recipe, picture, recipe.seed)
    png = export.png_build(picture=picture, prompt=recipe.prompt, negative_prompt=recipe.negative_prompt,
                           recipe=recipe_json, sampler=recipe.sampler, model_label=recipe.model or "unknown",
                           withheld=frozenset())
    thumbs = imagefiles.thumbnails_make(picture, widths=imagefiles.THUMBNAIL_WIDTHS)
    blurhash, color = imagefiles.placeholder_compute(picture)
    stem = f"imports/{timezone.now():%Y%m}/{uuid.uuid4().hex}"
    names = {"file": f"{stem}.png", "small": f"{stem}-256.webp", "large": f"{stem}-768.webp"}
    written: list[str] = []
    try:
        written.append(imagefiles.file_write_atomic(storage=default_storage, name=names["file"], data=png))
        written.append(imagefiles.file_write_atomic(storage=default_storage, name=names["small"], data=thumbs[256]))
        written.append(imagefiles.file_write_atomic(storage=default_storage, name=names["large"], data=thumbs[768]))
        with transaction.atomic():
            image = Image.objects.create(
                owner=user, file=names["file"], thumb_small=names["small"], thumb_large=names["large"],
                width=picture.width, height=picture.height, blurhash=blurhash, color=color,
                prompt=recipe.prompt, negative_prompt=recipe.negative_prompt, recipe=recipe_json,
                mode=Job.Mode.TEXT2IMG, model=(recipe.model or "")[:200], seed=seed,
                source_tool=recipe.tool[:32],
            )
        try:
            # After the row's commit: embedding the prompt takes a while and must not hold
            # the database's write lock. An image that cannot be indexed is not imported.
            images_index(image_ids=[image.pk])
        except BaseException:
            Image.objects.filter(pk=image.pk).delete()
            raise
    except BaseException:
        for name in written:
            default_storage.delete(name)
        raise
    return image
