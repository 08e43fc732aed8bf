from django.contrib import admin, messages

from generation.credits import credits_grant_admin
from generation.models import CreditEntry, CreditGrant, Image, Job, PolicyViolation, Suspension
from generation.policy import suspension_lift


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


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ["id", "owner", "mode", "state", "progress_step", "progress_total", "attempts", "worker", "created_at"]
    list_filter = ["state", "mode", "model"]
    search_fields = ["prompt", "owner__username"]
    raw_id_fields = ["owner", "source_image", "remix_of"]
    readonly_fields = ["created_at", "started_at", "heartbeat_at", "finished_at"]


@admin.register(Image)
class ImageAdmin(admin.ModelAdmin):
    list_display = ["id", "owner", "mode", "visibility", "hidden", "like_count", "remix_count", "created_at"]
    list_filter = ["visibility", "hidden", "mode", "is_benchmark"]
    search_fields = ["prompt", "owner__username"]
    raw_id_fields = ["owner", "job", "parent", "remix_of"]


@admin.register(PolicyViolation)
class PolicyViolationAdmin(admin.ModelAdmin):
    list_display = ["user", "category", "field", "created_at"]
    list_filter = ["category"]
    search_fields = ["user__username"]
    raw_id_fields = ["user"]


@admin.register(Suspension)
class SuspensionAdmin(admin.ModelAdmin):
    list_display = ["user", "reason", "created_at", "lifted_at", "lifted_by"]
    list_filter = [("lifted_at", admin.EmptyFieldListFilter)]
    raw_id_fields = ["user", "lifted_by"]
    actions = ["lift"]

    @admin.action(description="Lift the selected suspensions")
    def lift(self, request, queryset):
        count = 0
        for suspension in queryset.filter(lifted_at__isnull=True):
            suspension_lift(suspension=suspension, by=request.user)
            count += 1
        self.message_user(request, f"Lifted {count} suspensions.", messages.SUCCESS)
