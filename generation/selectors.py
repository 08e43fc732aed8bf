"""Reads for generation: jobs and images a user may see."""

from __future__ import annotations

from django.db.models import QuerySet

from generation.models import Image, Job


def jobs_for_owner(*, user, state: str | None = None, mode: str | None = None) -> QuerySet[Job]:
    qs = Job.objects.filter(owner=user).prefetch_related("images").order_by("-created_at", "-id")
    if state:
        qs = qs.filter(state=state)
    if mode:
        qs = qs.filter(mode=mode)
    return qs


def images_for_owner(*, user, mode: str | None = None, q: str | None = None) -> QuerySet[Image]:
    qs = Image.objects.filter(owner=user).select_related("owner").order_by("-created_at", "-id")
    if mode:
        qs = qs.filter(mode=mode)
    if q:
        qs = qs.filter(prompt__icontains=q)
    return qs
