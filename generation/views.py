"""Generation pages: the job page (progress, results), edit, outpaint, variations, My images."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from generation import services
from generation.backends import backend_limits
from generation.models import Image, Job
from generation.selectors import images_for_owner
from prompts.errors import AtelierError


@login_required
def job_detail(request, job_id: int):
    try:
        job = services.job_for_owner(user=request.user, job_id=job_id)
    except AtelierError:
        raise Http404("No such job.") from None
    images = sorted(job.images.all(), key=lambda i: i.index)
    return render(request, "generation/job.html", {"job": job, "images": images})


@login_required
@require_POST
def job_cancel(request, job_id: int):
    try:
        services.job_cancel(user=request.user, job_id=job_id)
    except AtelierError as exc:
        messages.error(request, exc.message)
    return redirect("job_detail", job_id=job_id)


def _source_or_404(request, image_id: int) -> Image:
    try:
        return services.image_for_source(user=request.user, image_id=image_id)
    except AtelierError:
        raise Http404("No such image.") from None


@login_required
@require_POST
def variation_create(request, image_id: int):
    source = _source_or_404(request, image_id)
    try:
        strength = float(request.POST.get("strength") or 0.6)
    except ValueError:
        strength = 0.6
    spec = services.JobSpec(mode=Job.Mode.VARIATION, source_image_id=source.pk, strength=strength,
                            prompt=request.POST.get("prompt", ""))
    return _create_and_redirect(request, spec, fallback=f"/jobs/{source.job_id}" if source.job_id else "/me/images")


def _create_and_redirect(request, spec: services.JobSpec, *, fallback: str):
    try:
        job = services.job_create(user=request.user, spec=spec)
    except AtelierError as exc:
        messages.error(request, exc.message)
        return redirect(fallback)
    return redirect("job_detail", job_id=job.pk)


@login_required
def edit_page(request, image_id: int):
    source = _source_or_404(request, image_id)
    return render(request, "generation/edit.html", {"source": source})


@login_required
def outpaint_page(request, image_id: int):
    source = _source_or_404(request, image_id)
    limits = backend_limits()
    sizes = sorted({w for w, _ in limits.sizes})
    return render(request, "generation/outpaint.html", {
        "source": source, "native": limits.default_size[0], "sides": sizes,
    })


@login_required
def my_images(request):
    mode = request.GET.get("mode") or None
    if mode and mode not in Job.Mode.values:
        mode = None
    q = (request.GET.get("q") or "").strip()[:200] or None
    page = Paginator(images_for_owner(user=request.user, mode=mode, q=q), 48).get_page(request.GET.get("page"))
    active = Job.objects.filter(owner=request.user, state__in=Job.ACTIVE_STATES).order_by("-created_at")[:10]
    return render(request, "generation/my_images.html", {
        "page": page, "mode": mode, "q": q or "", "modes": Job.Mode.choices, "active_jobs": active,
    })


def _int_or_none(value):
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        raise AtelierError(f"{value!r} is not a whole number.", code="invalid_number", status=422) from None


def _float_or_none(value):
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        raise AtelierError(f"{value!r} is not a number.", code="invalid_number", status=422) from None


def builder_spec(data) -> services.JobSpec:
    """A job from the builder's fields: subject, modifiers (`slug` or `slug:weight`), dialect,
    negative prompt, an optional hand-edited prompt, and parameters. The prompt is composed
    on the server, so the form works without JavaScript."""
    from prompts.composer import ModifierChoice, Recipe, recipe_render
    from prompts.selectors import catalog_get

    raw = data.getlist("modifiers") if hasattr(data, "getlist") else data.get("modifiers", [])
    if isinstance(raw, str):
        raw = [raw]
    choices = []
    for item in raw:
        for part in str(item).split(","):
            part = part.strip()
            if not part:
                continue
            slug, _, weight = part.partition(":")
            choices.append(ModifierChoice(slug=slug, weight=float(weight) if weight else 1.0))
    subject = (data.get("subject") or "").strip()
    dialect = data.get("dialect") or "plain"
    negative = (data.get("negative_prompt") or "").strip()
    prompt = (data.get("prompt") or "").strip()
    if not prompt:
        # The models read prose or tags; Midjourney's --parameters are not for them.
        rendered = recipe_render(recipe=Recipe(subject=subject, modifiers=tuple(choices), negative_prompt=negative),
                                 dialect="sd" if dialect == "sd" else "plain", catalog=catalog_get())
        prompt, negative = rendered.prompt, rendered.negative_prompt
    width = height = None
    if data.get("size"):
        try:
            width, height = (int(v) for v in str(data["size"]).lower().split("x"))
        except ValueError:
            raise AtelierError("size must look like 64x64.", code="invalid_size", status=422) from None
    remix_of = _int_or_none(data.get("remix_of"))
    return services.JobSpec(
        mode=Job.Mode.TEXT2IMG, prompt=prompt, negative_prompt=negative, seed=_int_or_none(data.get("seed")),
        width=width, height=height, steps=_int_or_none(data.get("steps")),
        guidance=_float_or_none(data.get("guidance")), num_images=_int_or_none(data.get("n")), remix_of_id=remix_of,
        recipe={"subject": subject, "modifiers": [f"{c.slug}:{c.weight:g}" if c.weight != 1 else c.slug for c in choices],
                "dialect": dialect},
    )


@login_required
@require_POST
def create_generate(request):
    """The builder's Generate button (without JavaScript too)."""
    from prompts.services import history_record

    try:
        spec = builder_spec(request.POST)
        job = services.job_create(user=request.user, spec=spec)
    except (AtelierError, ValueError) as exc:
        messages.error(request, getattr(exc, "message", str(exc)))
        return redirect(request.META.get("HTTP_REFERER") or "/create")
    history_record(user=request.user, prompt=job.prompt, negative_prompt=job.negative_prompt,
                   dialect=spec.recipe.get("dialect") or "plain", state=spec.recipe)
    return redirect("job_detail", job_id=job.pk)
