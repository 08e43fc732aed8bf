import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail

from atelier_site.accounts.models import WaitlistEntry
from atelier_site.accounts.services import waitlist_approve
from generation.credits import credits_balance

pytestmark = pytest.mark.django_db
User = get_user_model()

GOOD = {"username": "ada", "email": "ada@example.com", "password1": "analytical engine 1843",
        "password2": "analytical engine 1843"}


def test_open_signup_creates_user_with_first_grant_and_logs_in(client, settings):
    settings.SIGNUP_MODE = "open"
    response = client.post("/accounts/signup/", GOOD)
    assert response.status_code == 302
    user = User.objects.get(username="ada")
    assert credits_balance(user=user) == 50
    page = client.get("/accounts/profile/")
    assert page.status_code == 200
    assert b"ada" in page.content


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"username": "taken"}, "username", "taken"),
        ({"email": "not-an-email"}, "email", "valid email"),
        ({"password1": "123", "password2": "123"}, "password1", "too short"),
        ({"password1": "password123", "password2": "password123"}, "password1", "too common"),
        ({"password2": "something else entirely"}, "password2", "differ"),
    ],
)
def test_signup_bad_input_shows_form_errors_and_creates_nothing(client, make_user, change, field, message):
    make_user("taken")
    before = User.objects.count()
    response = client.post("/accounts/signup/", {**GOOD, **change})
    assert response.status_code == 400
    assert message in response.content.decode().lower()
    assert f'id="id_{field}-error"'.encode() in response.content
    assert User.objects.count() == before


def test_waitlist_mode_collects_emails_and_invites_in_batches(client, settings):
    settings.SIGNUP_MODE = "waitlist"
    page = client.get("/accounts/signup/")
    assert b"waitlist" in page.content.lower()
    assert client.post("/accounts/signup/", GOOD).status_code == 403
    assert not WaitlistEntry.objects.exists()
    assert not User.objects.filter(username="ada").exists()

    client.post("/accounts/waitlist/", {"email": "Ada@Example.com"})
    client.post("/accounts/waitlist/", {"email": "grace@example.com"})
    assert WaitlistEntry.objects.count() == 2

    assert waitlist_approve(entries=WaitlistEntry.objects.all()) == 2
    assert len(mail.outbox) == 2
    link = re.search(r"/accounts/signup/\?invite=(\S+)", mail.outbox[0].body)
    invite = link.group(1)
    response = client.post(f"/accounts/signup/?invite={invite}", {**GOOD, "invite": invite})
    assert response.status_code == 302
    assert User.objects.filter(username="ada").exists()
    # An invitation works once.
    client.logout()
    again = client.post(f"/accounts/signup/?invite={invite}", {**GOOD, "username": "ada2", "email": "x@example.com",
                                                                 "invite": invite})
    assert not User.objects.filter(username="ada2").exists()
    assert b"not valid" in again.content


def test_closed_mode_refuses_signup(client, settings):
    settings.SIGNUP_MODE = "closed"
    response = client.post("/accounts/signup/", GOOD)
    assert response.status_code == 403
    assert not User.objects.filter(username="ada").exists()


def test_password_reset_sends_a_working_link(client, make_user):
    user = make_user("grace")
    client.post("/accounts/password/reset/", {"email": "grace@example.com"})
    assert len(mail.outbox) == 1
    path = re.search(r"https?://[^/]+(/accounts/reset/\S+)", mail.outbox[0].body).group(1)
    form = client.get(path, follow=True)
    assert form.status_code == 200
    set_url = form.redirect_chain[-1][0]
    client.post(set_url, {"new_password1": "a brand new secret 42", "new_password2": "a brand new secret 42"})
    user.refresh_from_db()
    assert user.check_password("a brand new secret 42")


def test_login_logout(client, make_user):
    make_user("linus")
    assert client.post("/accounts/login/", {"username": "linus", "password": "wrong"}).status_code == 200
    assert "_auth_user_id" not in client.session
    assert client.post("/accounts/login/", {"username": "linus", "password": "correct horse battery"}).status_code == 302
    assert "_auth_user_id" in client.session
    client.post("/accounts/logout/")
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize("path", ["/accounts/profile/", "/accounts/password/change/"])
def test_login_required(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
