from django.contrib import admin

from prompts.models import Category, Modifier, PolicyRule, Preset, PromptHistory
from prompts.selectors import catalog_invalidate, policy_invalidate


class CatalogAdminMixin:
    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        catalog_invalidate()

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        catalog_invalidate()


@admin.register(Category)
class CategoryAdmin(CatalogAdminMixin, admin.ModelAdmin):
    list_display = ["name", "slug", "order"]


@admin.register(Modifier)
class ModifierAdmin(CatalogAdminMixin, admin.ModelAdmin):
    list_display = ["name", "slug", "category", "fragment", "embedded", "living", "tested"]
    list_filter = ["category", "embedded", "living", "tested"]
    search_fields = ["name", "slug", "fragment", "aliases"]


@admin.register(Preset)
class PresetAdmin(admin.ModelAdmin):
    list_display = ["name", "owner", "created_at"]


@admin.register(PromptHistory)
class PromptHistoryAdmin(admin.ModelAdmin):
    list_display = ["prompt", "owner", "dialect", "created_at"]


@admin.register(PolicyRule)
class PolicyRuleAdmin(admin.ModelAdmin):
    list_display = ["term", "category", "match", "enabled"]
    list_filter = ["category", "match", "enabled"]
    search_fields = ["term", "rule_id"]

    def save_model(self, request, obj, form, change):
        if not obj.rule_id:
            obj.rule_id = f"{obj.category}:{obj.term.lower().replace(' ', '-')}"
        super().save_model(request, obj, form, change)
        policy_invalidate()

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        policy_invalidate()
