"""POST/GET /api/v1/jobs: JSON and multipart, errors in the one format, nothing half-written."""

import io
import struct
import zlib

import PIL.Image
import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile

from generation import services
from generation.credits import credits_balance
from generation.models import Image, Job
from tests.generation.conftest import mask_png, png_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_enqueue(monkeypatch):
    monkeypatch.setattr(services, "job_enqueue", lambda job_id: None)


@pytest.fixture
def source_image(owner, media_root):
    """A finished image in the gallery, without running the model."""
    picture = PIL.Image.new("RGB", (64, 64), (30, 90, 200))
    name = "images/test/source.png"
    default_storage.save(name, io.BytesIO(png_bytes(picture)))
    return Image.objects.create(owner=owner, file=name, thumb_small=name, thumb_large=name, width=64, height=64,
                                prompt="a blue square", recipe={"prompt": "a blue square"})


def post_multipart(client, token, fields, files):
    data = dict(fields)
    for name, (filename, content, ctype) in files.items():
        data[name] = SimpleUploadedFile(filename, content, content_type=ctype)
    return client.post("/api/v1/jobs", data, HTTP_AUTHORIZATION=f"Bearer {token}")


def error_of(response):
    body = response.json()
    return body["error"]["code"]


def test_create_and_read_job_json(api, owner_token, owner):
    response = api.post("/jobs", {"prompt": "a red circle", "n": 2, "seed": 5, "size": "64x64"}, token=owner_token)
    assert response.status_code == 202
    job = response.json()
    assert job["state"] == "queued" and job["n"] == 2 and job["progress"] == {"step": 0, "total": 25}
    read = api.get(f"/jobs/{job['id']}", token=owner_token).json()
    assert read["id"] == job["id"] and read["images"] == []
    listing = api.get("/jobs", token=owner_token).json()
    assert [j["id"] for j in listing["items"]] == [job["id"]]
    assert credits_balance(user=owner) == 49


def test_jobs_need_auth(api):
    assert api.post("/jobs", {"prompt": "a cat"}).status_code == 401


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        ({"prompt": "a cat", "size": "100x100"}, 422, "size_not_allowed"),
        ({"prompt": "a cat", "size": "big"}, 422, "invalid_size"),
        ({"prompt": "a cat", "steps": 0}, 422, "steps_out_of_range"),
        ({"prompt": "a cat", "guidance": -1}, 422, "guidance_out_of_range"),
        ({"prompt": "a cat", "n": 9}, 422, "n_out_of_range"),
        ({"prompt": ""}, 422, "prompt_required"),
        ({"prompt": "a cat", "colour": "red"}, 422, "validation_error"),
        ({"prompt": "a cat", "steps": "many"}, 422, "validation_error"),
        ({"mode": "edit", "prompt": "a cat", "source_image": 999999}, 404, "not_found"),
        ({"prompt": "Donald Trump riding a horse"}, 400, "policy_violation"),
    ],
)
def test_bad_json_input(api, owner_token, owner, payload, status, code):
    response = api.post("/jobs", payload, token=owner_token)
    assert response.status_code == status, response.content
    assert error_of(response) == code
    assert not Job.objects.exists()
    assert credits_balance(user=owner) == 50


def test_size_error_lists_sizes(api, owner_token):
    body = api.post("/jobs", {"prompt": "a cat", "size": "100x100"}, token=owner_token).json()
    assert "64x64" in body["error"]["details"]["allowed_sizes"]


def test_malformed_json_body(client, owner_token):
    response = client.post("/api/v1/jobs", "{nope", content_type="application/json",
                           HTTP_AUTHORIZATION=f"Bearer {owner_token}")
    assert response.status_code == 400 and error_of(response) == "invalid_json"


def test_multipart_edit_with_upload_and_mask(client, owner_token):
    upload = png_bytes(PIL.Image.new("RGB", (64, 64), (200, 30, 30)))
    response = post_multipart(client, owner_token, {"mode": "edit", "prompt": "a red square with a star"},
                              {"image": ("src.png", upload, "image/png"), "mask": ("mask.png", mask_png(), "image/png")})
    assert response.status_code == 202, response.content
    job = Job.objects.get()
    assert job.mode == "edit" and job.source_file and job.mask_file
    assert default_storage.exists(job.source_file) and default_storage.exists(job.mask_file)


def test_edit_from_gallery_image_with_mask(client, owner_token, source_image):
    response = post_multipart(client, owner_token, {"mode": "edit", "prompt": "a blue square, a sun",
                                                    "source_image": str(source_image.pk)},
                              {"mask": ("mask.png", mask_png(), "image/png")})
    assert response.status_code == 202, response.content
    assert Job.objects.get().source_image_id == source_image.pk


def _forged_png(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    return (b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ihdr)) + chunk
            + struct.pack(">I", zlib.crc32(chunk) & 0xFFFFFFFF) + b"\x00" * 16)


def _bomb() -> bytes:
    buf = io.BytesIO()
    PIL.Image.new("L", (12000, 12000), 0).save(buf, format="PNG", optimize=True)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("filename", "content", "code"),
    [
        ("x.png", _forged_png(50_000, 50_000), None),
        ("x.png", b"\x89PNG\r\n\x1a\n<html><script>alert(1)</script></html>", None),
        ("x.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><rect width="10" height="10"/></svg>', "unsupported_format"),
        ("x.png", png_bytes(PIL.Image.new("RGB", (64, 64), "red"))[:80], None),
        ("bomb.png", _bomb(), None),
        ("empty.png", b"", None),
    ],
)
def test_bad_uploads_are_400_and_store_nothing(client, owner_token, owner, filename, content, code):
    response = post_multipart(client, owner_token, {"mode": "variation"}, {"image": (filename, content, "image/png")})
    assert response.status_code == 400, response.content
    if code:
        assert error_of(response) == code
    assert not Job.objects.exists()
    assert not default_storage.exists("sources")
    assert credits_balance(user=owner) == 50


@pytest.mark.parametrize(("mask", "code"), [(mask_png(size=(32, 32)), "mask_size"), (mask_png(box=None), "empty_mask")])
def test_bad_masks_are_422(client, owner_token, source_image, mask, code):
    response = post_multipart(client, owner_token, {"mode": "edit", "prompt": "x", "source_image": str(source_image.pk)},
                              {"mask": ("mask.png", mask, "image/png")})
    assert response.status_code == 422 and error_of(response) == code
    assert not Job.objects.exists()


def test_private_image_of_someone_else_is_404(api, source_image, member):
    from atelier_site.accounts.services import token_create

    Image.objects.filter(pk=source_image.pk).update(visibility="private")
    token = token_create(user=member, name="t").raw
    response = api.post("/jobs", {"mode": "variation", "source_image": source_image.pk}, token=token)
    assert response.status_code == 404


def test_cancel_and_other_peoples_jobs(api, owner_token, member):
    from atelier_site.accounts.services import token_create

    job = api.post("/jobs", {"prompt": "a red circle"}, token=owner_token).json()
    other = token_create(user=member, name="t").raw
    assert api.get(f"/jobs/{job['id']}", token=other).status_code == 404
    assert api.post(f"/jobs/{job['id']}/cancel", token=other).status_code == 404
    canceled = api.post(f"/jobs/{job['id']}/cancel", token=owner_token)
    assert canceled.status_code == 200 and canceled.json()["state"] == "canceled"
    again = api.post(f"/jobs/{job['id']}/cancel", token=owner_token)
    assert again.status_code == 409 and error_of(again) == "job_finished"


def test_no_credits_is_402(api, owner_token, owner):
    from generation.models import CreditGrant

    credits_balance(user=owner)
    CreditGrant.objects.filter(user=owner).update(remaining=0)
    response = api.post("/jobs", {"prompt": "a red circle"}, token=owner_token)
    assert response.status_code == 402
    assert response.json()["error"]["details"]["balance"] == 0


def test_suspended_is_403(api, owner_token, owner):
    from generation.models import Suspension

    Suspension.objects.create(user=owner, reason="test")
    response = api.post("/jobs", {"prompt": "a red circle"}, token=owner_token)
    assert response.status_code == 403 and error_of(response) == "account_suspended"


def test_list_is_paginated_without_n_plus_one(api, owner_token, django_assert_max_num_queries, settings):
    settings.JOBS_MAX_ACTIVE = 30
    for i in range(12):
        api.post("/jobs", {"prompt": f"a red circle {i}"}, token=owner_token)
    with django_assert_max_num_queries(6):
        page = api.get("/jobs", token=owner_token, limit=5).json()
    assert len(page["items"]) == 5 and page["next_cursor"]
    second = api.get("/jobs", token=owner_token, limit=5, cursor=page["next_cursor"]).json()
    assert {j["id"] for j in second["items"]}.isdisjoint({j["id"] for j in page["items"]})


def test_model_limits_are_public(client):
    body = client.get("/api/v1/models/current").json()
    assert body["model"] == "embedded"
    assert "64x64" in body["limits"]["sizes"] and body["limits"]["token_limit"] == 64
