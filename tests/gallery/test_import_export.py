"""Importing images made elsewhere (each metadata format built here with Pillow), refusing
bad uploads with nothing left behind, and exporting with the owner's fields withheld."""

from __future__ import annotations

import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image as PILImage
from PIL.PngImagePlugin import PngInfo

from gallery.metadata import metadata_read
from gallery.models import ImageModifier, ImageSearch
from generation import imagefiles
from generation.models import Image, PolicyViolation
from tests.gallery.image_factory import image_make, media_files, picture_make
from tests.gallery.test_metadata import A1111_TEXT, EXIF_IFD, USER_COMMENT, comfy_graph

pytestmark = pytest.mark.django_db

INVOKEAI = {"positive_prompt": "a castle in the clouds, oil painting", "negative_prompt": "blurry",
            "seed": 4242, "steps": 30, "cfg_scale": 7.0, "scheduler": "euler_a", "width": 512, "height": 768,
            "model": {"model_name": "dreamshaper_8"}, "app_version": "4.2.0"}
ATELIER = {"version": 1, "recipe": {"prompt": "A fox, watercolor painting", "negative_prompt": "text",
                                    "subject": "a fox", "modifiers": ["watercolor"], "dialect": "plain",
                                    "seed": 9, "steps": 24, "guidance": 6.0, "width": 64, "height": 64,
                                    "model": "embedded", "mode": "text2img"}}


def png_bytes(**chunks: str) -> bytes:
    info = PngInfo()
    for key, value in chunks.items():
        info.add_itxt(key, value)
    out = io.BytesIO()
    picture_make((24, 20)).save(out, "PNG", pnginfo=info)
    return out.getvalue()


def exif_bytes(fmt: str, comment: bytes) -> bytes:
    exif = PILImage.Exif()
    exif.get_ifd(EXIF_IFD)[USER_COMMENT] = comment
    out = io.BytesIO()
    picture_make((24, 20)).save(out, fmt, exif=exif)
    return out.getvalue()


def upload(client, data: bytes, name: str = "image.png"):
    return client.post("/api/v1/images/import", {"file": SimpleUploadedFile(name, data)})


@pytest.fixture
def as_member(member):
    client = Client()
    client.force_login(member)
    return client


FORMATS = {
    "a1111-png": (lambda: png_bytes(parameters=A1111_TEXT), "automatic1111", "a lighthouse on a cliff"),
    "a1111-jpeg": (lambda: exif_bytes("JPEG", b"UNICODE\0" + A1111_TEXT.encode("utf-16-be")), "automatic1111",
                   "a lighthouse on a cliff"),
    "a1111-webp": (lambda: exif_bytes("WEBP", b"UNICODE\0" + A1111_TEXT.encode("utf-16-le")), "automatic1111",
                   "a lighthouse on a cliff"),
    "comfyui": (lambda: png_bytes(prompt=json.dumps(comfy_graph()), workflow=json.dumps({"nodes": []})), "comfyui",
                "a lighthouse on a cliff, stormy sea"),
    "invokeai": (lambda: png_bytes(invokeai_metadata=json.dumps(INVOKEAI)), "invokeai",
                 "a castle in the clouds, oil painting"),
    "atelier": (lambda: png_bytes(atelier=json.dumps(ATELIER)), "atelier", "A fox, watercolor painting"),
}


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_import_each_format_through_the_api(as_member, member, fmt, media_root):
    make, tool, prompt = FORMATS[fmt]
    response = upload(as_member, make(), f"upload.{fmt.split('-')[-1]}")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["source_tool"] == tool and body["prompt"].startswith(prompt)
    assert body["mode"] == "text2img" and body["author"]["username"] == "member"
    image = Image.objects.get(pk=body["id"])
    assert image.job is None and image.owner == member and (image.width, image.height) == (24, 20)
    assert image.blurhash and image.color.startswith("#")
    # stored as a PNG carrying both chunks, with thumbnails beside it
    assert sorted(media_files(media_root)) == sorted([image.file, image.thumb_small, image.thumb_large])
    with open(media_root / image.file, "rb") as fh:
        data = fh.read()
    chunks = imagefiles.png_metadata_read(data)
    assert set(chunks) >= {"parameters", "atelier"}
    # indexed: searchable at once
    assert ImageSearch.objects.filter(image=image).exists()
    # and what it stored reads back as the same recipe
    with PILImage.open(io.BytesIO(data)) as stored:
        again = metadata_read(stored)
    assert again.prompt == image.prompt


def test_imported_settings_land_in_the_recipe(as_member):
    body = upload(as_member, png_bytes(invokeai_metadata=json.dumps(INVOKEAI))).json()
    image = Image.objects.get(pk=body["id"])
    assert (image.model, image.seed, image.negative_prompt) == ("dreamshaper_8", 4242, "blurry")
    assert image.recipe["steps"] == 30 and image.recipe["guidance"] == 7.0 and image.recipe["sampler"] == "euler_a"
    assert (image.recipe["width"], image.recipe["height"]) == (512, 768)
    assert image.recipe["imported"] == {"app_version": "4.2.0"}
    assert body["parameters"]["sampler"] == "euler_a"


def test_an_atelier_import_keeps_its_builder_state(as_member):
    from tests.gallery.image_factory import catalog_loaded

    catalog_loaded()
    body = upload(as_member, png_bytes(atelier=json.dumps(ATELIER))).json()
    image = Image.objects.get(pk=body["id"])
    assert image.recipe["subject"] == "a fox" and image.recipe["modifiers"] == ["watercolor"]
    assert ImageModifier.objects.filter(image=image, slug="watercolor").exists()
    remix = as_member.get(f"/api/v1/images/{image.pk}/remix").json()
    assert remix["subject"] == "a fox" and remix["modifiers"] == ["watercolor"]


def test_import_page(as_member):
    response = as_member.post("/import", {"file": SimpleUploadedFile("a.png", png_bytes(parameters=A1111_TEXT))})
    assert response.status_code == 302 and response["Location"].startswith("/i/")
    response = as_member.post("/import", {"file": SimpleUploadedFile("a.png", png_bytes())})
    assert response.status_code == 400
    assert "no generation metadata found" in response.content.decode()
    assert as_member.get("/import").status_code == 200


# -- refusals, with nothing stored -------------------------------------------------------------


def bomb_png() -> bytes:
    out = io.BytesIO()
    PILImage.new("1", (10_000, 10_000), 1).save(out, "PNG")
    return out.getvalue()


def huge_text_png() -> bytes:
    # A zTXt chunk that inflates from a few KB to 50 MB: a bomb in the metadata itself.
    import struct
    import zlib

    base = png_bytes()
    body = b"parameters\0\0" + zlib.compress(b"a" * 50_000_000, 9)
    chunk = struct.pack(">I", len(body)) + b"zTXt" + body + struct.pack(">I", zlib.crc32(b"zTXt" + body))
    return base[:33] + chunk + base[33:]


REFUSALS = {
    "not an image": (lambda: b"%PDF-1.4 definitely not an image", "unsupported_format", None),
    "empty": (lambda: b"", "empty_file", None),
    "no metadata": (lambda: png_bytes(), "no_metadata", "no generation metadata found"),
    "plain camera comment": (lambda: exif_bytes("JPEG", b"ASCII\0\0\0Holiday in Lisbon"), "no_metadata",
                             "no generation metadata found"),
    "malformed": (lambda: png_bytes(parameters="a cat\nSteps: 5000, Seed: 1"), "malformed_metadata", None),
    "pixel bomb": (bomb_png, "too_many_pixels", None),
    "metadata bomb": (huge_text_png, ("corrupt_image", "corrupt_metadata", "metadata_too_large"), None),
    "truncated": (lambda: png_bytes(parameters=A1111_TEXT)[:200], "corrupt_image", None),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_bad_imports_are_400_and_leave_nothing(as_member, case, media_root):
    make, code, message = REFUSALS[case]
    response = upload(as_member, make())
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] in (code if isinstance(code, tuple) else (code,))
    if message:
        assert error["message"] == message
    assert Image.objects.count() == 0 and ImageSearch.objects.count() == 0
    assert media_files(media_root) == []


def test_a_true_decompression_bomb_is_400(as_member, media_root, monkeypatch):
    monkeypatch.setattr(PILImage, "MAX_IMAGE_PIXELS", 3_000)
    out = io.BytesIO()
    PILImage.new("RGB", (64, 64), "white").save(out, "PNG", pnginfo=_info(parameters=A1111_TEXT))
    response = upload(as_member, out.getvalue())
    assert (response.status_code, response.json()["error"]["code"]) == (400, "decompression_bomb")
    assert media_files(media_root) == []


def _info(**chunks):
    info = PngInfo()
    for key, value in chunks.items():
        info.add_text(key, value)
    return info


def test_too_large_is_refused_before_reading(as_member, media_root):
    response = upload(as_member, b"\x89PNG\r\n\x1a\n" + b"\0" * (11 * 2**20))
    assert (response.status_code, response.json()["error"]["code"]) == (400, "too_large")


@pytest.mark.parametrize("parameters", [
    "a portrait of Barack Obama\nSteps: 20, Seed: 1",
    "a quiet harbour\nSteps: 20, Seed: 1, Note: a pool of g0re",  # in the metadata, not the prompt
])
def test_policy_refuses_the_texts_and_stores_nothing(as_member, member, media_root, parameters):
    response = upload(as_member, png_bytes(parameters=parameters))
    assert response.status_code == 400 and response.json()["error"]["code"] == "policy_violation"
    assert PolicyViolation.objects.filter(user=member).exists()
    assert Image.objects.count() == 0 and media_files(media_root) == []


def test_import_needs_an_account_and_a_file(client):
    assert upload(client, png_bytes(parameters=A1111_TEXT)).status_code == 401
    login = Client()
    from django.contrib.auth import get_user_model

    login.force_login(get_user_model().objects.create_user("someone", password="x" * 12))
    assert login.post("/api/v1/images/import", {}).status_code == 422


# -- export ------------------------------------------------------------------------------------


def test_export_withholds_seed_and_negative_prompt_for_others(owner, member, media_root):
    image = image_make(owner, negative_prompt="low quality, watermark", seed=31337)
    owner_client, other = Client(), Client()
    owner_client.force_login(owner)
    other.force_login(member)
    full = other.get(f"/api/v1/images/{image.pk}/download").content
    assert b"31337" in full and b"watermark" in full
    response = owner_client.patch(f"/api/v1/images/{image.pk}", {"withheld": ["seed", "negative_prompt"]},
                                  content_type="application/json")
    assert response.status_code == 200
    withheld = other.get(f"/api/v1/images/{image.pk}/download").content
    chunks = imagefiles.png_metadata_read(withheld)
    assert "31337" not in chunks["parameters"] + chunks["atelier"]
    assert "watermark" not in chunks["parameters"] + chunks["atelier"]
    assert json.loads(chunks["atelier"])["withheld"] == ["negative_prompt", "seed"]
    # the same pixels
    with PILImage.open(io.BytesIO(full)) as a, PILImage.open(io.BytesIO(withheld)) as b:
        assert a.tobytes() == b.tobytes()
    # the file in the media folder is stripped as well; the owner's download is whole
    assert b"31337" not in (media_root / image.file).read_bytes()
    assert b"31337" in owner_client.get(f"/api/v1/images/{image.pk}/download").content


def test_an_exported_image_imports_elsewhere_with_its_recipe(owner, member):
    image = image_make(owner, prompt="a lighthouse at dusk, watercolor painting", negative_prompt="blurry",
                       seed=555, withheld=("seed",))
    other = Client()
    other.force_login(member)
    exported = other.get(f"/i/{image.pk}/download").content
    body = upload(other, exported).json()
    assert body["source_tool"] == "atelier" and body["prompt"] == image.prompt
    assert body["negative_prompt"] == "blurry" and body["parameters"]["seed"] is None
