"""Output files: the PNG that carries its recipe, display thumbnails, placeholders, and
the atomic write that puts each of them in storage.

Every image a job produces is written as a PNG with two text chunks: `parameters`, the
AUTOMATIC1111 text that other tools (A1111, ComfyUI, Civitai, exiftool) already read, and
`atelier`, the full recipe as versioned JSON, so an image downloaded from the gallery can
be imported and remixed elsewhere. Fields the owner withholds (seed, negative prompt) are
left out of both.

Names in storage are deterministic per job and index, so a task that runs twice, or
after a crash halfway, writes the same names with the same bytes and ends in the same
state as one clean run.
"""

from __future__ import annotations

import contextlib
import json
import os
import struct
import tempfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from io import BytesIO
from typing import Any

import blurhash
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage
from django.core.files.utils import validate_file_name
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from generation.uploads import UploadError

ATELIER_CHUNK_VERSION = 1
WITHHOLDABLE = frozenset({"seed", "negative_prompt"})
THUMBNAIL_WIDTHS = (256, 768)
WEBP_QUALITY = 82
PNG_COMPRESS_LEVEL = 6
# A text chunk bigger than this is not metadata we wrote or want to import; reading it
# (and inflating a compressed one) would only cost memory. Pillow uses the same bound.
MAX_TEXT_CHUNK_BYTES = 1024 * 1024
TEMP_PREFIX = ".tmp-"

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class ImageMetadata:
    prompt: str
    negative_prompt: str
    steps: int
    sampler: str
    cfg_scale: float
    seed: int
    width: int
    height: int
    model: str
    recipe: dict  # the full recipe, JSON-serialisable
    withheld: frozenset[str] = frozenset()  # "seed" and/or "negative_prompt"

    def __post_init__(self) -> None:
        unknown = set(self.withheld) - WITHHOLDABLE
        if unknown:
            raise ValueError(f"Only {sorted(WITHHOLDABLE)} can be withheld, not {sorted(unknown)}")


# -- metadata text ------------------------------------------------------------------------


def _a1111_quote(value: str) -> str:
    # A1111's own `quote()`: a value that would break its `key: value, ...` line is
    # written as a JSON string.
    if "," not in value and "\n" not in value and ":" not in value:
        return value
    return json.dumps(value, ensure_ascii=False)


def _number_text(value: float) -> str:
    """7.0 -> "7", 7.5 -> "7.5": how A1111 shows a CFG scale."""
    value = float(value)
    return str(int(value)) if value.is_integer() else repr(value)


def a1111_parameters(meta: ImageMetadata) -> str:
    """The AUTOMATIC1111 `parameters` text: prompt, negative prompt line, settings line."""
    fields: list[tuple[str, str]] = [
        ("Steps", str(int(meta.steps))),
        ("Sampler", meta.sampler),
        ("CFG scale", _number_text(meta.cfg_scale)),
    ]
    if "seed" not in meta.withheld:
        fields.append(("Seed", str(int(meta.seed))))
    fields.append(("Size", f"{int(meta.width)}x{int(meta.height)}"))
    fields.append(("Model", meta.model))

    lines = [meta.prompt]
    if meta.negative_prompt and "negative_prompt" not in meta.withheld:
        lines.append(f"Negative prompt: {meta.negative_prompt}")
    lines.append(", ".join(f"{key}: {_a1111_quote(value)}" for key, value in fields))
    return "\n".join(lines)


def _without_keys(value: Any, keys: frozenset[str]) -> Any:
    # Recursive, because the seed also sits in nested places (recipe["params"]["seed"],
    # a parent's mode inputs); a withheld field must not survive anywhere in the export.
    if isinstance(value, dict):
        return {k: _without_keys(v, keys) for k, v in value.items() if k not in keys}
    if isinstance(value, (list, tuple)):
        return [_without_keys(v, keys) for v in value]
    return value


def atelier_chunk(meta: ImageMetadata) -> str:
    """The `atelier` chunk: the recipe as canonical JSON, withheld fields removed."""
    payload = {
        "version": ATELIER_CHUNK_VERSION,
        "recipe": _without_keys(meta.recipe, frozenset(meta.withheld)),
        "withheld": sorted(meta.withheld),
    }
    return json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _add_text(info: PngInfo, key: str, value: str) -> None:
    if value.isascii():
        info.add_text(key, value)
    else:
        # tEXt is Latin-1 only; iTXt carries UTF-8 and every reader we care about reads it.
        info.add_itxt(key, value)


# -- PNG ----------------------------------------------------------------------------------


def png_encode(image: Image.Image, *, metadata: ImageMetadata) -> bytes:
    """PNG bytes with the `parameters` and `atelier` text chunks; same input, same bytes."""
    if image.mode not in ("RGB", "RGBA", "L"):
        image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
    info = PngInfo()
    _add_text(info, "parameters", a1111_parameters(metadata))
    _add_text(info, "atelier", atelier_chunk(metadata))
    out = BytesIO()
    # icc_profile=None and no exif: nothing from the source's `info` leaks into the file,
    # and the bytes depend only on the pixels and the metadata.
    image.save(out, format="PNG", pnginfo=info, compress_level=PNG_COMPRESS_LEVEL,
               optimize=False, icc_profile=None)
    return out.getvalue()


def _inflate_bounded(data: bytes) -> bytes:
    inflater = zlib.decompressobj()
    try:
        text = inflater.decompress(data, MAX_TEXT_CHUNK_BYTES + 1)
    except zlib.error as exc:
        raise UploadError("A compressed PNG text chunk is corrupt.", code="corrupt_image") from exc
    if len(text) > MAX_TEXT_CHUNK_BYTES or inflater.unconsumed_tail:
        raise UploadError("A PNG text chunk is larger than 1 MB.", code="metadata_too_large",
                          details={"max_bytes": MAX_TEXT_CHUNK_BYTES})
    return text


def _text_chunk(kind: bytes, body: bytes) -> tuple[str, str]:
    keyword, sep, rest = body.partition(b"\0")
    if not sep:
        raise ValueError("text chunk without a keyword terminator")
    key = keyword.decode("latin-1")
    if kind == b"tEXt":
        return key, rest.decode("latin-1")
    if kind == b"zTXt":
        return key, _inflate_bounded(rest[1:]).decode("latin-1")
    # iTXt: compression flag, method, language tag \0, translated keyword \0, UTF-8 text
    compressed, rest = rest[0], rest[2:]
    _language, _, rest = rest.partition(b"\0")
    _translated, _, text = rest.partition(b"\0")
    if compressed:
        text = _inflate_bounded(text)
    return key, text.decode("utf-8")


def png_metadata_read(data: bytes) -> dict[str, str]:
    """The text chunks (tEXt, zTXt, iTXt) of a PNG, read without decoding any pixels.

    Safe on untrusted uploads (gallery metadata import): it walks the chunk list only,
    and a compressed chunk is never inflated past `MAX_TEXT_CHUNK_BYTES`.
    """
    if not data.startswith(_PNG_SIGNATURE):
        raise UploadError("This is not a PNG file.", code="unsupported_format")
    texts: dict[str, str] = {}
    position = len(_PNG_SIGNATURE)
    while position + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[position:position + 8])
        body_start = position + 8
        body_end = body_start + length
        if body_end + 4 > len(data):
            raise UploadError("The PNG file is truncated.", code="corrupt_image")
        if kind in (b"tEXt", b"zTXt", b"iTXt"):
            if length > MAX_TEXT_CHUNK_BYTES:
                raise UploadError("A PNG text chunk is larger than 1 MB.", code="metadata_too_large",
                                  details={"max_bytes": MAX_TEXT_CHUNK_BYTES})
            try:
                key, value = _text_chunk(kind, data[body_start:body_end])
            except (ValueError, IndexError) as exc:  # UnicodeDecodeError is a ValueError
                raise UploadError("A PNG text chunk is corrupt.", code="corrupt_image") from exc
            texts.setdefault(key, value)
        if kind == b"IEND":
            break
        position = body_end + 4  # skip the CRC
    return texts


# -- display sizes ------------------------------------------------------------------------


def _display_mode(image: Image.Image) -> Image.Image:
    if image.mode in ("RGB", "RGBA"):
        return image
    has_alpha = "A" in image.getbands() or "transparency" in image.info
    return image.convert("RGBA" if has_alpha else "RGB")


def _resize_to_width(image: Image.Image, width: int) -> Image.Image:
    height = max(1, round(image.height * width / image.width))
    if (width, height) == image.size:
        return image
    return image.resize((width, height), Image.Resampling.LANCZOS)


def upscale_for_display(image: Image.Image, *, min_side: int = 512) -> Image.Image:
    """The image enlarged (LANCZOS, aspect kept) until its shorter side is `min_side`.

    The embedded model draws 64 px images; browsers upscale those with a blurry bilinear
    filter or, worse, nearest-neighbour blocks. An image already big enough is returned
    as it is.
    """
    shorter = min(image.size)
    if shorter >= min_side:
        return image
    return _resize_to_width(_display_mode(image), round(image.width * min_side / shorter))


def thumbnails_make(image: Image.Image, *, widths: Iterable[int] = THUMBNAIL_WIDTHS) -> dict[int, bytes]:
    """WebP bytes for each display width, aspect kept.

    These are display sizes, so a small model output is enlarged to the width, smoothly
    (one LANCZOS step straight to the target, the same filter as `upscale_for_display`;
    going through an intermediate size would resample twice).
    """
    source = _display_mode(image)
    thumbnails: dict[int, bytes] = {}
    for width in widths:
        if width <= 0:
            raise ValueError(f"Thumbnail width must be positive, not {width}")
        out = BytesIO()
        _resize_to_width(source, width).save(out, format="WEBP", quality=WEBP_QUALITY, method=4)
        thumbnails[width] = out.getvalue()
    return thumbnails


def placeholder_compute(image: Image.Image) -> tuple[str, str]:
    """(blurhash, dominant colour "#rrggbb") to paint while the thumbnail loads."""
    small = image.convert("RGB")
    small.thumbnail((32, 32), Image.Resampling.BOX)  # blurhash cost grows with pixels

    # Dominant = the biggest of a few median-cut clusters, not the mean (the mean of a
    # red-and-blue image is a purple that appears nowhere in it).
    quantized = small.quantize(colors=4, method=Image.Quantize.MEDIANCUT)
    count, index = max(quantized.getcolors())
    palette = quantized.getpalette() or []
    r, g, b = palette[index * 3:index * 3 + 3]

    # blurhash.encode closes the image it is given, so it gets its own copy.
    hash_ = blurhash.encode(small.copy(), 4, 3)
    return hash_, f"#{r:02x}{g:02x}{b:02x}"


# -- storage --------------------------------------------------------------------------------


def _fsync_directory(path: str) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # platforms that cannot open a directory (Windows)
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


def _same_bytes(path: str, data: bytes) -> bool:
    try:
        if os.path.getsize(path) != len(data):
            return False
        with open(path, "rb") as existing:
            return existing.read() == data
    except FileNotFoundError:
        return False


def _write_local(storage: FileSystemStorage, name: str, data: bytes) -> str:
    final_path = storage.path(name)  # safe_join: refuses names outside the storage root
    if _same_bytes(final_path, data):
        return name
    folder = os.path.dirname(final_path)
    os.makedirs(folder, exist_ok=True)
    # The temp file sits in the final folder so os.replace is a rename on one file
    # system (atomic). A crash between mkstemp and replace leaves a `.tmp-*` file and
    # nothing under the final name; a cleanup may delete `.tmp-*` files older than an hour.
    fd, temp_path = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=folder)
    try:
        with os.fdopen(fd, "wb") as temp:
            temp.write(data)
            temp.flush()
            os.fsync(temp.fileno())
        # mkstemp creates 0600; readers such as a web server serving MEDIA_ROOT need
        # the mode Django would have given the file.
        os.chmod(temp_path, storage.file_permissions_mode or 0o644)
        os.replace(temp_path, final_path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_path)
        raise
    _fsync_directory(folder)
    return name


def _write_remote(storage, name: str, data: bytes) -> str:
    if storage.exists(name):
        if storage.size(name) == len(data):
            with storage.open(name, "rb") as existing:
                if existing.read() == data:
                    return name
        if storage.get_available_name(name) != name:
            # This storage would save under a new, suffixed name; make room instead.
            # (S3 with file_overwrite=True overwrites in one atomic PUT and skips this.)
            storage.delete(name)
    saved = storage.save(name, ContentFile(data))
    if saved != name:
        storage.delete(saved)
        raise RuntimeError(f"Storage saved {name!r} as {saved!r}; another writer raced this one")
    return saved


def file_write_atomic(*, storage, name: str, data: bytes) -> str:
    """Write `data` under exactly `name` so a reader never sees a half-written file.

    Idempotent: identical bytes already there are left alone; different bytes are
    replaced atomically. Returns the stored name, which is always `name`.
    """
    validate_file_name(name, allow_relative_path=True)
    if isinstance(storage, FileSystemStorage):
        return _write_local(storage, name, data)
    return _write_remote(storage, name, data)
