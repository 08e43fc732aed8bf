import struct
import zlib
from io import BytesIO

import numpy as np
import pytest
from PIL import Image, ImageFile

from generation.uploads import (
    MAX_UPLOAD_BYTES,
    MaskError,
    UploadError,
    mask_from_alpha,
    mask_open,
    upload_open,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def encode(image: Image.Image, fmt: str = "PNG", **options) -> bytes:
    out = BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


def noise(size=(64, 64), mode="RGB") -> Image.Image:
    rng = np.random.default_rng(7)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).convert(mode)


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def refused(data: bytes, **options) -> UploadError:
    with pytest.raises(UploadError) as caught:
        upload_open(data, **options)
    assert caught.value.status == 400
    assert caught.value.message
    return caught.value


@pytest.fixture(scope="module")
def one_colour_10k_png() -> bytes:
    # 100 million pixels that deflate to a few KB: the classic decompression bomb.
    return encode(Image.new("1", (10_000, 10_000), 1))


# -- refusals -----------------------------------------------------------------------------


def test_empty_file():
    assert refused(b"").code == "empty_file"


def test_over_the_size_limit_is_refused_before_decoding():
    error = refused(PNG_SIGNATURE + b"\0" * (11 * 2**20))
    assert error.code == "too_large"
    assert error.details["max_bytes"] == MAX_UPLOAD_BYTES


def test_lower_byte_limit():
    assert refused(encode(noise()), max_bytes=1000).code == "too_large"


@pytest.mark.parametrize("data", [
    b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>',
    b"<html><body><script>alert(1)</script></body></html>",
    b"plain text, not an image",
], ids=["svg", "html", "text"])
def test_not_an_image(data):
    assert refused(data).code == "unsupported_format"


@pytest.mark.parametrize("fmt", ["GIF", "BMP", "TIFF", "ICO"])
def test_other_image_formats_are_never_decoded(fmt):
    error = refused(encode(noise((16, 16)), fmt))
    assert error.code == "unsupported_format"
    assert error.details["allowed"] == ["PNG", "JPEG", "WEBP"]


def test_html_behind_a_png_signature():
    error = refused(PNG_SIGNATURE + b"<html><script>alert(1)</script></html>")
    assert error.code in ("unsupported_format", "corrupt_image")


def test_forged_huge_header_is_refused_before_decoding():
    # A 50,000 x 50,000 RGBA header and no pixel data at all: decoding would fail with
    # corrupt_image (or allocate 10 GB), so too_many_pixels proves the header was
    # checked first.
    ihdr = struct.pack(">IIBBBBB", 50_000, 50_000, 8, 6, 0, 0, 0)
    data = PNG_SIGNATURE + png_chunk(b"IHDR", ihdr) + png_chunk(b"IEND", b"")
    error = refused(data)
    assert error.code == "too_many_pixels"
    assert error.details == {"width": 50_000, "height": 50_000, "max_side": 4096}


def test_side_over_the_limit_without_being_a_bomb():
    error = refused(encode(Image.new("RGB", (5000, 10), "white")))
    assert error.code == "too_many_pixels"
    assert refused(encode(noise((100, 60))), max_side=64).code == "too_many_pixels"


def test_a_10k_one_colour_png_is_too_many_pixels(one_colour_10k_png):
    assert len(one_colour_10k_png) < 100_000
    assert refused(one_colour_10k_png).code == "too_many_pixels"


def test_decompression_bomb_over_twice_the_pixel_limit(one_colour_10k_png, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1_000_000)  # Pillow raises past 2x
    assert refused(one_colour_10k_png, max_side=20_000).code == "decompression_bomb"


def test_decompression_bomb_warning_is_an_error(monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 3_000)  # 4,096 px: between 1x and 2x
    assert refused(encode(Image.new("RGB", (64, 64), "white"))).code == "decompression_bomb"


def test_the_global_pixel_limit_is_left_alone(one_colour_10k_png):
    before = Image.MAX_IMAGE_PIXELS
    refused(one_colour_10k_png)
    assert before == Image.MAX_IMAGE_PIXELS


def test_truncated_png():
    data = encode(noise())
    assert refused(data[: len(data) // 2]).code == "corrupt_image"


def test_truncated_jpeg():
    data = encode(noise(), "JPEG", quality=95)
    assert refused(data[: len(data) // 2]).code == "corrupt_image"


def test_truncated_images_are_not_padded():
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_refuses_to_run_with_truncated_loading_turned_on(monkeypatch):
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    with pytest.raises(RuntimeError, match="LOAD_TRUNCATED_IMAGES"):
        upload_open(encode(noise()))


def test_damaged_pixel_data():
    data = bytearray(encode(noise()))
    start = data.index(b"IDAT") + 4
    data[start + 10:start + 60] = b"\xff" * 50  # garbage inside the deflate stream
    assert refused(bytes(data)).code == "corrupt_image"


def test_mode_must_be_rgb_or_rgba():
    with pytest.raises(ValueError):
        upload_open(encode(noise()), mode="L")


# -- decoding and conversions -------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_allowed_formats_decode_to_a_detached_rgb_image(fmt):
    image = upload_open(encode(noise(), fmt))
    assert image.mode == "RGB"
    assert image.size == (64, 64)
    assert not isinstance(image, ImageFile.ImageFile)  # no file object behind it
    assert image.info == {}


def test_png_pixels_survive_exactly():
    source = noise()
    assert upload_open(encode(source)).tobytes() == source.tobytes()


def test_cmyk_jpeg_becomes_rgb():
    data = encode(Image.new("CMYK", (16, 16), (0, 255, 255, 0)), "JPEG", quality=100)  # red
    image = upload_open(data)
    assert image.mode == "RGB"
    r, g, b = image.getpixel((8, 8))
    assert r > 240 and g < 15 and b < 15


def test_16_bit_png_is_scaled_not_clipped():
    values = np.array([[0, 32896, 65535, 1000]], dtype=np.uint16)
    source = Image.fromarray(values)
    assert source.mode == "I;16"
    image = upload_open(encode(source))
    assert image.mode == "RGB"
    assert [image.getpixel((x, 0)) for x in range(4)] == [(0, 0, 0), (128, 128, 128), (255, 255, 255), (4, 4, 4)]


def test_palette_png_with_transparency_is_composited_over_white():
    source = Image.new("P", (4, 1))
    source.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    source.putdata([0, 1, 0, 1])
    data = encode(source, transparency=1)  # palette entry 1 (blue) is transparent
    image = upload_open(data)
    assert image.mode == "RGB"
    assert image.getpixel((0, 0)) == (255, 0, 0)
    assert image.getpixel((1, 0)) == (255, 255, 255)
    kept = upload_open(data, mode="RGBA")
    assert kept.getpixel((1, 0))[3] == 0


def test_rgba_is_composited_over_white_or_kept():
    source = Image.new("RGBA", (2, 1), (255, 0, 0, 255))
    source.putpixel((1, 0), (255, 0, 0, 128))
    data = encode(source)
    image = upload_open(data)
    assert image.mode == "RGB"
    assert image.getpixel((0, 0)) == (255, 0, 0)
    r, g, b = image.getpixel((1, 0))
    assert r == 255 and 125 <= g <= 129 and g == b
    assert upload_open(data, mode="RGBA").getpixel((1, 0)) == (255, 0, 0, 128)


def test_la_and_grey_become_rgb():
    assert upload_open(encode(Image.new("LA", (3, 3), (0, 0)))).getpixel((1, 1)) == (255, 255, 255)
    assert upload_open(encode(Image.new("L", (3, 3), 40))).getpixel((1, 1)) == (40, 40, 40)


def test_rgb_asked_for_rgba_gets_an_opaque_alpha():
    image = upload_open(encode(noise()), mode="RGBA")
    assert image.mode == "RGBA"
    assert image.getchannel("A").getextrema() == (255, 255)


def test_exif_orientation_6_is_applied():
    # Stored 40x20, left half red, right half blue; orientation 6 means "rotate 90
    # degrees clockwise to view", so the viewer sees 20x40 with red on top.
    source = Image.new("RGB", (40, 20), (255, 0, 0))
    source.paste((0, 0, 255), (20, 0, 40, 20))
    exif = Image.Exif()
    exif[0x0112] = 6
    image = upload_open(encode(source, "JPEG", quality=95, exif=exif.tobytes()))
    assert image.size == (20, 40)
    top, bottom = image.getpixel((10, 5)), image.getpixel((10, 35))
    assert top[0] > 200 and top[2] < 60
    assert bottom[2] > 200 and bottom[0] < 60


# -- masks --------------------------------------------------------------------------------


def mask_png(size=(8, 8), hole=(2, 2, 4, 4), mode="RGBA") -> bytes:
    image = Image.new("RGBA", size, (10, 20, 30, 255))
    if hole:
        image.paste((0, 0, 0, 0), hole)
    return encode(image.convert(mode))


def test_mask_marks_transparent_pixels_for_repaint():
    mask = mask_open(mask_png(), size=(8, 8))
    assert mask.mode == "L"
    assert mask.size == (8, 8)
    assert mask.getpixel((2, 2)) == 255 and mask.getpixel((3, 3)) == 255
    assert mask.getpixel((0, 0)) == 0 and mask.getpixel((4, 4)) == 0
    assert sum(1 for v in mask.tobytes() if v == 255) == 4


def test_fully_transparent_mask_repaints_everything():
    mask = mask_open(mask_png(hole=(0, 0, 8, 8)), size=(8, 8))
    assert mask.getextrema() == (255, 255)


def test_mask_of_the_wrong_size():
    with pytest.raises(MaskError) as caught:
        mask_open(mask_png(size=(8, 8)), size=(16, 8))
    assert caught.value.status == 422
    assert caught.value.code == "mask_size"
    assert caught.value.details == {"expected": [16, 8], "got": [8, 8]}


def test_mask_with_nothing_to_repaint():
    with pytest.raises(MaskError) as caught:
        mask_open(mask_png(hole=None), size=(8, 8))
    assert caught.value.status == 422
    assert caught.value.code == "empty_mask"


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_mask_without_an_alpha_channel(fmt):
    data = encode(Image.new("L", (8, 8), 255), fmt)
    with pytest.raises(MaskError) as caught:
        mask_open(data, size=(8, 8))
    assert caught.value.status == 422
    assert caught.value.code == "mask_no_alpha"
    assert "transparent" in caught.value.message


def test_a_broken_mask_file_is_an_upload_error():
    with pytest.raises(UploadError) as caught:
        mask_open(b"GIF89a", size=(8, 8))
    assert caught.value.code == "unsupported_format"


def test_mask_from_alpha_threshold():
    image = Image.new("RGBA", (3, 1))
    image.putdata([(0, 0, 0, 127), (0, 0, 0, 128), (0, 0, 0, 0)])
    assert list(mask_from_alpha(image).tobytes()) == [255, 0, 255]


def test_mask_from_alpha_needs_alpha():
    with pytest.raises(MaskError) as caught:
        mask_from_alpha(Image.new("RGB", (2, 2)))
    assert caught.value.code == "mask_no_alpha"
