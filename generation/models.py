from django.conf import settings
from django.db import models


class CreditGrant(models.Model):
    """Credits given to a user; `remaining` falls as spends draw on it, soonest expiry first."""

    class Kind(models.TextChoices):
        MONTHLY = "monthly", "Monthly free grant"
        ADMIN = "admin", "Admin grant"
        REFUND = "refund", "Refund"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="credit_grants")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    amount = models.PositiveIntegerField()
    remaining = models.PositiveIntegerField()
    # For monthly grants: the month index since sign-up (0 = the first month).
    period = models.PositiveIntegerField(null=True, blank=True)
    granted_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["expires_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "period"],
                condition=models.Q(kind="monthly"),
                name="credit_one_monthly_grant_per_period",
            ),
            models.CheckConstraint(condition=models.Q(remaining__lte=models.F("amount")), name="credit_remaining_lte_amount"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.remaining}/{self.amount} for {self.user}"


class CreditEntry(models.Model):
    """The ledger: one row per grant, spend, refund. Amounts are signed."""

    class Kind(models.TextChoices):
        GRANT = "grant", "Grant"
        SPEND = "spend", "Spend"
        REFUND = "refund", "Refund"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="credit_entries")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    amount = models.IntegerField()
    grant = models.ForeignKey(CreditGrant, null=True, blank=True, on_delete=models.SET_NULL, related_name="entries")
    reference = models.CharField(max_length=64, blank=True, db_index=True, help_text="e.g. job:123")
    note = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "credit entries"

    def __str__(self) -> str:
        return f"{self.kind} {self.amount:+d} for {self.user_id}"
