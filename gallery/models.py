"""The gallery's own rows. Images themselves are generation.Image; the gallery adds the
social layer (likes, collections, reports) and the search index."""

from django.conf import settings
from django.db import models

from generation.models import Image


class Like(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="likes")
    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="likes")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "image"], name="like_once")]
        indexes = [models.Index(fields=["image", "created_at"], name="like_image_time")]

    def __str__(self) -> str:
        return f"{self.user_id} likes {self.image_id}"


class Collection(models.Model):
    class Visibility(models.TextChoices):
        PUBLIC = "public", "Public"
        UNLISTED = "unlisted", "Unlisted (link only)"
        PRIVATE = "private", "Private"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="collections")
    title = models.CharField(max_length=120)
    description = models.TextField(blank=True, max_length=2000)
    visibility = models.CharField(max_length=10, choices=Visibility.choices, default=Visibility.PUBLIC)
    images = models.ManyToManyField(Image, through="CollectionItem", related_name="collections")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at", "-id"]

    def __str__(self) -> str:
        return self.title


class CollectionItem(models.Model):
    collection = models.ForeignKey(Collection, on_delete=models.CASCADE, related_name="items")
    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="collection_items")
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-added_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["collection", "image"], name="collection_item_once")]

    def __str__(self) -> str:
        return f"{self.image_id} in {self.collection_id}"


class Report(models.Model):
    """Someone reported an image; moderators resolve it in the admin (hide or dismiss)."""

    class Reason(models.TextChoices):
        POLICY = "policy", "Breaks the content policy"
        SPAM = "spam", "Spam"
        COPYRIGHT = "copyright", "Copyright or a real person"
        OTHER = "other", "Other"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        HIDDEN = "hidden", "Image hidden"
        DISMISSED = "dismissed", "Dismissed"

    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="reports")
    reporter = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reports")
    reason = models.CharField(max_length=16, choices=Reason.choices)
    note = models.CharField(max_length=500, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.OPEN, db_index=True)
    resolution = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["image", "reporter"], name="report_once")]

    def __str__(self) -> str:
        return f"Report {self.pk} on image {self.image_id}"


class ImageSearch(models.Model):
    """The search index row of one image: the text that keyword search reads (a weighted
    tsvector on PostgreSQL, FTS5 on SQLite, kept in sync by gallery.search) and the MiniLM
    embedding that semantic search compares."""

    image = models.OneToOneField(Image, on_delete=models.CASCADE, primary_key=True, related_name="search")
    prompt_text = models.TextField(blank=True)
    modifier_text = models.TextField(blank=True)
    author_text = models.CharField(max_length=150, blank=True)
    modifier_slugs = models.JSONField(default=list, blank=True)
    embedding = models.BinaryField(null=True, blank=True, help_text="float16 MiniLM vector, L2-normalised")
    indexed_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"search row of {self.image_id}"


class ImageModifier(models.Model):
    """Which catalog modifiers an image's prompt uses (parsed once), for filters and the book."""

    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="modifier_rows")
    slug = models.SlugField(max_length=80)
    category = models.SlugField(max_length=40)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["image", "slug"], name="image_modifier_once")]
        indexes = [models.Index(fields=["slug", "image"], name="image_modifier_slug")]

    def __str__(self) -> str:
        return f"{self.image_id}: {self.slug}"
