"""The credits ledger: grants with an expiry, spends, refunds.

The balance is the sum of `remaining` over unexpired grants. A spend draws from the grant
that expires first; grants are locked (`select_for_update`) and decremented with a
conditional update, so two parallel spends can never take the balance below zero.
The monthly free grant is issued lazily, on the first balance check in a new month,
so no cron job is needed (Celery beat can call `credits_grant_due` too).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils import timezone

from generation.models import CreditEntry, CreditGrant
from prompts.errors import AtelierError


class InsufficientCredits(AtelierError):
    status = 402
    code = "insufficient_credits"


def add_months(moment: datetime, months: int) -> datetime:
    """The same day and time `months` later, clamped to the month's last day."""
    month_index = moment.month - 1 + months
    year = moment.year + month_index // 12
    month = month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def _period_of(user, now: datetime) -> int:
    """Months elapsed since sign-up (0 during the first month)."""
    joined = user.date_joined
    months = (now.year - joined.year) * 12 + (now.month - joined.month)
    if add_months(joined, months) > now:
        months -= 1
    return max(months, 0)


@dataclass(frozen=True)
class CreditSummary:
    balance: int
    next_grant_at: datetime
    next_grant_amount: int
    expiries: list[tuple[int, datetime]]  # (remaining, expires_at), soonest first


def credits_grant_due(*, user, now: datetime | None = None) -> CreditGrant | None:
    """Issue this month's free grant if it is missing. Idempotent (a unique constraint)."""
    now = now or timezone.now()
    period = _period_of(user, now)
    if CreditGrant.objects.filter(user=user, kind=CreditGrant.Kind.MONTHLY, period=period).exists():
        return None
    amount = settings.CREDITS_FIRST_GRANT if period == 0 else settings.CREDITS_MONTHLY_GRANT
    start = add_months(user.date_joined, period)
    try:
        with transaction.atomic():
            grant = CreditGrant.objects.create(
                user=user,
                kind=CreditGrant.Kind.MONTHLY,
                amount=amount,
                remaining=amount,
                period=period,
                granted_at=start,
                expires_at=add_months(start, settings.CREDITS_GRANT_MONTHS_VALID),
            )
            CreditEntry.objects.create(user=user, kind=CreditEntry.Kind.GRANT, amount=amount, grant=grant,
                                       note=f"Free grant, month {period + 1}")
    except IntegrityError:
        return None  # a parallel request issued it first
    return grant


def credits_balance(*, user, now: datetime | None = None) -> int:
    now = now or timezone.now()
    credits_grant_due(user=user, now=now)
    total = CreditGrant.objects.filter(user=user, expires_at__gt=now).aggregate(total=Sum("remaining"))
    return total["total"] or 0


def credits_summary(*, user, now: datetime | None = None) -> CreditSummary:
    now = now or timezone.now()
    balance = credits_balance(user=user, now=now)
    next_grant_at = add_months(user.date_joined, _period_of(user, now) + 1)
    expiries = list(
        CreditGrant.objects.filter(user=user, expires_at__gt=now, remaining__gt=0)
        .values_list("remaining", "expires_at")
    )
    return CreditSummary(balance, next_grant_at, settings.CREDITS_MONTHLY_GRANT, expiries)


def credits_spend(*, user, amount: int = 1, reference: str = "", now: datetime | None = None) -> list[CreditEntry]:
    """Take `amount` credits, soonest-expiring first; raise InsufficientCredits (402) otherwise.

    Call inside the caller's transaction when the spend must commit together with other
    writes (job creation does); on its own it opens one.
    """
    if amount <= 0:
        raise ValueError("amount must be positive")
    now = now or timezone.now()
    credits_grant_due(user=user, now=now)
    with transaction.atomic():
        grants = list(
            CreditGrant.objects.select_for_update()
            .filter(user=user, expires_at__gt=now, remaining__gt=0)
            .order_by("expires_at", "id")
        )
        available = sum(g.remaining for g in grants)
        if available < amount:
            summary_next = add_months(user.date_joined, _period_of(user, now) + 1)
            raise InsufficientCredits(
                f"Not enough credits: this needs {amount} and your balance is {available}.",
                details={"balance": available, "needed": amount, "next_grant_at": summary_next.isoformat()},
            )
        entries = []
        left = amount
        for grant in grants:
            take = min(left, grant.remaining)
            # The conditional update is the real guard; the lock above makes it succeed first time.
            changed = CreditGrant.objects.filter(pk=grant.pk, remaining__gte=take).update(
                remaining=F("remaining") - take
            )
            if not changed:
                raise InsufficientCredits("Your balance changed; try again.", details={"balance": 0})
            entries.append(
                CreditEntry.objects.create(user=user, kind=CreditEntry.Kind.SPEND, amount=-take,
                                           grant=grant, reference=reference)
            )
            left -= take
            if not left:
                break
        return entries


def credits_refund(*, user, reference: str, note: str = "", now: datetime | None = None) -> int:
    """Give back what was spent under `reference` (once). Returns the credits refunded.

    Credits go back to their grant while it is still valid; a grant that expired meanwhile
    is replaced by a refund grant valid for a month, so a failure never costs the user.
    """
    now = now or timezone.now()
    with transaction.atomic():
        entries = list(
            CreditEntry.objects.select_for_update(of=("self",))
            .filter(user=user, reference=reference)
            .select_related("grant")
        )
        spent = -sum(e.amount for e in entries if e.kind == CreditEntry.Kind.SPEND)
        refunded = sum(e.amount for e in entries if e.kind == CreditEntry.Kind.REFUND)
        due = spent - refunded
        if due <= 0:
            return 0
        for entry in entries:
            if entry.kind != CreditEntry.Kind.SPEND or due <= 0:
                continue
            give = min(-entry.amount, due)
            grant = entry.grant
            if grant is not None and grant.expires_at > now:
                CreditGrant.objects.filter(pk=grant.pk).update(remaining=F("remaining") + give)
            else:
                grant = CreditGrant.objects.create(
                    user=user, kind=CreditGrant.Kind.REFUND, amount=give, remaining=give,
                    granted_at=now, expires_at=add_months(now, 1), note=f"Refund for {reference}",
                )
            CreditEntry.objects.create(user=user, kind=CreditEntry.Kind.REFUND, amount=give, grant=grant,
                                       reference=reference, note=note)
            due -= give
        return spent - refunded


def credits_grant_admin(*, user, amount: int, months_valid: int = 1, note: str = "",
                        now: datetime | None = None) -> CreditGrant:
    if amount <= 0:
        raise AtelierError("amount must be positive", code="invalid_amount", status=422)
    now = now or timezone.now()
    with transaction.atomic():
        grant = CreditGrant.objects.create(
            user=user, kind=CreditGrant.Kind.ADMIN, amount=amount, remaining=amount,
            granted_at=now, expires_at=add_months(now, months_valid), note=note,
        )
        CreditEntry.objects.create(user=user, kind=CreditEntry.Kind.GRANT, amount=amount, grant=grant,
                                   note=note or "Admin grant")
    return grant
