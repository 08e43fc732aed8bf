"""Which images a search may return: the caller's Image queryset, as SQL to nest."""

from __future__ import annotations

from django.db.models import QuerySet

from generation.models import Image


def public_images() -> QuerySet[Image]:
    """What anyone may find when the caller says nothing: public, not hidden."""
    return Image.objects.filter(visibility=Image.Visibility.PUBLIC, hidden=False)


def scope_sql(base_queryset: QuerySet[Image] | None) -> tuple[str, tuple]:
    """`SELECT id FROM ...` of the images a search may return, for `image_id IN (...)`.

    Every search ends with this filter in the same statement as its ranking, so a result
    outside the caller's queryset (a private or hidden image, say) cannot come back."""
    queryset = public_images() if base_queryset is None else base_queryset
    if queryset.model is not Image:
        raise TypeError(f"base_queryset must be a queryset of generation.Image, not {queryset.model.__name__}")
    sql, params = queryset.order_by().values("pk").query.sql_with_params()
    return sql, tuple(params)


def scope_filter(ranked: list[tuple[int, float]], limit: int, base_queryset: QuerySet[Image] | None
                 ) -> list[tuple[int, float]]:
    """The first `limit` of these ranked (image id, score) pairs that lie in the queryset,
    in their order. Filtering a ranking's head by primary key costs a millisecond, where
    joining the whole queryset into the ranking query would scan it (~1M rows).

    The head is checked first (most searches need nothing more), then the rest at once."""
    queryset = public_images() if base_queryset is None else base_queryset
    if queryset.model is not Image:
        raise TypeError(f"base_queryset must be a queryset of generation.Image, not {queryset.model.__name__}")
    found: list[tuple[int, float]] = []
    head = max(2 * limit, 100)
    for part in (ranked[:head], ranked[head:]):
        if not part or len(found) >= limit:
            break
        allowed = set(queryset.filter(pk__in=[image_id for image_id, _ in part]).values_list("pk", flat=True))
        found.extend(hit for hit in part if hit[0] in allowed)
    return found[:limit]
