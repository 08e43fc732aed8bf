from django.conf import settings
from django.db import DatabaseError

from generation.credits import credits_balance


def account(request):
    """The credits badge and sign-up mode, on every page."""
    context = {"signup_mode": settings.SIGNUP_MODE}
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        try:
            context["credit_balance"] = credits_balance(user=user)
        except DatabaseError:
            context["credit_balance"] = "?"  # keep error pages renderable when the database is down
    return context
