import json
import os
import stat
import struct
import zlib
from io import BytesIO

import blurhash
import pytest
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.storage import FileSystemStorage, InMemoryStorage
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from generation import imagefiles
from generation.imagefiles import (
    ImageMetadata,
    a1111_parameters,
    file_write_atomic,
    placeholder_compute,
    png_encode,
    png_metadata_read,
    thumbnails_make,
    upscale_for_display,
)
from generation.uploads import UploadError


def meta(**overrides) -> ImageMetadata:
    fields = dict(
        prompt="a lighthouse at dusk, oil painting",
        negative_prompt="blurry, text",
        steps=25,
        sampler="DDIM",
        cfg_scale=7.5,
        seed=1234,
        width=64,
        height=64,
        model="atelier-embedded",
        recipe={
            "subject": "a lighthouse at dusk",
            "modifiers": [{"slug": "oil-painting", "weight": 1.0}],
            "negative_prompt": "blurry, text",
            "seed": 1234,
            "params": {"seed": 1234, "steps": 25},
        },
    )
    fields.update(overrides)
    return ImageMetadata(**fields)


def gradient(size=(64, 48), mode="RGB") -> Image.Image:
    image = Image.new("RGB", size)
    image.putdata([(x * 4 % 256, y * 5 % 256, (x + y) % 256) for y in range(size[1]) for x in range(size[0])])
    return image.convert(mode)


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


# -- A1111 text -------------------------------------------------------------------------


def test_a1111_parameters_with_negative_prompt():
    assert a1111_parameters(meta()) == (
        "a lighthouse at dusk, oil painting\n"
        "Negative prompt: blurry, text\n"
        "Steps: 25, Sampler: DDIM, CFG scale: 7.5, Seed: 1234, Size: 64x64, Model: atelier-embedded"
    )


def test_a1111_parameters_without_negative_prompt_and_whole_cfg():
    text = a1111_parameters(meta(negative_prompt="", cfg_scale=7.0, width=96, height=64))
    assert text == (
        "a lighthouse at dusk, oil painting\n"
        "Steps: 25, Sampler: DDIM, CFG scale: 7, Seed: 1234, Size: 96x64, Model: atelier-embedded"
    )


def test_a1111_parameters_quotes_values_with_commas_and_colons():
    text = a1111_parameters(meta(negative_prompt="", model="a, b", sampler="DPM++ 2M: Karras"))
    assert text.splitlines()[-1] == (
        'Steps: 25, Sampler: "DPM++ 2M: Karras", CFG scale: 7.5, Seed: 1234, Size: 64x64, Model: "a, b"'
    )


def test_a1111_parameters_keeps_a_multiline_prompt():
    text = a1111_parameters(meta(prompt="line one\nline two", negative_prompt=""))
    assert text.splitlines()[:2] == ["line one", "line two"]


def test_a1111_parameters_withholds_seed_and_negative_prompt():
    text = a1111_parameters(meta(withheld=frozenset({"seed", "negative_prompt"})))
    assert text == (
        "a lighthouse at dusk, oil painting\n"
        "Steps: 25, Sampler: DDIM, CFG scale: 7.5, Size: 64x64, Model: atelier-embedded"
    )


def test_only_seed_and_negative_prompt_can_be_withheld():
    with pytest.raises(ValueError, match="withheld"):
        meta(withheld=frozenset({"prompt"}))


# -- PNG ----------------------------------------------------------------------------------


def test_png_encode_round_trip_carries_both_chunks_and_the_pixels():
    image = gradient()
    data = png_encode(image, metadata=meta())
    texts = png_metadata_read(data)
    assert texts["parameters"] == a1111_parameters(meta())
    atelier = json.loads(texts["atelier"])
    assert atelier["version"] == 1
    assert atelier["recipe"] == meta().recipe
    assert atelier["withheld"] == []
    decoded = Image.open(BytesIO(data))
    assert decoded.format == "PNG"
    assert decoded.convert("RGB").tobytes() == image.tobytes()
    # Pillow's own reader sees the same chunks other tools will.
    assert decoded.text["parameters"] == texts["parameters"]


def test_png_encode_removes_withheld_fields_everywhere_in_the_recipe():
    data = png_encode(gradient(), metadata=meta(withheld=frozenset({"seed", "negative_prompt"})))
    texts = png_metadata_read(data)
    assert "Seed:" not in texts["parameters"]
    assert "Negative prompt" not in texts["parameters"]
    atelier = json.loads(texts["atelier"])
    assert atelier["recipe"] == {
        "subject": "a lighthouse at dusk",
        "modifiers": [{"slug": "oil-painting", "weight": 1.0}],
        "params": {"steps": 25},
    }
    assert atelier["withheld"] == ["negative_prompt", "seed"]
    assert b"1234" not in data


def test_png_encode_non_ascii_prompt_uses_itxt():
    prompt = "un chat façon Hokusai — 猫, 🌊"
    data = png_encode(gradient(), metadata=meta(prompt=prompt, recipe={"subject": prompt}))
    assert b"iTXt" in data
    texts = png_metadata_read(data)
    assert texts["parameters"].splitlines()[0] == prompt
    assert json.loads(texts["atelier"])["recipe"]["subject"] == prompt
    assert Image.open(BytesIO(data)).text["parameters"].splitlines()[0] == prompt


def test_png_encode_ascii_metadata_uses_plain_text_chunks():
    data = png_encode(gradient(), metadata=meta())
    assert b"tEXtparameters\x00" in data
    assert b"iTXt" not in data


def test_png_encode_is_deterministic_and_ignores_source_info():
    first = png_encode(gradient(), metadata=meta())
    source = gradient()
    source.info["icc_profile"] = b"not a real profile"
    source.info["dpi"] = (300, 300)
    assert png_encode(source, metadata=meta()) == first
    assert png_encode(gradient(), metadata=meta(seed=1235)) != first


def test_png_encode_keeps_alpha():
    data = png_encode(gradient(mode="RGBA"), metadata=meta())
    assert Image.open(BytesIO(data)).mode == "RGBA"


def test_png_metadata_read_reads_ztxt_and_compressed_itxt():
    info = PngInfo()
    info.add_text("parameters", "compressed " * 50, zip=True)
    info.add_itxt("atelier", "{\"version\": 1, \"x\": \"é\"}", zip=True)
    out = BytesIO()
    gradient().save(out, format="PNG", pnginfo=info)
    texts = png_metadata_read(out.getvalue())
    assert texts == {"parameters": "compressed " * 50, "atelier": "{\"version\": 1, \"x\": \"é\"}"}


def test_png_metadata_read_refuses_non_png():
    out = BytesIO()
    gradient().save(out, format="JPEG")
    with pytest.raises(UploadError) as caught:
        png_metadata_read(out.getvalue())
    assert caught.value.code == "unsupported_format"


def test_png_metadata_read_refuses_a_truncated_chunk():
    data = png_encode(gradient(), metadata=meta())
    cut = data.index(b"tEXt") + 10
    with pytest.raises(UploadError) as caught:
        png_metadata_read(data[:cut])
    assert caught.value.code == "corrupt_image"


def test_png_metadata_read_does_not_inflate_a_text_bomb():
    # 64 MB of zeros deflate to ~64 KB; reading must stop at the 1 MB chunk bound.
    bomb = b"parameters\x00\x00" + zlib.compress(b"\0" * (64 * 2**20), 9)
    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    data = (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"zTXt", bomb)
            + png_chunk(b"IEND", b""))
    with pytest.raises(UploadError) as caught:
        png_metadata_read(data)
    assert caught.value.code == "metadata_too_large"


# -- display sizes ------------------------------------------------------------------------


def test_thumbnails_are_webp_at_each_width_upscaled_from_a_small_output():
    thumbnails = thumbnails_make(gradient((64, 64)))
    assert set(thumbnails) == {256, 768}
    for width, data in thumbnails.items():
        thumb = Image.open(BytesIO(data))
        assert thumb.format == "WEBP"
        assert thumb.size == (width, width)


def test_thumbnails_keep_aspect_ratio_and_alpha():
    source = gradient((64, 32), mode="RGBA")
    source.paste((0, 0, 0, 0), (0, 0, 32, 32))  # left half transparent
    thumbnails = thumbnails_make(source, widths=(100,))
    thumb = Image.open(BytesIO(thumbnails[100]))
    assert thumb.size == (100, 50)
    assert thumb.mode == "RGBA"
    assert thumb.getpixel((10, 25))[3] == 0
    assert thumb.getpixel((90, 25))[3] == 255


def test_thumbnails_upscale_smoothly_not_in_blocks():
    # A 2x2 black/white checker enlarged with LANCZOS has intermediate greys;
    # nearest-neighbour would leave only black and white.
    checker = Image.new("L", (2, 2))
    checker.putdata([0, 255, 255, 0])
    thumb = Image.open(BytesIO(thumbnails_make(checker, widths=(64,))[64])).convert("L")
    distinct = {value for _, value in thumb.getcolors(256)}
    assert len([v for v in distinct if 40 < v < 215]) > 10


def test_upscale_for_display_reaches_min_side_and_keeps_aspect():
    enlarged = upscale_for_display(gradient((64, 32)))
    assert enlarged.size == (1024, 512)
    big = gradient((600, 520))
    assert upscale_for_display(big) is big


def test_placeholder_is_a_valid_blurhash_and_the_dominant_colour():
    image = Image.new("RGB", (64, 64), (255, 0, 0))
    image.paste((0, 0, 255), (0, 0, 16, 64))  # a quarter blue
    hash_, colour = placeholder_compute(image)
    assert blurhash.is_valid_blurhash(hash_)
    assert len(hash_) == 28  # 4x3 components
    assert colour == "#ff0000"
    # The caller's image is still usable (blurhash.encode closes what it is given).
    assert image.getpixel((40, 40)) == (255, 0, 0)


def test_placeholder_of_an_rgba_image():
    hash_, colour = placeholder_compute(Image.new("RGBA", (10, 20), (16, 32, 48, 255)))
    assert blurhash.is_valid_blurhash(hash_)
    assert colour == "#102030"


# -- atomic writes ------------------------------------------------------------------------


@pytest.fixture
def storage(tmp_path):
    return FileSystemStorage(location=tmp_path)


def all_files(root):
    return sorted(os.path.relpath(os.path.join(folder, name), root)
                  for folder, _, names in os.walk(root) for name in names)


def test_file_write_atomic_writes_into_new_parent_folders(storage, tmp_path):
    name = file_write_atomic(storage=storage, name="images/2026/01/job-7/0.png", data=b"png bytes")
    assert name == "images/2026/01/job-7/0.png"
    assert (tmp_path / name).read_bytes() == b"png bytes"
    assert all_files(tmp_path) == [os.path.normpath(name)]
    assert stat.S_IMODE((tmp_path / name).stat().st_mode) == (storage.file_permissions_mode or 0o644)


def test_file_write_atomic_rerun_with_same_bytes_is_a_no_op(storage, tmp_path):
    file_write_atomic(storage=storage, name="a/0.png", data=b"same")
    before = (tmp_path / "a/0.png").stat().st_ino
    assert file_write_atomic(storage=storage, name="a/0.png", data=b"same") == "a/0.png"
    assert (tmp_path / "a/0.png").stat().st_ino == before
    assert all_files(tmp_path) == ["a/0.png"]


def test_file_write_atomic_overwrites_different_bytes_under_the_same_name(storage, tmp_path):
    file_write_atomic(storage=storage, name="a/0.png", data=b"first run")
    assert file_write_atomic(storage=storage, name="a/0.png", data=b"second") == "a/0.png"
    assert (tmp_path / "a/0.png").read_bytes() == b"second"
    assert all_files(tmp_path) == ["a/0.png"]  # no random suffix, no temp file


def crash(src, dst):
    raise OSError("disk gone")


def test_file_write_atomic_crash_before_rename_leaves_no_final_file(storage, tmp_path, monkeypatch):
    monkeypatch.setattr(imagefiles.os, "replace", crash)
    with pytest.raises(OSError, match="disk gone"):
        file_write_atomic(storage=storage, name="a/0.png", data=b"bytes")
    assert not (tmp_path / "a/0.png").exists()
    assert all_files(tmp_path) == []


def test_file_write_atomic_crash_keeps_the_previous_version(storage, tmp_path, monkeypatch):
    file_write_atomic(storage=storage, name="a/0.png", data=b"old")
    monkeypatch.setattr(imagefiles.os, "replace", crash)
    with pytest.raises(OSError, match="disk gone"):
        file_write_atomic(storage=storage, name="a/0.png", data=b"new")
    assert (tmp_path / "a/0.png").read_bytes() == b"old"


def test_file_write_atomic_refuses_names_outside_the_storage(storage):
    with pytest.raises(SuspiciousFileOperation):
        file_write_atomic(storage=storage, name="../escape.png", data=b"x")


def test_file_write_atomic_on_other_storages_keeps_the_exact_name():
    storage = InMemoryStorage()
    assert file_write_atomic(storage=storage, name="a/0.png", data=b"first") == "a/0.png"
    assert file_write_atomic(storage=storage, name="a/0.png", data=b"first") == "a/0.png"
    assert file_write_atomic(storage=storage, name="a/0.png", data=b"second") == "a/0.png"
    with storage.open("a/0.png", "rb") as stored:
        assert stored.read() == b"second"
    assert storage.listdir("a") == ([], ["0.png"])
