from django.contrib import admin

from generation.credits import credits_grant_admin
from generation.models import CreditEntry, CreditGrant


@admin.register(CreditGrant)
class CreditGrantAdmin(admin.ModelAdmin):
    list_display = ["user", "kind", "amount", "remaining", "granted_at", "expires_at"]
    list_filter = ["kind"]
    search_fields = ["user__username"]
    raw_id_fields = ["user"]

    def get_fields(self, request, obj=None):
        # Adding = an admin grant: who, how many, why. The service fills in the rest.
        if obj is None:
            return ["user", "amount", "note"]
        return super().get_fields(request, obj)

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        grant = credits_grant_admin(user=obj.user, amount=obj.amount,
                                    note=obj.note or f"Granted by {request.user}")
        obj.pk, obj.kind, obj.remaining = grant.pk, grant.kind, grant.remaining
        obj.granted_at, obj.expires_at = grant.granted_at, grant.expires_at


@admin.register(CreditEntry)
class CreditEntryAdmin(admin.ModelAdmin):
    list_display = ["user", "kind", "amount", "reference", "created_at"]
    list_filter = ["kind"]
    search_fields = ["user__username", "reference"]
    raw_id_fields = ["user", "grant"]
