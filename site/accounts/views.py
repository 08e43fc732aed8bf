from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from atelier_site.accounts.forms import SignupForm, TokenForm, WaitlistForm
from atelier_site.accounts.models import ApiToken
from atelier_site.accounts.services import (
    invite_valid,
    signup_allowed,
    token_create,
    token_revoke,
    user_create,
    waitlist_join,
)
from generation.credits import credits_summary
from prompts.errors import AtelierError


def signup(request):
    invite = request.GET.get("invite") or request.POST.get("invite")
    if request.user.is_authenticated:
        return redirect("/create")
    if not signup_allowed(invite=invite):
        if settings.SIGNUP_MODE == "waitlist":
            # Sign-up data never lands on the waitlist: show the list's own, empty form.
            return render(request, "accounts/waitlist.html",
                          {"form": WaitlistForm(), "invite_rejected": bool(invite)},
                          status=403 if request.method == "POST" else 200)
        return render(request, "accounts/signup_closed.html", status=403)
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = user_create(
            username=form.cleaned_data["username"],
            email=form.cleaned_data["email"],
            password=form.cleaned_data["password1"],
            invite=invite,
        )
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, f"Welcome to Atelier, {user.username}! You have {settings.CREDITS_FIRST_GRANT} free credits this month.")
        return redirect("/create")
    entry = invite_valid(invite)
    if entry and not form.is_bound:
        form.initial["email"] = entry.email
    return render(request, "accounts/signup.html", {"form": form, "invite": invite},
                  status=400 if form.is_bound else 200)


def waitlist(request):
    form = WaitlistForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        waitlist_join(email=form.cleaned_data["email"], note=form.cleaned_data["note"])
        return render(request, "accounts/waitlist_done.html", {"email": form.cleaned_data["email"]})
    return render(request, "accounts/waitlist.html", {"form": form},
                  status=400 if form.is_bound else 200)


@login_required
def profile(request):
    summary = credits_summary(user=request.user)
    tokens = ApiToken.objects.filter(user=request.user, revoked_at__isnull=True)
    new_token = request.session.pop("new_token", None)
    return render(request, "accounts/profile.html", {
        "summary": summary, "tokens": tokens, "token_form": TokenForm(), "new_token": new_token,
    })


@login_required
@require_POST
def token_new(request):
    form = TokenForm(request.POST)
    if form.is_valid():
        try:
            created = token_create(user=request.user, name=form.cleaned_data["name"])
        except AtelierError as exc:
            messages.error(request, exc.message)
        else:
            # Shown once on the next page, then gone: only its digest is stored.
            request.session["new_token"] = {"name": created.token.name, "raw": created.raw}
    else:
        messages.error(request, "A token needs a name of 1–60 characters.")
    return redirect("profile")


@login_required
@require_POST
def token_delete(request, token_id: int):
    try:
        token_revoke(user=request.user, token_id=token_id)
    except AtelierError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Token revoked. Programs using it can no longer sign in.")
    return redirect("profile")
