"""Jobs API: create (JSON or multipart), read with progress, cancel, list mine."""

from __future__ import annotations

import json
from datetime import datetime

from django.core.files.storage import default_storage
from ninja import Router, Schema, Status
from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError

from generation import services
from generation.backends import backend_limits, backend_name
from generation.models import Image, Job
from generation.selectors import jobs_for_owner
from prompts.errors import ValidationFailed

router = Router(tags=["generation"])
MAX_UPLOAD = 10 * 1024 * 1024


class JobIn(BaseModel):
    """The fields of POST /jobs, as JSON or as multipart form fields beside `image`/`mask` files."""

    model_config = ConfigDict(extra="forbid")
    mode: str = Field("text2img", description="text2img | variation | edit | outpaint")
    prompt: str = ""
    negative_prompt: str = ""
    seed: int | None = None
    size: str | None = Field(None, description="WxH, e.g. 64x64; defaults to the model's native size")
    width: int | None = None
    height: int | None = None
    steps: int | None = None
    guidance: float | None = None
    n: int | None = Field(None, description="images per job: 1-4 (default 4 for text2img, 3 otherwise)")
    strength: float | None = Field(None, description="variation: how far from the source (0.05-1)")
    source_image: int | None = Field(None, description="a gallery image id (own or public) as the source")
    direction: str | None = Field(None, description="outpaint: left | right | up | down | all")
    expand: int | None = Field(None, description="outpaint: pixels to add on that side")
    shrink: float | None = Field(None, description="outpaint: shrink the image inside the frame (0.25-0.95)")
    canvas: str | None = Field(None, description="outpaint: the frame size WxH (with left/top)")
    left: int | None = Field(None, description="outpaint: the image's x offset in the frame")
    top: int | None = Field(None, description="outpaint: the image's y offset in the frame")
    remix_of: int | None = None
    subject: str | None = None
    modifiers: list[str] | None = None
    dialect: str | None = None


class ProgressOut(Schema):
    step: int
    total: int


class JobImageOut(Schema):
    id: int
    index: int
    url: str
    thumbnail_url: str
    page_url: str
    width: int
    height: int
    seed: int | None
    blurhash: str
    color: str


class JobOut(Schema):
    id: int
    mode: str
    state: str
    prompt: str
    negative_prompt: str
    model: str
    seed: int
    width: int
    height: int
    steps: int
    guidance: float
    n: int
    progress: ProgressOut
    attempts: int
    images: list[JobImageOut]
    error: dict | None
    created_at: datetime
    finished_at: datetime | None
    url: str


class JobPage(Schema):
    items: list[JobOut]
    next_cursor: int | None


def image_out(image: Image) -> dict:
    return {
        "id": image.pk, "index": image.index, "url": default_storage.url(image.file),
        "thumbnail_url": default_storage.url(image.thumb_large or image.file), "page_url": f"/i/{image.pk}",
        "width": image.width, "height": image.height, "seed": image.seed, "blurhash": image.blurhash,
        "color": image.color,
    }


def job_out(job: Job) -> dict:
    return {
        "id": job.pk, "mode": job.mode, "state": job.state, "prompt": job.prompt,
        "negative_prompt": job.negative_prompt, "model": job.model, "seed": job.seed, "width": job.width,
        "height": job.height, "steps": job.steps, "guidance": job.guidance, "n": job.num_images,
        "progress": {"step": job.progress_step, "total": job.progress_total or job.steps},
        "attempts": job.attempts,
        "images": [image_out(i) for i in sorted(job.images.all(), key=lambda i: i.index)],
        "error": {"code": job.error_code, "message": job.error_message} if job.state == Job.State.FAILED else None,
        "created_at": job.created_at, "finished_at": job.finished_at, "url": f"/jobs/{job.pk}",
    }


def _parse_size(name: str, value: str) -> tuple[int, int]:
    try:
        width, height = (int(part) for part in value.lower().split("x"))
    except ValueError:
        raise ValidationFailed(f"{name} must look like 64x64.", code="invalid_size", details={"field": name}) from None
    return width, height


def spec_from_request(request) -> services.JobSpec:
    """JSON body, or multipart fields with the files `image` and `mask`."""
    source_bytes = mask_bytes = None
    if request.content_type and request.content_type.startswith("multipart/"):
        data = {k: v for k, v in request.POST.items()}
        if "modifiers" in data:
            data["modifiers"] = [m for m in data["modifiers"].split(",") if m.strip()]
        for name in ("image", "mask"):
            upload = request.FILES.get(name)
            if upload is not None:
                if upload.size > MAX_UPLOAD:
                    raise ValidationFailed(f"`{name}` is larger than 10 MB.", code="too_large", status=400)
                content = upload.read()
                if name == "image":
                    source_bytes = content
                else:
                    mask_bytes = content
    else:
        try:
            data = json.loads(request.body or b"{}")
        except (ValueError, UnicodeDecodeError):
            raise ValidationFailed("The body is not valid JSON.", code="invalid_json", status=400) from None
        if not isinstance(data, dict):
            raise ValidationFailed("The body must be a JSON object.", code="invalid_json")
    try:
        payload = JobIn.model_validate(data)
    except PydanticValidationError as exc:
        fields = [{"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()]
        raise ValidationFailed("; ".join(f"{f['field']}: {f['message']}" for f in fields), details={"fields": fields}) from None
    width, height = payload.width, payload.height
    if payload.size:
        width, height = _parse_size("size", payload.size)
    canvas = _parse_size("canvas", payload.canvas) if payload.canvas else None
    offset = (payload.left or 0, payload.top or 0) if canvas and (payload.left is not None or payload.top is not None) else None
    return services.JobSpec(
        mode=payload.mode, prompt=payload.prompt, negative_prompt=payload.negative_prompt, seed=payload.seed,
        width=width, height=height, steps=payload.steps, guidance=payload.guidance, num_images=payload.n,
        strength=payload.strength, source_image_id=payload.source_image, source_bytes=source_bytes,
        mask_bytes=mask_bytes, direction=payload.direction, expand=payload.expand, shrink=payload.shrink,
        canvas=canvas, offset=offset,
        remix_of_id=payload.remix_of,
        recipe={"subject": payload.subject, "modifiers": payload.modifiers, "dialect": payload.dialect},
    )


@router.post("/jobs", response={202: JobOut}, summary="Create a generation job",
             openapi_extra={"requestBody": {"content": {
                 "application/json": {"schema": JobIn.model_json_schema()},
                 "multipart/form-data": {"schema": {"type": "object", "properties": {
                     "image": {"type": "string", "format": "binary"},
                     "mask": {"type": "string", "format": "binary",
                              "description": "PNG; transparent pixels mark the area to repaint"},
                     **JobIn.model_json_schema()["properties"]}}},
             }, "required": True}})
def jobs_create(request):
    job = services.job_create(user=request.auth, spec=spec_from_request(request))
    return Status(202, job_out(job))


@router.get("/jobs", response=JobPage, summary="My jobs, newest first (cursor = the last id seen)")
def jobs_list(request, cursor: int | None = None, limit: int = 20, state: str | None = None, mode: str | None = None):
    from django.conf import settings

    if state and state not in Job.State.values:
        raise ValidationFailed(f"state must be one of {', '.join(Job.State.values)}.", code="invalid_filter")
    if mode and mode not in Job.Mode.values:
        raise ValidationFailed(f"mode must be one of {', '.join(Job.Mode.values)}.", code="invalid_filter")
    limit = max(1, min(limit, settings.API_MAX_PAGE_SIZE))
    qs = jobs_for_owner(user=request.auth, state=state, mode=mode)
    if cursor is not None:
        qs = qs.filter(pk__lt=cursor)
    jobs = list(qs.order_by("-id")[: limit + 1])
    has_more = len(jobs) > limit
    jobs = jobs[:limit]
    return {"items": [job_out(j) for j in jobs], "next_cursor": jobs[-1].pk if has_more else None}


@router.get("/jobs/{job_id}", response=JobOut, summary="A job: state, progress, images, error")
def jobs_get(request, job_id: int):
    job = services.job_for_owner(user=request.auth, job_id=job_id)
    return job_out(job)


@router.post("/jobs/{job_id}/cancel", response=JobOut, summary="Cancel a queued or running job")
def jobs_cancel(request, job_id: int):
    return job_out(services.job_cancel(user=request.auth, job_id=job_id))


@router.get("/models/current", auth=None, summary="The configured model and its limits")
def model_current(request):
    return {"model": backend_name(), "limits": backend_limits().as_dict()}
