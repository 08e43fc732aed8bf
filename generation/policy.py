"""Enforcing the content policy (the text rules live in prompts.policy).

A refused prompt is recorded before the request fails, so repeats count; five in thirty
days (configurable) suspend the account until an admin lifts the suspension.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from generation.models import PolicyViolation, Suspension
from prompts.errors import AtelierError
from prompts.policy import POLICY_CATEGORIES, policy_check
from prompts.selectors import policy_ruleset_get


class PolicyViolationError(AtelierError):
    status = 400
    code = "policy_violation"


class AccountSuspended(AtelierError):
    status = 403
    code = "account_suspended"


def account_check_active(*, user) -> None:
    suspension = Suspension.objects.filter(user=user, lifted_at__isnull=True).first()
    if suspension is not None:
        raise AccountSuspended(
            "Your account is suspended after repeated content-policy violations; an admin can lift it.",
            details={"since": suspension.created_at.isoformat()},
        )


def texts_check(*, user, texts: dict[str, str]) -> None:
    """Raise PolicyViolationError naming the category (never the matched term)."""
    ruleset = policy_ruleset_get()
    for field_name, text in texts.items():
        if not text:
            continue
        hits = policy_check(text=text, ruleset=ruleset)
        if not hits:
            continue
        category = hits[0].category
        if user is not None and user.is_authenticated:
            violation_record(user=user, category=category, field=field_name, text=text)
        label = POLICY_CATEGORIES.get(category, category)
        raise PolicyViolationError(
            f"This {field_name.replace('_', ' ')} breaks the content policy ({label}). "
            "Nothing was generated and no credit was spent.",
            details={"category": category, "field": field_name},
        )


def violation_record(*, user, category: str, field: str, text: str) -> None:
    # Committed on its own: the request that follows fails, but the record must stay.
    with transaction.atomic():
        PolicyViolation.objects.create(user=user, category=category, field=field, excerpt=text[:300])
        since = timezone.now() - timedelta(days=settings.POLICY_WINDOW_DAYS)
        recent = PolicyViolation.objects.filter(user=user, created_at__gte=since).count()
        if recent >= settings.POLICY_SUSPEND_AFTER and not Suspension.objects.filter(
            user=user, lifted_at__isnull=True
        ).exists():
            Suspension.objects.create(
                user=user, reason=f"{recent} content-policy violations in {settings.POLICY_WINDOW_DAYS} days"
            )


def suspension_lift(*, suspension: Suspension, by) -> None:
    suspension.lifted_at = timezone.now()
    suspension.lifted_by = by
    suspension.save(update_fields=["lifted_at", "lifted_by"])
