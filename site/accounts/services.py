"""Accounts: sign-up (open, waitlist, closed), invitations, API tokens."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from atelier_site.accounts.models import ApiToken, WaitlistEntry, token_digest
from generation.credits import credits_grant_due
from prompts.errors import AtelierError

TOKEN_PREFIX = "atl_"  # noqa: S105 - a public prefix, not a secret


@dataclass(frozen=True)
class CreatedToken:
    token: ApiToken
    raw: str  # shown to the user once, never stored


def invite_valid(raw: str | None) -> WaitlistEntry | None:
    if not raw:
        return None
    return WaitlistEntry.objects.filter(
        invite_digest=token_digest(raw), approved_at__isnull=False, used_at__isnull=True
    ).first()


def signup_allowed(*, invite: str | None = None) -> bool:
    if settings.SIGNUP_MODE == "open":
        return True
    if settings.SIGNUP_MODE == "waitlist":
        return invite_valid(invite) is not None
    return False


@transaction.atomic
def user_create(*, username: str, email: str, password: str, invite: str | None = None):
    if not signup_allowed(invite=invite):
        raise AtelierError("Sign-up is not open.", code="signup_closed", status=403)
    user = get_user_model().objects.create_user(username=username, email=email, password=password)
    entry = invite_valid(invite)
    if entry:
        entry.used_at = timezone.now()
        entry.save(update_fields=["used_at"])
    credits_grant_due(user=user)
    return user


def waitlist_join(*, email: str, note: str = "") -> WaitlistEntry:
    entry, _ = WaitlistEntry.objects.get_or_create(email=email.strip().lower(), defaults={"note": note})
    return entry


def waitlist_approve(*, entries: QuerySet[WaitlistEntry] | list[WaitlistEntry]) -> int:
    """Approve a batch: each address gets a one-time sign-up link by e-mail."""
    count = 0
    for entry in entries:
        if entry.approved_at:
            continue
        raw = secrets.token_urlsafe(24)
        entry.invite_digest = token_digest(raw)
        entry.approved_at = timezone.now()
        entry.save(update_fields=["invite_digest", "approved_at"])
        send_mail(
            "Your Atelier invitation",
            f"You're in! Create your account here:\n\n{settings.SITE_URL}/accounts/signup/?invite={raw}\n",
            settings.DEFAULT_FROM_EMAIL,
            [entry.email],
        )
        count += 1
    return count


def token_create(*, user, name: str) -> CreatedToken:
    name = name.strip()
    if not name or len(name) > 60:
        raise AtelierError("A token needs a name of 1–60 characters.", code="invalid_name", status=422)
    if ApiToken.objects.filter(user=user, name=name, revoked_at__isnull=True).exists():
        raise AtelierError(f"You already have a token named {name!r}.", code="duplicate_name", status=422)
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(user=user, name=name, prefix=raw[:10], digest=token_digest(raw))
    return CreatedToken(token=token, raw=raw)


def token_revoke(*, user, token_id: int) -> None:
    changed = ApiToken.objects.filter(pk=token_id, user=user, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    if not changed:
        raise AtelierError("No such token.", code="not_found", status=404)


def token_authenticate(raw: str):
    """The user a raw bearer token belongs to, or None (unknown or revoked)."""
    if not raw or not raw.startswith(TOKEN_PREFIX):
        return None
    token = (
        ApiToken.objects.select_related("user")
        .filter(digest=token_digest(raw), revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if token is None:
        return None
    now = timezone.now()
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user
