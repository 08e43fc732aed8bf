"""Exporting images: the original PNG with its recipe, minus what the owner withholds,
and a collection as a zip of PNGs with a manifest.

Every PNG Atelier writes carries two text chunks (see generation.imagefiles): A1111's
`parameters` and the `atelier` recipe. When the owner withholds the seed or the negative
prompt, the stored file is rewritten without them (it is served from the media folder as
it is), and downloads by anyone but the owner are re-encoded without them too.
"""

from __future__ import annotations

import json
import tempfile
import zipfile
from io import BytesIO
from typing import IO

import PIL.Image
from django.core.files.storage import default_storage
from django.utils import timezone

from gallery.metadata import MetadataError, a1111_parse
from gallery.selectors import collection_images, withheld_for
from generation import imagefiles
from generation.models import Image

ZIP_SPOOL_BYTES = 32 * 1024 * 1024  # a bigger zip goes to a temporary file on disk


def png_build(*, picture: PIL.Image.Image, prompt: str, negative_prompt: str, recipe: dict,
              sampler: str | None, model_label: str, withheld: frozenset[str]) -> bytes:
    """PNG bytes with both metadata chunks; settings the recipe lacks are written as 0."""
    seed = recipe.get("seed")
    # A seed nobody recorded is left out of the A1111 line the same way a withheld one is.
    line_withheld = set(withheld) | ({"seed"} if seed is None else set())
    meta = imagefiles.ImageMetadata(
        prompt=prompt, negative_prompt=negative_prompt, steps=int(recipe.get("steps") or 0),
        sampler=sampler or "unknown", cfg_scale=float(recipe.get("guidance") or 0), seed=int(seed or 0),
        width=picture.width, height=picture.height, model=model_label,
        recipe=recipe, withheld=frozenset(line_withheld),
    )
    return imagefiles.png_encode(picture, metadata=meta)


def _stored(image: Image) -> bytes:
    with default_storage.open(image.file, "rb") as fh:
        return fh.read()


def _reencoded(image: Image, data: bytes, *, withheld: frozenset[str]) -> bytes:
    """The stored pixels with metadata rebuilt from the row (which always holds the full
    recipe), keeping the sampler and model label the stored file was written with."""
    chunks = imagefiles.png_metadata_read(data)
    recipe = dict(image.recipe or {})
    recipe.setdefault("prompt", image.prompt)
    recipe.setdefault("negative_prompt", image.negative_prompt)
    if image.seed is not None:
        recipe["seed"] = recipe.get("seed", image.seed)
    sampler, label = recipe.get("sampler"), recipe.get("model") or image.model
    try:
        written = a1111_parse(chunks.get("parameters", ""))
        sampler, label = written.sampler or sampler, written.model or label
    except MetadataError:
        pass  # a settings line we cannot read back: the recipe's values do
    with PIL.Image.open(BytesIO(data), formats=["PNG"]) as source:
        source.load()
        picture = source.copy()
    return png_build(picture=picture, prompt=image.prompt, negative_prompt=image.negative_prompt, recipe=recipe,
                     sampler=sampler, model_label=label or "unknown", withheld=withheld)


def file_rewrite(*, image: Image) -> None:
    """Rewrite the stored PNG so it carries exactly what `image.withheld` allows."""
    data = _stored(image)
    imagefiles.file_write_atomic(storage=default_storage, name=image.file,
                                 data=_reencoded(image, data, withheld=frozenset(image.withheld or ())))


def png_for_viewer(*, user, image: Image) -> bytes:
    """The original PNG as this viewer may have it: everything for the owner, the
    withheld fields removed for everyone else."""
    data = _stored(image)
    if not image.withheld:
        return data
    return _reencoded(image, data, withheld=withheld_for(user, image))


def download_name(image: Image) -> str:
    return f"atelier-{image.pk}.png"


def _manifest_entry(user, image: Image, name: str) -> dict:
    withheld = withheld_for(user, image)
    entry = {
        "file": name, "id": image.pk, "url": f"/i/{image.pk}", "author": image.owner.username,
        "prompt": image.prompt, "model": image.model, "mode": image.mode,
        "width": image.width, "height": image.height, "created_at": image.created_at.isoformat(),
        "parent": image.parent_id, "remix_of": image.remix_of_id, "withheld": sorted(image.withheld or []),
    }
    if "negative_prompt" not in withheld:
        entry["negative_prompt"] = image.negative_prompt
    if "seed" not in withheld:
        entry["seed"] = image.seed
    if image.source_tool:
        entry["source_tool"] = image.source_tool
    return entry


def collection_zip(*, user, collection) -> IO[bytes]:
    """A zip of the collection's PNGs (as this viewer may have them) and manifest.json;
    a file object positioned at its start."""
    images = collection_images(user=user, collection=collection)
    spool = tempfile.SpooledTemporaryFile(max_size=ZIP_SPOOL_BYTES)  # noqa: SIM115 - the response closes it
    entries = []
    with zipfile.ZipFile(spool, "w") as archive:
        for position, image in enumerate(images, start=1):
            name = f"{position:03d}-{image.pk}.png"
            # PNG data is compressed already; storing it saves time and nothing else.
            archive.writestr(zipfile.ZipInfo(name, date_time=image.created_at.timetuple()[:6]),
                             png_for_viewer(user=user, image=image), compress_type=zipfile.ZIP_STORED)
            entries.append(_manifest_entry(user, image, name))
        manifest = {
            "collection": {"id": collection.pk, "title": collection.title, "description": collection.description,
                           "owner": collection.owner.username, "url": f"/c/{collection.pk}",
                           "visibility": collection.visibility},
            "exported_at": timezone.now().isoformat(), "exported_by_owner": is_owner_of(user, collection),
            "images": entries,
        }
        archive.writestr("manifest.json", json.dumps(manifest, ensure_ascii=False, indent=2),
                         compress_type=zipfile.ZIP_DEFLATED)
    spool.seek(0)
    return spool


def is_owner_of(user, collection) -> bool:
    return user is not None and user.is_authenticated and user.pk == collection.owner_id

