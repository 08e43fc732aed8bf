"""Gallery images for tests: a real tiny PNG (with both metadata chunks, as generation
writes it), its thumbnails and placeholder, in the test's own MEDIA_ROOT."""

from __future__ import annotations

import uuid
from datetime import datetime

import PIL.Image
from django.core.files.storage import default_storage
from django.db.models import F

from generation import imagefiles
from generation.models import Image

SAMPLER = "DDIM"
MODEL_LABEL = "atelier-embedded"


def picture_make(size=(16, 16), color=(200, 120, 40)) -> PIL.Image.Image:
    """A small gradient, so thumbnails and blurhash have something to show."""
    width, height = size
    picture = PIL.Image.new("RGB", size, color)
    pixels = picture.load()
    r, g, b = color
    for x in range(width):
        for y in range(height):
            fx, fy = x / max(width - 1, 1), y / max(height - 1, 1)
            pixels[x, y] = (min(255, int(r * (0.55 + 0.6 * fx))), min(255, int(g * (0.6 + 0.5 * fy))),
                            min(255, int(b * (1.1 - 0.5 * fx * fy))))
    return picture


def image_make(owner, *, prompt: str = "a lighthouse on a cliff, watercolor painting", negative_prompt: str = "",
               visibility: str = "public", hidden: bool = False, hidden_reason: str = "", seed: int = 1234,
               mode: str = "text2img", model: str = "embedded", parent: Image | None = None,
               remix_of: Image | None = None, recipe: dict | None = None, withheld=(),
               created_at: datetime | None = None, like_count: int = 0, size=(16, 16),
               color=(200, 120, 40), index: bool = False) -> Image:
    picture = picture_make(size, color)
    full_recipe = {"mode": mode, "prompt": prompt, "negative_prompt": negative_prompt, "model": model, "seed": seed,
                   "width": size[0], "height": size[1], "steps": 20, "guidance": 7.5, **(recipe or {})}
    meta = imagefiles.ImageMetadata(prompt=prompt, negative_prompt=negative_prompt, steps=20, sampler=SAMPLER,
                                    cfg_scale=7.5, seed=seed, width=size[0], height=size[1], model=MODEL_LABEL,
                                    recipe=full_recipe, withheld=frozenset(withheld))
    stem = f"images/test/{uuid.uuid4().hex}"
    names = {"file": f"{stem}.png", "small": f"{stem}-256.webp", "large": f"{stem}-768.webp"}
    imagefiles.file_write_atomic(storage=default_storage, name=names["file"],
                                 data=imagefiles.png_encode(picture, metadata=meta))
    thumbs = imagefiles.thumbnails_make(picture, widths=(256, 768))
    imagefiles.file_write_atomic(storage=default_storage, name=names["small"], data=thumbs[256])
    imagefiles.file_write_atomic(storage=default_storage, name=names["large"], data=thumbs[768])
    blurhash, dominant = imagefiles.placeholder_compute(picture)
    image = Image.objects.create(
        owner=owner, file=names["file"], thumb_small=names["small"], thumb_large=names["large"],
        width=size[0], height=size[1], blurhash=blurhash, color=dominant, prompt=prompt,
        negative_prompt=negative_prompt, recipe=full_recipe, mode=mode, model=model, seed=seed, parent=parent,
        remix_of=remix_of, visibility=visibility, hidden=hidden, hidden_reason=hidden_reason,
        withheld=sorted(withheld), like_count=like_count,
    )
    if remix_of is not None:
        Image.objects.filter(pk=remix_of.pk).update(remix_count=F("remix_count") + 1)
        remix_of.refresh_from_db()
    if created_at is not None:
        Image.objects.filter(pk=image.pk).update(created_at=created_at)
        image.refresh_from_db()
    if index:
        from gallery.indexing import images_index

        images_index(image_ids=[image.pk])
    return image


def media_files(root) -> list[str]:
    """Every file under the test's MEDIA_ROOT (relative paths), temp files included."""
    return sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file())


def catalog_loaded() -> None:
    """The modifier catalog in the test database, and no stale per-process snapshot of it
    (catalog_load invalidates on commit, which a test's transaction never reaches)."""
    from prompts.selectors import catalog_invalidate
    from prompts.services import catalog_load

    catalog_load()
    catalog_invalidate()
