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
