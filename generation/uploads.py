"""Safe decoding of user uploads: source images for variation/edit/outpaint, edit masks,
and images brought in by the gallery's metadata import.

An upload is hostile until decoded: it may be huge, lie about its format, declare
50,000 x 50,000 pixels in a 100-byte header, or inflate from a few KB into gigabytes.
`upload_open` refuses each of those with its own error code before any pixel buffer is
allocated, and hands back a fully loaded, upright RGB or RGBA image.
"""

from __future__ import annotations

import struct
import warnings
import zlib
from io import BytesIO

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from prompts.errors import AtelierError

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_SIDE = 4096
ALLOWED_FORMATS = ("PNG", "JPEG", "WEBP")
MASK_ALPHA_THRESHOLD = 128  # alpha below this marks a pixel to repaint

# Everything a decoder may raise on bad input. Anything else is a bug and should surface.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError,
                  struct.error, zlib.error)


class UploadError(AtelierError):
    status = 400
    code = "bad_upload"


class MaskError(AtelierError):
    status = 422
    code = "bad_mask"


def _refuse_too_many_pixels(size: tuple[int, int], max_side: int) -> None:
    if max(size) > max_side:
        width, height = size
        raise UploadError(
            f"The image is {width}x{height} pixels; each side may be at most {max_side}.",
            code="too_many_pixels",
            details={"width": width, "height": height, "max_side": max_side},
        )


def _header_size(data: bytes) -> tuple[int, int] | None:
    """The size a PNG/JPEG/WebP header declares, read without Pillow's bomb check.

    Only used after `Image.open` refused the image as a decompression bomb, to tell an
    image that is simply too big (the common case) from a true bomb. Constructing the
    plugin class parses the header; it never touches pixel data.
    """
    from PIL import JpegImagePlugin, PngImagePlugin, WebPImagePlugin

    for plugin in (PngImagePlugin.PngImageFile, JpegImagePlugin.JpegImageFile,
                   WebPImagePlugin.WebPImageFile):
        try:
            with plugin(BytesIO(data)) as header:
                return header.size
        except _DECODE_ERRORS:
            continue
    return None


def _open_header(data: bytes, max_side: int) -> ImageFile.ImageFile:
    bomb = UploadError(
        "The image would expand to far more pixels than its file size suggests.",
        code="decompression_bomb",
    )
    with warnings.catch_warnings():
        # Per call, not by lowering Image.MAX_IMAGE_PIXELS for the whole process.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            # formats=: only these decoders ever see the bytes (no SVG, TIFF, EPS, ...).
            image = Image.open(BytesIO(data), formats=ALLOWED_FORMATS)
        except UnidentifiedImageError as exc:
            raise UploadError(
                "Upload a PNG, JPEG or WebP image.",
                code="unsupported_format",
                details={"allowed": list(ALLOWED_FORMATS)},
            ) from exc
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            size = _header_size(data)
            if size is not None:
                _refuse_too_many_pixels(size, max_side)
            raise bomb from exc
        except _DECODE_ERRORS as exc:
            raise UploadError("The image file is damaged.", code="corrupt_image") from exc
    _refuse_too_many_pixels(image.size, max_side)
    return image


def _load(image: ImageFile.ImageFile) -> None:
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        # With this global on, Pillow pads a truncated file with grey instead of failing.
        raise RuntimeError("PIL.ImageFile.LOAD_TRUNCATED_IMAGES must stay False")
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image.load()
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise UploadError(
                "The image would expand to far more pixels than its file size suggests.",
                code="decompression_bomb",
            ) from exc
        except _DECODE_ERRORS as exc:
            raise UploadError(
                "The image file is damaged or cut short.", code="corrupt_image"
            ) from exc


def _upright(image: Image.Image) -> Image.Image:
    try:
        return ImageOps.exif_transpose(image)
    except _DECODE_ERRORS:
        # Unreadable EXIF is common in phone photos; show the pixels as stored rather
        # than refuse the upload.
        return image.copy()


def _to_8bit(image: Image.Image) -> Image.Image:
    """16- and 32-bit greyscale scaled (not clipped) to 8 bits."""
    if image.mode.startswith("I;16") or image.mode == "I":
        return _scale_16(image)
    if image.mode == "F":
        return image.convert("L")
    return image


def _scale_16(image: Image.Image) -> Image.Image:
    values = np.asarray(image, dtype=np.float64)
    return Image.fromarray(np.clip(np.rint(values / 257.0), 0, 255).astype(np.uint8))


def _has_alpha(image: Image.Image) -> bool:
    return "A" in image.getbands() or "transparency" in image.info


def _convert(image: Image.Image, mode: str) -> Image.Image:
    image = _to_8bit(image)
    if _has_alpha(image):
        rgba = image.convert("RGBA")
        if mode == "RGBA":
            return rgba
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return image.convert(mode)  # CMYK, L, 1, P without transparency, RGB


def _decode(data: bytes, *, max_bytes: int, max_side: int, mode: str) -> tuple[Image.Image, bool]:
    """The decoded image in `mode`, and whether the file had an alpha channel."""
    if mode not in ("RGB", "RGBA"):
        raise ValueError(f"mode must be 'RGB' or 'RGBA', not {mode!r}")
    if not data:
        raise UploadError("The uploaded file is empty.", code="empty_file")
    if len(data) > max_bytes:
        raise UploadError(
            f"The file is {len(data) / 2**20:.1f} MB; uploads may be at most "
            f"{max_bytes / 2**20:.0f} MB.",
            code="too_large",
            details={"bytes": len(data), "max_bytes": max_bytes},
        )
    source = _open_header(data, max_side)
    try:
        _load(source)
        had_alpha = _has_alpha(source)
        upright = _upright(source)
        converted = _convert(upright, mode)
    finally:
        source.close()
    if converted is source:  # never hand back the object that holds the input buffer
        converted = converted.copy()
    converted.info = {}
    return converted, had_alpha


def upload_open(
    data: bytes,
    *,
    max_bytes: int = MAX_UPLOAD_BYTES,
    max_side: int = MAX_SIDE,
    mode: str = "RGB",
) -> Image.Image:
    """Decode an uploaded PNG/JPEG/WebP into an upright, loaded RGB (or RGBA) image.

    Transparency is composited over white for RGB. Raises UploadError (400) with code
    empty_file, too_large, unsupported_format, too_many_pixels, decompression_bomb or
    corrupt_image.
    """
    image, _ = _decode(data, max_bytes=max_bytes, max_side=max_side, mode=mode)
    return image


def mask_from_alpha(image_rgba: Image.Image) -> Image.Image:
    """Mode "L" mask: 255 (repaint) where the image is transparent, 0 where it is kept."""
    if not _has_alpha(image_rgba):
        raise MaskError(
            "The mask needs an alpha channel: its transparent pixels mark the area to repaint.",
            code="mask_no_alpha",
        )
    alpha = image_rgba.convert("RGBA").getchannel("A")
    return alpha.point(lambda a: 255 if a < MASK_ALPHA_THRESHOLD else 0, "L")


def mask_open(data: bytes, *, size: tuple[int, int]) -> Image.Image:
    """Decode an edit mask: a PNG whose transparent pixels mark the area to repaint.

    This is DALL-E's convention. Returns a mode "L" image, 255 = repaint. A fully
    transparent mask (repaint everything) is allowed; a fully opaque one is not.
    """
    image, had_alpha = _decode(data, max_bytes=MAX_UPLOAD_BYTES, max_side=MAX_SIDE, mode="RGBA")
    if not had_alpha:
        raise MaskError(
            "The mask has no alpha channel. Upload a PNG whose transparent pixels mark "
            "the area to repaint; opaque pixels are kept.",
            code="mask_no_alpha",
        )
    if image.size != tuple(size):
        raise MaskError(
            f"The mask is {image.width}x{image.height} but the image is {size[0]}x{size[1]}; "
            "they must be the same size.",
            code="mask_size",
            details={"expected": list(size), "got": list(image.size)},
        )
    mask = mask_from_alpha(image)
    if mask.getbbox() is None:
        raise MaskError(
            "The mask has no transparent pixels, so there is nothing to repaint.",
            code="empty_mask",
        )
    return mask
