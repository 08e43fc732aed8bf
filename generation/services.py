"""Generation: create jobs, run them, cancel them, recover them.

Create: validate → content policy → (one transaction) lock the user, check the active-job
limit, write the job, spend the credit → enqueue after commit.
Run: claim with a conditional update (queued → running), write progress at most twice a
second, write the images (deterministic names per job and index, a unique constraint),
end in succeeded / failed (refund) / canceled (refund when nothing was produced).
Recover: `jobs_sweep` re-queues jobs whose message was lost or whose worker died.
"""

from __future__ import annotations

import io
import logging
import os
import secrets
import socket
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import PIL.Image
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from generation import imagefiles
from generation.backends import (
    GenerationInterrupted,
    GenerationRequest,
    Limits,
    ModelUnavailable,
    backend_get,
    backend_limits,
    backend_name,
)
from generation.credits import credits_refund, credits_spend
from generation.models import Image, Job
from generation.policy import account_check_active, texts_check
from generation.signals import image_deleted, images_created
from generation.uploads import mask_open, upload_open
from prompts.errors import AtelierError, NotFound, ValidationFailed

logger = logging.getLogger(__name__)

MAX_PROMPT_CHARS = 10_000
OUTPAINT_DIRECTIONS = ("left", "right", "up", "down", "all")
DEFAULT_IMAGES = {Job.Mode.TEXT2IMG: 4, Job.Mode.VARIATION: 3, Job.Mode.EDIT: 3, Job.Mode.OUTPAINT: 3}
PROGRESS_INTERVAL = 0.5  # seconds between progress writes ("at most twice a second")


class TooManyJobs(AtelierError):
    status = 429
    code = "too_many_jobs"


@dataclass
class JobSpec:
    """What a caller asks for, before validation. Sources are a gallery image id or bytes."""

    mode: str = Job.Mode.TEXT2IMG
    prompt: str = ""
    negative_prompt: str = ""
    seed: int | None = None
    width: int | None = None
    height: int | None = None
    steps: int | None = None
    guidance: float | None = None
    num_images: int | None = None
    strength: float | None = None
    source_image_id: int | None = None
    source_bytes: bytes | None = None
    mask_bytes: bytes | None = None
    direction: str | None = None  # outpaint
    expand: int | None = None  # outpaint: pixels added on that side (each side for "all")
    shrink: float | None = None  # outpaint: scale the image down inside the same frame
    canvas: tuple[int, int] | None = None  # outpaint: the frame size ...
    offset: tuple[int, int] | None = None  # ... and where the image sits in it
    remix_of_id: int | None = None
    recipe: dict[str, Any] = field(default_factory=dict)  # builder state: subject, modifiers, dialect


# --- validation -------------------------------------------------------------------


def _check_text(name: str, value: str) -> str:
    if "\x00" in value:
        raise ValidationFailed(f"{name} contains a NUL byte.", code="invalid_text", details={"field": name})
    if len(value) > MAX_PROMPT_CHARS:
        raise ValidationFailed(f"{name} is longer than {MAX_PROMPT_CHARS:,} characters.", code="too_long",
                               details={"field": name, "length": len(value), "max": MAX_PROMPT_CHARS})
    return value.strip()


def _check_range(name: str, value, bounds, *, code: str):
    lo, hi = bounds
    if not lo <= value <= hi:
        raise ValidationFailed(f"{name} must be between {lo} and {hi}; got {value}.", code=code,
                               details={"field": name, "min": lo, "max": hi, "got": value})
    return value


def _check_size(limits: Limits, width: int, height: int) -> None:
    if (width, height) not in limits.sizes:
        allowed = [f"{w}x{h}" for w, h in limits.sizes]
        raise ValidationFailed(f"Size {width}x{height} is not supported by this model. Allowed: {', '.join(allowed)}.",
                               code="size_not_allowed", details={"allowed_sizes": allowed, "got": f"{width}x{height}"})


def image_for_source(*, user, image_id: int) -> Image:
    """A gallery image usable as a source: own, or anyone's that is not private or hidden."""
    image = Image.objects.filter(pk=image_id).first()
    if image is None or not image.visible_to(user):
        raise NotFound("No such image.", details={"source_image": image_id})
    return image


def image_open(image: Image) -> PIL.Image.Image:
    with default_storage.open(image.file, "rb") as fh:
        return upload_open(fh.read())


def _fit(image: PIL.Image.Image, size: tuple[int, int], resample=PIL.Image.Resampling.LANCZOS) -> PIL.Image.Image:
    """Centre-crop to the aspect ratio of `size`, then resize to it."""
    w, h = image.size
    target = size[0] / size[1]
    if w / h > target:
        new_w = round(h * target)
        image = image.crop(((w - new_w) // 2, 0, (w - new_w) // 2 + new_w, h))
    elif w / h < target:
        new_h = round(w / target)
        image = image.crop((0, (h - new_h) // 2, w, (h - new_h) // 2 + new_h))
    return image.resize(size, resample) if image.size != size else image


def outpaint_prepare(source: PIL.Image.Image, *, direction: str | None, expand: int | None, shrink: float | None,
                     limits: Limits, canvas: tuple[int, int] | None = None,
                     offset: tuple[int, int] | None = None) -> tuple[PIL.Image.Image, PIL.Image.Image]:
    """Place the source on a larger canvas → (canvas, mask; white = paint).

    Three ways to say where: a `canvas` size with the image's `offset` in it (the page's
    movable frame), a `direction` and `expand` in pixels, or `shrink` (the image scaled
    down inside the same frame, as DALL·E users did by hand to uncrop)."""
    base_w, base_h = limits.default_size
    src = _fit(source, (base_w, base_h))
    if canvas is not None:
        width, height = canvas
        _check_size(limits, width, height)
        inner = src
        left, top = offset or ((width - base_w) // 2, (height - base_h) // 2)
        if not (0 <= left <= width - base_w and 0 <= top <= height - base_h):
            raise ValidationFailed(f"The image must lie inside the {width}x{height} frame.", code="invalid_offset",
                                   details={"max_left": width - base_w, "max_top": height - base_h})
    elif shrink is not None:
        if not 0.25 <= shrink < 1:
            raise ValidationFailed("shrink must be at least 0.25 and below 1.", code="invalid_shrink")
        width, height = base_w, base_h
        inner = src.resize((max(8, round(base_w * shrink)), max(8, round(base_h * shrink))),
                           PIL.Image.Resampling.LANCZOS)
        left, top = (width - inner.width) // 2, (height - inner.height) // 2
    else:
        if direction not in OUTPAINT_DIRECTIONS:
            raise ValidationFailed(f"direction must be one of {', '.join(OUTPAINT_DIRECTIONS)}.",
                                   code="invalid_direction")
        expand = expand if expand is not None else base_w // 2
        if expand <= 0:
            raise ValidationFailed("expand must be positive.", code="invalid_expand")
        grow = expand * (2 if direction == "all" else 1)
        width = base_w + (grow if direction in ("left", "right", "all") else 0)
        height = base_h + (grow if direction in ("up", "down", "all") else 0)
        _check_size(limits, width, height)
        inner = src
        left = expand if direction in ("left", "all") else 0
        top = expand if direction in ("up", "all") else 0
    picture = PIL.Image.new("RGB", (width, height), (127, 127, 127))
    # Stretch the source over the new area as a starting point: better than flat grey.
    picture.paste(inner.resize((width, height), PIL.Image.Resampling.BILINEAR))
    picture.paste(inner, (left, top))
    mask = PIL.Image.new("L", (width, height), 255)
    mask.paste(0, (left, top, left + inner.width, top + inner.height))
    return picture, mask


def _png_bytes(image: PIL.Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


# --- create -----------------------------------------------------------------------


def job_create(*, user, spec: JobSpec) -> Job:
    account_check_active(user=user)
    limits = backend_limits()
    mode = spec.mode
    if mode not in Job.Mode.values:
        raise ValidationFailed(f"mode must be one of {', '.join(Job.Mode.values)}.", code="invalid_mode")
    prompt = _check_text("prompt", spec.prompt or "")
    negative = _check_text("negative_prompt", spec.negative_prompt or "")
    if mode in (Job.Mode.TEXT2IMG, Job.Mode.EDIT, Job.Mode.OUTPAINT) and not prompt:
        raise ValidationFailed("A prompt is required for this mode.", code="prompt_required", details={"field": "prompt"})
    steps = _check_range("steps", spec.steps if spec.steps is not None else limits.default_steps, limits.steps,
                         code="steps_out_of_range")
    guidance = _check_range("guidance", spec.guidance if spec.guidance is not None else limits.default_guidance,
                            limits.guidance, code="guidance_out_of_range")
    num_images = _check_range("n", spec.num_images if spec.num_images is not None else DEFAULT_IMAGES[mode],
                              (1, limits.max_images), code="n_out_of_range")
    strength = None
    if mode == Job.Mode.VARIATION:
        strength = _check_range("strength", spec.strength if spec.strength is not None else 0.6, (0.05, 1.0),
                                code="strength_out_of_range")
    seed = spec.seed if spec.seed is not None else secrets.randbelow(2**31)
    _check_range("seed", seed, (0, 2**63 - 1), code="seed_out_of_range")
    width = spec.width or limits.default_size[0]
    height = spec.height or limits.default_size[1]

    # The policy check comes before any credit is spent or file is stored.
    texts_check(user=user, texts={"prompt": prompt, "negative_prompt": negative})

    source_image = None
    remix_of = None
    if spec.remix_of_id is not None:
        remix_of = image_for_source(user=user, image_id=spec.remix_of_id)
    source_file = mask_file = ""
    canvas = mask = None
    if mode == Job.Mode.TEXT2IMG:
        _check_size(limits, width, height)
    else:
        if spec.source_image_id is not None:
            source_image = image_for_source(user=user, image_id=spec.source_image_id)
            source = image_open(source_image)
            if not prompt and mode == Job.Mode.VARIATION:
                prompt = source_image.prompt
                negative = negative or source_image.negative_prompt
        elif spec.source_bytes is not None:
            source = upload_open(spec.source_bytes)
        else:
            raise ValidationFailed("This mode needs a source image: `source_image` (a gallery image id) or an upload "
                                   "in field `image`.", code="source_required")
        if mode == Job.Mode.OUTPAINT:
            canvas, mask = outpaint_prepare(source, direction=spec.direction, expand=spec.expand, shrink=spec.shrink,
                                            limits=limits, canvas=spec.canvas, offset=spec.offset)
            width, height = canvas.size
        else:
            if spec.width is None and spec.height is None:
                width, height = limits.default_size
            _check_size(limits, width, height)
            if mode == Job.Mode.EDIT:
                if spec.mask_bytes is None:
                    raise ValidationFailed("An edit needs a mask: a PNG whose transparent pixels mark the area "
                                           "to repaint, in field `mask`.", code="mask_required")
                mask = _fit(mask_open(spec.mask_bytes, size=source.size), (width, height),
                            PIL.Image.Resampling.NEAREST)
            canvas = _fit(source, (width, height))
    files: list[str] = []
    try:
        if canvas is not None:
            token = uuid.uuid4().hex
            source_file = imagefiles.file_write_atomic(storage=default_storage, name=f"sources/{token}.png",
                                                       data=_png_bytes(canvas))
            files.append(source_file)
            if mask is not None:
                mask_file = imagefiles.file_write_atomic(storage=default_storage, name=f"sources/{token}-mask.png",
                                                         data=_png_bytes(mask))
                files.append(mask_file)
        recipe = {
            **{k: v for k, v in (spec.recipe or {}).items() if k in ("subject", "modifiers", "dialect", "keep_seed")},
            "mode": mode, "prompt": prompt, "negative_prompt": negative, "model": backend_name(), "seed": seed,
            "width": width, "height": height, "steps": steps, "guidance": guidance, "n": num_images,
        }
        if strength is not None:
            recipe["strength"] = strength
        if mode == Job.Mode.OUTPAINT:
            recipe["outpaint"] = {"direction": spec.direction, "expand": spec.expand, "shrink": spec.shrink,
                                  "canvas": list(spec.canvas) if spec.canvas else None,
                                  "offset": list(spec.offset) if spec.offset else None}
        if source_image is not None:
            recipe["source_image"] = source_image.pk
        if remix_of is not None:
            recipe["remix_of"] = remix_of.pk
        with transaction.atomic():
            submissions_lock(user=user)
            submissions_check_active(user=user)
            job = job_insert(
                user=user, mode=mode, recipe=recipe, prompt=prompt, negative_prompt=negative,
                seed=seed, width=width, height=height, steps=steps, guidance=guidance, num_images=num_images,
                strength=strength, source_image=source_image, source_file=source_file, mask_file=mask_file,
                remix_of=remix_of,
            )
            transaction.on_commit(lambda: job_enqueue(job_id=job.pk))
    except BaseException:
        for name in files:
            default_storage.delete(name)
        raise
    return job


def submissions_active(*, user) -> int:
    """What counts against JOBS_MAX_ACTIVE: each active job outside a comparison grid,
    plus one per grid with an active cell (a grid is one submission of many cells)."""
    grids, single = set(), 0
    for recipe in Job.objects.filter(owner=user, state__in=Job.ACTIVE_STATES).values_list("recipe", flat=True):
        grid = (recipe or {}).get("grid")
        if isinstance(grid, dict) and grid.get("id"):
            grids.add(grid["id"])
        else:
            single += 1
    return single + len(grids)


def submissions_check_active(*, user) -> None:
    active = submissions_active(user=user)
    if active >= settings.JOBS_MAX_ACTIVE:
        raise TooManyJobs(f"You already have {active} generations queued or running; wait for one to finish.",
                          details={"active": active, "limit": settings.JOBS_MAX_ACTIVE},
                          headers={"Retry-After": "5"})


def submissions_lock(*, user) -> None:
    """Lock the user's row (inside a transaction): one user's creations are serialised, so
    the active limit and the credit spend cannot be raced past."""
    get_user_model().objects.select_for_update().filter(pk=user.pk).first()


def job_insert(*, user, recipe: dict, prompt: str, steps: int, **fields) -> Job:
    """Write one queued job and spend its credit (inside the caller's transaction, after
    `submissions_lock`; enqueue it on commit)."""
    job = Job.objects.create(owner=user, recipe=recipe, prompt=prompt, model=recipe["model"], steps=steps,
                             progress_total=steps, enqueued_at=timezone.now(), credits_spent=1, **fields)
    credits_spend(user=user, amount=1, reference=f"job:{job.pk}")
    return job


def job_enqueue(*, job_id: int) -> None:
    from generation.tasks import job_run

    job_run.delay(job_id)


# --- run --------------------------------------------------------------------------


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def job_claim(*, job_id: int, worker: str) -> bool:
    now = timezone.now()
    claimed = Job.objects.filter(pk=job_id, state=Job.State.QUEUED, cancel_requested=False).update(
        state=Job.State.RUNNING, attempts=F("attempts") + 1, worker=worker, heartbeat_at=now,
        started_at=now, progress_step=0,
    )
    return claimed == 1


def job_execute(*, job_id: int, worker: str | None = None) -> str:
    """Run one job to its end state. Safe to call twice or after a crash: only a queued job
    is claimed, and images are written under deterministic names with a unique constraint."""
    worker = worker or worker_id()
    if not job_claim(job_id=job_id, worker=worker):
        job = Job.objects.filter(pk=job_id).first()
        if job is not None and job.state == Job.State.QUEUED and job.cancel_requested:
            _job_finish_canceled(job)
            return Job.State.CANCELED
        return job.state if job else "missing"
    job = Job.objects.select_related("owner").get(pk=job_id)
    try:
        backend = backend_get(job.model)
        Job.objects.filter(pk=job.pk, state=Job.State.RUNNING).update(heartbeat_at=timezone.now())
        images = backend.generate(_request_for(job), on_step=_progress_writer(job))
        created = _images_store(job, images, sampler=backend.sampler)
    except GenerationInterrupted:
        _job_finish_canceled(job)
        return Job.State.CANCELED
    except (ModelUnavailable, ValueError) as exc:
        _job_fail(job, code=getattr(exc, "code", "generation_failed"), message=str(exc))
        return Job.State.FAILED
    except Exception as exc:
        logger.exception("job %s failed", job.pk)
        _job_fail(job, code="generation_failed", message=f"Generation failed: {type(exc).__name__}: {exc}"[:500])
        return Job.State.FAILED
    if created:
        ids = [image.pk for image in created]
        transaction.on_commit(lambda: images_created.send(sender=Job, job_id=job.pk, image_ids=ids))
    return Job.State.SUCCEEDED


def _request_for(job: Job) -> GenerationRequest:
    image = mask = None
    if job.source_file:
        with default_storage.open(job.source_file, "rb") as fh:
            image = PIL.Image.open(io.BytesIO(fh.read())).convert("RGB")
    if job.mask_file:
        with default_storage.open(job.mask_file, "rb") as fh:
            mask = PIL.Image.open(io.BytesIO(fh.read())).convert("L")
    return GenerationRequest(mode=job.mode, prompt=job.prompt, negative_prompt=job.negative_prompt, seed=job.seed,
                             width=job.width, height=job.height, steps=job.steps, guidance=job.guidance,
                             num_images=job.num_images, strength=job.strength, image=image, mask=mask)


def _progress_writer(job: Job):
    last = {"t": 0.0}

    def on_step(step: int, total: int) -> bool:
        now = time.monotonic()
        if now - last["t"] < PROGRESS_INTERVAL and step < total:
            return False
        last["t"] = now
        # One statement writes progress and the heartbeat, and tells us about a cancel:
        # it matches no row once cancel was requested (or the job was taken from us).
        alive = Job.objects.filter(pk=job.pk, state=Job.State.RUNNING, cancel_requested=False).update(
            progress_step=step, progress_total=total, heartbeat_at=timezone.now()
        )
        return alive == 0

    return on_step


def image_names(job_id: int, index: int) -> dict[str, str]:
    stem = f"images/{job_id // 1000:04d}/{job_id}-{index}"
    return {"file": f"{stem}.png", "small": f"{stem}-256.webp", "large": f"{stem}-768.webp"}


def _images_store(job: Job, images: list[PIL.Image.Image], *, sampler: str) -> list[Image]:
    written: list[str] = []
    parent = job.source_image
    rows = []
    try:
        for index, picture in enumerate(images):
            names = image_names(job.pk, index)
            meta = imagefiles.ImageMetadata(
                prompt=job.prompt, negative_prompt=job.negative_prompt, steps=job.steps, sampler=sampler,
                cfg_scale=job.guidance, seed=job.seed + index, width=picture.width, height=picture.height,
                model=_model_label(job.model),
                recipe={**job.recipe, "seed": job.seed + index, "index": index, "sampler": sampler},
            )
            written.append(imagefiles.file_write_atomic(storage=default_storage, name=names["file"],
                                                        data=imagefiles.png_encode(picture, metadata=meta)))
            thumbs = imagefiles.thumbnails_make(picture, widths=(256, 768))
            written.append(imagefiles.file_write_atomic(storage=default_storage, name=names["small"], data=thumbs[256]))
            written.append(imagefiles.file_write_atomic(storage=default_storage, name=names["large"], data=thumbs[768]))
            blurhash, color = imagefiles.placeholder_compute(picture)
            rows.append(dict(index=index, file=names["file"], thumb_small=names["small"], thumb_large=names["large"],
                             width=picture.width, height=picture.height, blurhash=blurhash, color=color,
                             seed=job.seed + index, recipe=meta.recipe))
        with transaction.atomic():
            created = []
            for row in rows:
                index = row.pop("index")
                image, was_created = Image.objects.get_or_create(
                    job=job, index=index,
                    defaults=dict(owner=job.owner, prompt=job.prompt, negative_prompt=job.negative_prompt,
                                  mode=job.mode, model=job.model, parent=parent, remix_of=job.remix_of, **row),
                )
                if was_created:
                    created.append(image)
            if job.remix_of_id and created:
                Image.objects.filter(pk=job.remix_of_id).update(remix_count=F("remix_count") + len(created))
            finished = Job.objects.filter(pk=job.pk, state=Job.State.RUNNING).update(
                state=Job.State.SUCCEEDED, progress_step=job.steps, finished_at=timezone.now(), heartbeat_at=timezone.now()
            )
            if not finished:
                # Canceled (or swept) while we wrote: the images stay, since they exist.
                Job.objects.filter(pk=job.pk).exclude(state=Job.State.SUCCEEDED).update(
                    state=Job.State.SUCCEEDED, finished_at=timezone.now()
                )
        return created
    except BaseException:
        # No orphans: remove files that no row refers to.
        referenced = set(Image.objects.filter(job=job).values_list("file", "thumb_small", "thumb_large").iterator())
        referenced = {name for triple in referenced for name in triple}
        for name in written:
            if name not in referenced:
                default_storage.delete(name)
        raise


def _model_label(name: str) -> str:
    return "atelier-embedded" if name == "embedded" else name.rstrip("/").rsplit("/", 1)[-1]


def _job_fail(job: Job, *, code: str, message: str) -> None:
    with transaction.atomic():
        changed = Job.objects.filter(pk=job.pk, state__in=Job.ACTIVE_STATES).update(
            state=Job.State.FAILED, error_code=code, error_message=message, finished_at=timezone.now()
        )
        if changed:
            credits_refund(user=job.owner, reference=f"job:{job.pk}", note=f"Job {job.pk} failed")


def _job_finish_canceled(job: Job) -> None:
    with transaction.atomic():
        changed = Job.objects.filter(pk=job.pk, state__in=Job.ACTIVE_STATES).update(
            state=Job.State.CANCELED, finished_at=timezone.now()
        )
        if changed and not Image.objects.filter(job=job).exists():
            credits_refund(user=job.owner, reference=f"job:{job.pk}", note=f"Job {job.pk} canceled")


# --- cancel -----------------------------------------------------------------------


def job_for_owner(*, user, job_id: int) -> Job:
    job = Job.objects.filter(pk=job_id, owner=user).first()
    if job is None:
        raise NotFound("No such job.")
    return job


def job_cancel(*, user, job_id: int) -> Job:
    job = job_for_owner(user=user, job_id=job_id)
    if job.is_final:
        raise AtelierError(f"This job has already {job.state}.", code="job_finished", status=409)
    # A queued job ends now; a running one stops at its next step.
    if Job.objects.filter(pk=job.pk, state=Job.State.QUEUED).update(cancel_requested=True):
        _job_finish_canceled(job)
    else:
        Job.objects.filter(pk=job.pk, state=Job.State.RUNNING).update(cancel_requested=True)
    job.refresh_from_db()
    return job


# --- recover ----------------------------------------------------------------------


@dataclass(frozen=True)
class SweepResult:
    requeued: list[int]
    resent: list[int]
    failed: list[int]


def jobs_sweep(*, now=None) -> SweepResult:
    """Re-queue jobs whose worker died (running, heartbeat stale) and re-send jobs whose
    message may be lost (queued for long); fail them after JOB_MAX_ATTEMPTS, with a refund.
    Duplicate messages are harmless: only one claim of a queued job can succeed."""
    now = now or timezone.now()
    stale = now - timedelta(seconds=settings.JOB_STALE_SECONDS)
    requeued, resent, failed = [], [], []
    for job in Job.objects.filter(state=Job.State.RUNNING, heartbeat_at__lt=stale).select_related("owner"):
        if job.attempts >= settings.JOB_MAX_ATTEMPTS:
            _job_fail(job, code="worker_lost", message=f"The worker stopped {job.attempts} times while running this job.")
            failed.append(job.pk)
            continue
        if job.cancel_requested:
            _job_finish_canceled(job)
            continue
        if Job.objects.filter(pk=job.pk, state=Job.State.RUNNING, heartbeat_at__lt=stale).update(
            state=Job.State.QUEUED, worker="", enqueued_at=now
        ):
            requeued.append(job.pk)
    resend_before = now - timedelta(seconds=settings.JOB_QUEUED_RESEND_SECONDS)
    for job_id in Job.objects.filter(state=Job.State.QUEUED, enqueued_at__lt=resend_before).values_list("pk", flat=True):
        if Job.objects.filter(pk=job_id, state=Job.State.QUEUED, enqueued_at__lt=resend_before).update(enqueued_at=now):
            resent.append(job_id)
    for job_id in requeued + resent:
        job_enqueue(job_id=job_id)
    return SweepResult(requeued, resent, failed)


# --- images -----------------------------------------------------------------------


def image_delete(*, user, image_id: int) -> None:
    """Owners delete their images; the files go too."""
    image = Image.objects.filter(pk=image_id, owner=user).first()
    if image is None:
        raise NotFound("No such image.")
    names = [image.file, image.thumb_small, image.thumb_large]
    with transaction.atomic():
        Image.objects.filter(remix_of=image).update(remix_of=None)
        if image.remix_of_id:
            Image.objects.filter(pk=image.remix_of_id, remix_count__gt=0).update(remix_count=F("remix_count") - 1)
        image.delete()
        transaction.on_commit(lambda: [default_storage.delete(n) for n in names if n])
        transaction.on_commit(lambda: image_deleted.send(sender=Image, image_id=image_id))
