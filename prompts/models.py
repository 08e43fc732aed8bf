from django.conf import settings
from django.db import models


class Category(models.Model):
    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=80)
    description = models.TextField(blank=True)
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["order", "slug"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.name


class Modifier(models.Model):
    """A named prompt fragment; the catalog files are its source, the admin can edit it."""

    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="modifiers")
    slug = models.SlugField(max_length=80, unique=True)
    name = models.CharField(max_length=120)
    fragment = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    aliases = models.JSONField(default=list, blank=True)
    tips = models.JSONField(default=list, blank=True)
    conflicts = models.JSONField(default=list, blank=True, help_text="Slugs of modifiers this clashes with.")
    embedded = models.BooleanField(default=False, help_text="The embedded model renders this modifier.")
    living = models.BooleanField(default=False, help_text="Artist: a living person.")
    tested = models.BooleanField(default=True, help_text="False for folklore boosters with no shown effect.")
    extra = models.JSONField(default=dict, blank=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["category__order", "position", "slug"]

    def __str__(self) -> str:
        return f"{self.name} ({self.category.slug})"


class CatalogState(models.Model):
    """One row: the digest of the catalog files last loaded, so repeated loads are no-ops."""

    digest = models.CharField(max_length=64)
    loaded_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.digest[:12]


class Preset(models.Model):
    """A named partial recipe a user saves and re-applies in the builder."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="presets")
    name = models.CharField(max_length=80)
    state = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["owner", "name"], name="preset_unique_name")]

    def __str__(self) -> str:
        return self.name


class PromptHistory(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="prompt_history")
    prompt = models.TextField()
    negative_prompt = models.TextField(blank=True)
    dialect = models.CharField(max_length=16, default="plain")
    state = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "prompt history"

    def __str__(self) -> str:
        return self.prompt[:60]


class PolicyRule(models.Model):
    """A content-policy term; the YAML files seed these, the admin edits them."""

    class Match(models.TextChoices):
        WORD = "word", "Whole words"
        PREFIX = "prefix", "Word prefix (stems)"
        ALLOW = "allow", "Allowed phrase (silences hits inside it)"

    category = models.CharField(max_length=32, db_index=True)
    term = models.CharField(max_length=200)
    match = models.CharField(max_length=10, choices=Match.choices, default=Match.WORD)
    rule_id = models.CharField(max_length=120, help_text="Stable id; aliases of one entry share it.")
    enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ["category", "term"]
        constraints = [models.UniqueConstraint(fields=["category", "term"], name="policy_rule_unique_term")]

    def __str__(self) -> str:
        return f"{self.category}: {self.term}"
