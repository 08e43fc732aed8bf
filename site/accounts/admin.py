from django.contrib import admin, messages

from atelier_site.accounts.models import ApiToken, WaitlistEntry
from atelier_site.accounts.services import waitlist_approve


@admin.register(WaitlistEntry)
class WaitlistAdmin(admin.ModelAdmin):
    list_display = ["email", "created_at", "approved_at", "used_at"]
    list_filter = [("approved_at", admin.EmptyFieldListFilter)]
    search_fields = ["email"]
    actions = ["approve"]

    @admin.action(description="Approve selected and send invitations")
    def approve(self, request, queryset):
        count = waitlist_approve(entries=queryset.filter(approved_at__isnull=True))
        self.message_user(request, f"Invited {count} people.", messages.SUCCESS)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "prefix", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = ["digest", "prefix"]
    search_fields = ["user__username", "name"]
