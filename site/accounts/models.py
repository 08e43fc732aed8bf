import hashlib

from django.conf import settings
from django.db import models


def token_digest(raw: str) -> str:
    """API tokens are random 256-bit strings, so one SHA-256 round is enough to store them."""
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiToken(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=60)
    prefix = models.CharField(max_length=12, help_text="The first characters, to recognise a token.")
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["user", "name"], condition=models.Q(revoked_at__isnull=True),
                                    name="token_unique_active_name"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class WaitlistEntry(models.Model):
    """An e-mail address waiting for an invitation (SIGNUP_MODE=waitlist)."""

    email = models.EmailField(unique=True)
    note = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    invite_digest = models.CharField(max_length=64, blank=True, db_index=True)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]
        verbose_name_plural = "waitlist"

    def __str__(self) -> str:
        return self.email
