"""Moderation in the admin: the report queue (hide the image or dismiss the report) and
hide/restore on the image list, which generation registers and the gallery extends."""

from django.contrib import admin, messages
from django.utils.html import format_html

from gallery import services
from gallery.models import Collection, CollectionItem, Like, Report
from generation.admin import ImageAdmin as GenerationImageAdmin
from generation.models import Image
from generation.templatetags.media import storage_url


def _thumb(image: Image):
    if not image.thumb_small:
        return "—"
    return format_html('<img src="{}" width="64" height="64" alt="" style="object-fit:cover;border-radius:6px;'
                       'background:{}">', storage_url(image.thumb_small), image.color or "#ddd")


@admin.register(Report)
class ReportAdmin(admin.ModelAdmin):
    list_display = ["id", "preview", "image_link", "reason", "note", "reporter", "status", "image_hidden", "created_at"]
    list_filter = ["status", "reason"]
    list_select_related = ["image", "reporter"]
    search_fields = ["image__prompt", "reporter__username", "note"]
    raw_id_fields = ["image", "reporter"]
    readonly_fields = ["created_at", "resolved_at"]
    actions = ["hide_images", "dismiss", "restore_images"]
    ordering = ["status", "-created_at"]

    @admin.display(description="Image")
    def preview(self, report):
        return _thumb(report.image)

    @admin.display(description="Page")
    def image_link(self, report):
        return format_html('<a href="/i/{}" target="_blank" rel="noopener">#{}</a>', report.image_id, report.image_id)

    @admin.display(description="Hidden", boolean=True)
    def image_hidden(self, report):
        return report.image.hidden

    @admin.action(description="Hide the images (resolves their open reports)")
    def hide_images(self, request, queryset):
        reasons: dict[int, str] = {}
        for report in queryset.order_by("created_at"):
            reasons.setdefault(report.image_id, report.get_reason_display())
        for image_id, reason in reasons.items():
            services.image_hide(image_id=image_id, reason=f"Hidden after a report: {reason}.", by=request.user)
        self.message_user(request, f"Hid {len(reasons)} images.", messages.SUCCESS)

    @admin.action(description="Dismiss the reports (the images stay)")
    def dismiss(self, request, queryset):
        count = services.reports_dismiss(report_ids=list(queryset.values_list("pk", flat=True)), by=request.user)
        self.message_user(request, f"Dismissed {count} reports.", messages.SUCCESS)

    @admin.action(description="Restore the images (show them again)")
    def restore_images(self, request, queryset):
        image_ids = set(queryset.values_list("image_id", flat=True))
        for image_id in image_ids:
            services.image_restore(image_id=image_id)
        self.message_user(request, f"Restored {len(image_ids)} images.", messages.SUCCESS)


admin.site.unregister(Image)


@admin.register(Image)
class ImageAdmin(GenerationImageAdmin):
    list_display = ["id", "preview", *GenerationImageAdmin.list_display[1:], "hidden_reason"]
    actions = ["hide", "restore"]

    @admin.display(description="Image")
    def preview(self, image):
        return _thumb(image)

    @admin.action(description="Hide the selected images (moderation)")
    def hide(self, request, queryset):
        for image_id in queryset.values_list("pk", flat=True):
            services.image_hide(image_id=image_id, reason="Hidden by a moderator.", by=request.user)
        self.message_user(request, "Hidden.", messages.SUCCESS)

    @admin.action(description="Restore the selected hidden images")
    def restore(self, request, queryset):
        for image_id in queryset.filter(hidden=True).values_list("pk", flat=True):
            services.image_restore(image_id=image_id)
        self.message_user(request, "Restored.", messages.SUCCESS)


class CollectionItemInline(admin.TabularInline):
    model = CollectionItem
    raw_id_fields = ["image"]
    extra = 0


@admin.register(Collection)
class CollectionAdmin(admin.ModelAdmin):
    list_display = ["id", "title", "owner", "visibility", "updated_at"]
    list_filter = ["visibility"]
    search_fields = ["title", "owner__username"]
    raw_id_fields = ["owner"]
    inlines = [CollectionItemInline]


@admin.register(Like)
class LikeAdmin(admin.ModelAdmin):
    list_display = ["user", "image", "created_at"]
    raw_id_fields = ["user", "image"]
