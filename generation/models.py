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


class Job(models.Model):
    """One generation request, kept in the database from creation to its end state."""

    class Mode(models.TextChoices):
        TEXT2IMG = "text2img", "Text to image"
        VARIATION = "variation", "Variation"
        EDIT = "edit", "Edit"
        OUTPAINT = "outpaint", "Outpaint"

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELED = "canceled", "Canceled"

    ACTIVE_STATES = (State.QUEUED, State.RUNNING)
    FINAL_STATES = (State.SUCCEEDED, State.FAILED, State.CANCELED)

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="jobs")
    mode = models.CharField(max_length=16, choices=Mode.choices, default=Mode.TEXT2IMG)
    state = models.CharField(max_length=16, choices=State.choices, default=State.QUEUED, db_index=True)
    recipe = models.JSONField(default=dict, help_text="Everything needed to reproduce this job.")
    prompt = models.TextField(blank=True)
    negative_prompt = models.TextField(blank=True)
    model = models.CharField(max_length=200)
    seed = models.BigIntegerField()
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    steps = models.PositiveIntegerField()
    guidance = models.FloatField()
    num_images = models.PositiveSmallIntegerField()
    strength = models.FloatField(null=True, blank=True)
    source_image = models.ForeignKey("generation.Image", null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="derived_jobs")
    source_file = models.CharField(max_length=255, blank=True, help_text="Prepared source image (storage name).")
    mask_file = models.CharField(max_length=255, blank=True, help_text="Mask, white = repaint (storage name).")
    remix_of = models.ForeignKey("generation.Image", null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="remix_jobs")
    progress_step = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    attempts = models.PositiveSmallIntegerField(default=0)
    worker = models.CharField(max_length=200, blank=True)
    cancel_requested = models.BooleanField(default=False)
    error_code = models.CharField(max_length=64, blank=True)
    error_message = models.TextField(blank=True)
    credits_spent = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["owner", "state"], name="job_owner_state"),
            models.Index(fields=["state", "heartbeat_at"], name="job_state_heartbeat"),
        ]

    def __str__(self) -> str:
        return f"Job {self.pk} ({self.mode}, {self.state})"

    @property
    def is_final(self) -> bool:
        return self.state in self.FINAL_STATES


class Image(models.Model):
    """One output image with its recipe; the gallery shows it, lineage links it."""

    class Visibility(models.TextChoices):
        PUBLIC = "public", "Public"
        UNLISTED = "unlisted", "Unlisted (link only)"
        PRIVATE = "private", "Private"

    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="images")
    index = models.PositiveSmallIntegerField(default=0)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="images")
    file = models.CharField(max_length=255, help_text="Original PNG with metadata (storage name).")
    thumb_small = models.CharField(max_length=255, blank=True)
    thumb_large = models.CharField(max_length=255, blank=True)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    blurhash = models.CharField(max_length=64, blank=True)
    color = models.CharField(max_length=7, blank=True)
    prompt = models.TextField(blank=True)
    negative_prompt = models.TextField(blank=True)
    recipe = models.JSONField(default=dict)
    mode = models.CharField(max_length=16, choices=Job.Mode.choices, default=Job.Mode.TEXT2IMG)
    model = models.CharField(max_length=200, blank=True)
    seed = models.BigIntegerField(null=True, blank=True)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children",
                               help_text="The source of a variation, edit or outpaint.")
    remix_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="remixes",
                                 help_text="The image whose recipe this was remixed from.")
    visibility = models.CharField(max_length=10, choices=Visibility.choices, default=Visibility.PUBLIC)
    hidden = models.BooleanField(default=False, help_text="Hidden by a moderator.")
    hidden_reason = models.CharField(max_length=300, blank=True)
    withheld = models.JSONField(default=list, blank=True, help_text="Recipe fields the owner withholds: seed, negative_prompt.")
    source_tool = models.CharField(max_length=32, blank=True, help_text="For imported images: the tool that made it.")
    like_count = models.PositiveIntegerField(default=0)
    remix_count = models.PositiveIntegerField(default=0)
    is_benchmark = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["job", "index"], name="image_unique_job_index"),
        ]
        indexes = [
            models.Index(fields=["visibility", "hidden", "-created_at", "-id"], name="image_listing"),
        ]

    def __str__(self) -> str:
        return f"Image {self.pk}: {self.prompt[:50]}"

    def visible_to(self, user) -> bool:
        """Reachable by this user at all (by link): owners always; others unless private or hidden."""
        if user is not None and user.is_authenticated and user.pk == self.owner_id:
            return True
        return not self.hidden and self.visibility != self.Visibility.PRIVATE


class PolicyViolation(models.Model):
    """A refused prompt: recorded so repeats can suspend an account (never the matched term)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="policy_violations")
    category = models.CharField(max_length=32)
    field = models.CharField(max_length=32, default="prompt")
    excerpt = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.user} · {self.category} · {self.created_at:%Y-%m-%d}"


class Suspension(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="suspensions")
    reason = models.CharField(max_length=300)
    created_at = models.DateTimeField(auto_now_add=True)
    lifted_at = models.DateTimeField(null=True, blank=True)
    lifted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+")

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.user}: {self.reason}"
