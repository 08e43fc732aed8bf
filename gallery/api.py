"""Gallery API: browse and search images, one image with its lineage and similar images,
likes, remix state, owner settings, import, reports and collections.

Register with `api.add_router("/", gallery.api.router)`. Reads are public: they answer
anonymous callers and, given a session or a bearer token, know who is asking (so owners
read their own private images). `public_auth.authenticators` holds the API's own
authenticators for that; site/api.py sets it before registering the router.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime

from django.contrib.auth.models import AnonymousUser
from django.core.files.storage import default_storage
from django.http import FileResponse, HttpResponse
from ninja import File, Router, Schema, Status
from ninja.files import UploadedFile
from pydantic import ConfigDict, Field

from gallery import export, selectors, services
from gallery.models import Collection
from generation.models import Image
from generation.uploads import MAX_UPLOAD_BYTES, UploadError


class PublicAuth:
    """The API's authenticators first (a valid token or session names the caller), then
    anonymous: a public read never answers 401."""

    def __init__(self) -> None:
        self.authenticators: list = []

    def __call__(self, request):
        for authenticate in self.authenticators:
            user = authenticate(request)
            if user:
                return user
        user = getattr(request, "user", None)
        return user if user is not None and user.is_authenticated else AnonymousUser()


public_auth = PublicAuth()
router = Router(tags=["gallery"])


# -- schemas ----------------------------------------------------------------------------


class AuthorOut(Schema):
    username: str
    url: str


class GalleryImageOut(Schema):
    id: int
    url: str
    thumbnail_url: str
    image_url: str
    width: int
    height: int
    blurhash: str
    color: str
    prompt: str
    author: AuthorOut
    model: str
    mode: str
    like_count: int
    remix_count: int
    liked: bool
    created_at: datetime
    score: float | None = None


class GalleryPageOut(Schema):
    items: list[GalleryImageOut]
    next_cursor: str | None


class ModifierOut(Schema):
    slug: str
    category: str
    name: str
    weight: float
    url: str


class ParametersOut(Schema):
    model: str
    mode: str
    size: str
    steps: int | None
    guidance: float | None
    seed: int | None
    sampler: str | None
    strength: float | None


class GalleryImageDetailOut(GalleryImageOut):
    negative_prompt: str
    parameters: ParametersOut
    modifiers: list[ModifierOut]
    visibility: str
    withheld: list[str]
    hidden: bool
    hidden_reason: str
    parent_id: int | None
    remix_of_id: int | None
    source_tool: str
    download_url: str
    is_owner: bool


class LikeOut(Schema):
    image_id: int
    liked: bool
    like_count: int


class RemixOut(Schema):
    subject: str
    modifiers: list[str]
    prompt: str
    negative_prompt: str
    dialect: str
    seed: int | None
    size: str
    steps: int | None
    guidance: float | None
    remix_of: int
    builder_url: str


class AncestorOut(Schema):
    id: int
    visible: bool
    image: GalleryImageOut | None


class RemixNodeOut(Schema):
    image: GalleryImageOut
    diff: list[list[str]] = Field(description='[["equal" | "ins" | "del", text], ...] against its parent')
    children: list[RemixNodeOut]


class LineageOut(Schema):
    ancestors: list[AncestorOut] = Field(description="the source of this image first, the root last")
    remix_of: GalleryImageOut | None
    remixes: list[RemixNodeOut]
    remix_total: int


class ImageUpdateIn(Schema):
    model_config = ConfigDict(extra="forbid")
    visibility: str | None = Field(None, description="public | unlisted | private")
    withheld: list[str] | None = Field(None, description="any of: seed, negative_prompt")


class ReportIn(Schema):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(description="policy | spam | copyright | other")
    note: str = ""


class ReportOut(Schema):
    id: int
    image_id: int
    reason: str
    status: str


class CollectionIn(Schema):
    model_config = ConfigDict(extra="forbid")
    title: str
    description: str = ""
    visibility: str = Field("public", description="public | unlisted | private")


class CollectionPatchIn(Schema):
    model_config = ConfigDict(extra="forbid")
    title: str | None = None
    description: str | None = None
    visibility: str | None = None


class CollectionItemIn(Schema):
    model_config = ConfigDict(extra="forbid")
    image_id: int


class CollectionOut(Schema):
    id: int
    title: str
    description: str
    visibility: str
    owner: AuthorOut
    item_count: int
    url: str
    download_url: str
    cover_urls: list[str]
    updated_at: datetime


class CollectionDetailOut(CollectionOut):
    images: list[GalleryImageOut]


# -- shaping ----------------------------------------------------------------------------


def _author(user) -> dict:
    return {"username": user.username, "url": f"/u/{user.username}"}


def image_card(image: Image, *, liked: set[int]) -> dict:
    return {
        "id": image.pk, "url": f"/i/{image.pk}",
        "thumbnail_url": default_storage.url(image.thumb_small or image.file),
        "image_url": default_storage.url(image.thumb_large or image.file),
        "width": image.width, "height": image.height, "blurhash": image.blurhash, "color": image.color,
        "prompt": image.prompt, "author": _author(image.owner), "model": image.model, "mode": image.mode,
        "like_count": image.like_count, "remix_count": image.remix_count, "liked": image.pk in liked,
        "created_at": image.created_at, "score": getattr(image, "score", None),
    }


def _cards(user, images: list[Image]) -> list[dict]:
    liked = selectors.liked_ids(user=user, image_ids=[image.pk for image in images])
    return [image_card(image, liked=liked) for image in images]


def image_detail(user, image: Image) -> dict:
    parameters = selectors.image_parameters(user=user, image=image)
    mine = selectors.is_owner(user, image)
    return {
        **image_card(image, liked=selectors.liked_ids(user=user, image_ids=[image.pk])),
        "negative_prompt": parameters.negative_prompt,
        "parameters": {"model": parameters.model, "mode": parameters.mode,
                       "size": f"{parameters.width}x{parameters.height}", "steps": parameters.steps,
                       "guidance": parameters.guidance, "seed": parameters.seed, "sampler": parameters.sampler,
                       "strength": parameters.strength},
        "modifiers": [{"slug": m.slug, "category": m.category, "name": m.name, "weight": m.weight, "url": m.url}
                      for m in selectors.image_modifiers(image=image)],
        "visibility": image.visibility, "withheld": sorted(image.withheld or []) if mine else [],
        "hidden": image.hidden, "hidden_reason": image.hidden_reason if mine else "",
        "parent_id": image.parent_id, "remix_of_id": image.remix_of_id, "source_tool": image.source_tool,
        "download_url": f"/api/v1/images/{image.pk}/download", "is_owner": mine,
    }


def _remix_node(node: selectors.RemixNode) -> dict:
    return {"image": image_card(node.image, liked=set()), "diff": node.diff,
            "children": [_remix_node(child) for child in node.children]}


def collection_out(collection: Collection) -> dict:
    covers = getattr(collection, "covers", None) or []
    return {
        "id": collection.pk, "title": collection.title, "description": collection.description,
        "visibility": collection.visibility, "owner": _author(collection.owner),
        "item_count": getattr(collection, "item_count", 0), "url": f"/c/{collection.pk}",
        "download_url": f"/api/v1/collections/{collection.pk}/download",
        "cover_urls": [default_storage.url(item.image.thumb_small or item.image.file) for item in covers],
        "updated_at": collection.updated_at,
    }


# -- images -----------------------------------------------------------------------------


@router.get("/images", response=GalleryPageOut, auth=public_auth,
            summary="Browse or search the gallery (keyset pages: pass next_cursor back as cursor)",
            description="Filters: `modifier` (slug, comma-separated for all of several), `model`, `mode`, "
                        "`has_remixes`, `author`. `sort`: new | top_day | top_week | top_all | trending | "
                        "relevance (the default with `q`). `search`: hybrid | keyword | semantic. "
                        "Unknown parameters answer 422 `unknown_filter`; a cursor that was altered, 400 "
                        "`invalid_cursor`.")
def images_list(request, q: str = "", search: str = "hybrid", sort: str = "", modifier: str = "", model: str = "",
                mode: str = "", has_remixes: str = "", author: str = "", cursor: str = "", limit: int | None = None):
    query = selectors.image_query_parse(request.GET, strict=True)
    page = selectors.images_list(user=request.auth, query=query, cursor=cursor or None,
                                 limit=selectors.page_size(limit))
    return {"items": _cards(request.auth, page.items), "next_cursor": page.next_cursor}


@router.post("/images/import", response={201: GalleryImageDetailOut}, summary="Import an image made elsewhere",
             description="Multipart, the image in field `file` (PNG, JPEG or WebP, at most 10 MB) carrying "
                         "generation metadata from AUTOMATIC1111, ComfyUI, InvokeAI or Atelier.")
def images_import(request, file: UploadedFile = File(...)):  # noqa: B008
    if file.size is not None and file.size > MAX_UPLOAD_BYTES:
        raise UploadError(f"The file is {file.size / 2**20:.1f} MB; uploads may be at most 10 MB.",
                          code="too_large", details={"bytes": file.size, "max_bytes": MAX_UPLOAD_BYTES})
    image = services.image_import(user=request.auth, data=file.read(MAX_UPLOAD_BYTES + 1))
    return Status(201, image_detail(request.auth, selectors.image_get(user=request.auth, image_id=image.pk)))


@router.get("/images/{image_id}", response=GalleryImageDetailOut, auth=public_auth, summary="One image and its recipe")
def images_get(request, image_id: int):
    return image_detail(request.auth, selectors.image_get(user=request.auth, image_id=image_id))


@router.patch("/images/{image_id}", response=GalleryImageDetailOut, summary="Owner: visibility and withheld fields")
def images_update(request, image_id: int, payload: ImageUpdateIn):
    services.image_update(user=request.auth, image_id=image_id, visibility=payload.visibility,
                          withheld=payload.withheld)
    return image_detail(request.auth, selectors.image_get(user=request.auth, image_id=image_id))


@router.delete("/images/{image_id}", response={204: None}, summary="Owner: delete the image and its files")
def images_delete(request, image_id: int):
    services.image_delete(user=request.auth, image_id=image_id)
    return Status(204, None)


@router.post("/images/{image_id}/like", response=LikeOut, summary="Like (once; again changes nothing)")
def images_like(request, image_id: int):
    return asdict(services.like_add(user=request.auth, image_id=image_id))


@router.delete("/images/{image_id}/like", response=LikeOut, summary="Take a like back")
def images_unlike(request, image_id: int):
    return asdict(services.like_remove(user=request.auth, image_id=image_id))


@router.get("/images/{image_id}/remix", response=RemixOut, auth=public_auth,
            summary="The builder's state for remixing this image")
def images_remix(request, image_id: int):
    image = selectors.image_get(user=request.auth, image_id=image_id)
    state = selectors.image_remix_state(user=request.auth, image=image)
    return {**state, "builder_url": selectors.remix_builder_url(state)}


@router.get("/images/{image_id}/lineage", response=LineageOut, auth=public_auth,
            summary="Sources up to the root, and the remix tree (depth 4) with prompt diffs")
def images_lineage(request, image_id: int):
    image = selectors.image_get(user=request.auth, image_id=image_id)
    lineage = selectors.image_lineage(user=request.auth, image=image)
    return {
        "ancestors": [{"id": node.image_id, "visible": node.image is not None,
                       "image": image_card(node.image, liked=set()) if node.image else None}
                      for node in lineage.ancestors],
        "remix_of": image_card(lineage.remix_of, liked=set()) if lineage.remix_of else None,
        "remixes": [_remix_node(node) for node in lineage.remixes],
        "remix_total": lineage.remix_total,
    }


@router.get("/images/{image_id}/similar", response=list[GalleryImageOut], auth=public_auth,
            summary="Images that look or read like this one")
def images_similar(request, image_id: int, limit: int = selectors.SIMILAR_COUNT):
    image = selectors.image_get(user=request.auth, image_id=image_id)
    return _cards(request.auth, selectors.images_similar(image=image, limit=max(1, min(limit, 48))))


@router.get("/images/{image_id}/download", auth=public_auth, summary="The original PNG with its recipe",
            response={200: bytes}, openapi_extra={"responses": {"200": {"content": {"image/png": {}}}}})
def images_download(request, image_id: int):
    image = selectors.image_get(user=request.auth, image_id=image_id)
    response = HttpResponse(export.png_for_viewer(user=request.auth, image=image), content_type="image/png")
    response["Content-Disposition"] = f'attachment; filename="{export.download_name(image)}"'
    return response


@router.post("/images/{image_id}/report", response={201: ReportOut}, summary="Report an image to the moderators")
def images_report(request, image_id: int, payload: ReportIn):
    report = services.report_create(user=request.auth, image_id=image_id, reason=payload.reason, note=payload.note)
    return Status(201, {"id": report.pk, "image_id": report.image_id, "reason": report.reason, "status": report.status})


# -- collections --------------------------------------------------------------------------


@router.get("/collections", response=list[CollectionOut], summary="My collections")
def collections_mine(request):
    return [collection_out(c) for c in selectors.collections_for_owner(user=request.auth)]


@router.post("/collections", response={201: CollectionOut}, summary="Create a collection")
def collections_create(request, payload: CollectionIn):
    collection = services.collection_create(user=request.auth, title=payload.title,
                                            description=payload.description, visibility=payload.visibility)
    collection.item_count = 0
    return Status(201, collection_out(collection))


@router.get("/collections/{collection_id}", response=CollectionDetailOut, auth=public_auth,
            summary="A collection and its images (private ones: their owner only)")
def collections_get(request, collection_id: int):
    collection = selectors.collection_get(user=request.auth, collection_id=collection_id)
    images = selectors.collection_images(user=request.auth, collection=collection)
    collection.item_count = len(images)
    collection.covers = []
    out = collection_out(collection)
    out["cover_urls"] = [default_storage.url(image.thumb_small or image.file) for image in images[:4]]
    return {**out, "images": _cards(request.auth, images)}


@router.patch("/collections/{collection_id}", response=CollectionOut, summary="Rename, describe, change visibility")
def collections_update(request, collection_id: int, payload: CollectionPatchIn):
    collection = services.collection_update(user=request.auth, collection_id=collection_id, title=payload.title,
                                            description=payload.description, visibility=payload.visibility)
    collection.item_count = collection.items.count()
    return collection_out(collection)


@router.delete("/collections/{collection_id}", response={204: None}, summary="Delete a collection (not its images)")
def collections_delete(request, collection_id: int):
    services.collection_delete(user=request.auth, collection_id=collection_id)
    return Status(204, None)


@router.post("/collections/{collection_id}/images", response={201: CollectionOut}, summary="Add an image")
def collections_add(request, collection_id: int, payload: CollectionItemIn):
    services.collection_item_add(user=request.auth, collection_id=collection_id, image_id=payload.image_id)
    collection = selectors.collection_get(user=request.auth, collection_id=collection_id)
    collection.item_count = collection.items.count()
    return Status(201, collection_out(collection))


@router.delete("/collections/{collection_id}/images/{image_id}", response={204: None}, summary="Remove an image")
def collections_remove(request, collection_id: int, image_id: int):
    services.collection_item_remove(user=request.auth, collection_id=collection_id, image_id=image_id)
    return Status(204, None)


@router.get("/collections/{collection_id}/download", auth=public_auth, response={200: bytes},
            summary="The collection as a zip: original PNGs and manifest.json",
            openapi_extra={"responses": {"200": {"content": {"application/zip": {}}}}})
def collections_download(request, collection_id: int):
    collection = selectors.collection_get(user=request.auth, collection_id=collection_id)
    archive = export.collection_zip(user=request.auth, collection=collection)
    return FileResponse(archive, as_attachment=True, filename=f"collection-{collection.pk}.zip",
                        content_type="application/zip")
