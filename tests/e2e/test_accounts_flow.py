import pytest

pytestmark = pytest.mark.e2e


def test_signup_badge_logout_login(page, shot):
    page.goto("/")
    shot("home")
    page.get_by_role("link", name="Sign up").click()
    page.get_by_label("Username").fill("hokusai")
    page.get_by_label("Email").fill("hokusai@example.com")
    page.get_by_label("Password", exact=True).fill("great wave off kanagawa")
    page.get_by_label("Password again").fill("great wave off kanagawa")
    shot("signup")
    page.get_by_role("button", name="Create account").click()
    badge = page.get_by_test_id("credits-badge")
    assert " ".join(badge.inner_text().split()) == "50 credits"

    page.locator("summary", has_text="hokusai").click()
    page.get_by_role("button", name="Log out").click()
    assert page.get_by_test_id("credits-badge").count() == 0

    page.get_by_role("link", name="Log in").click()
    page.get_by_label("Username").fill("hokusai")
    page.get_by_label("Password").fill("great wave off kanagawa")
    page.get_by_role("button", name="Log in").click()
    assert " ".join(page.get_by_test_id("credits-badge").inner_text().split()) == "50 credits"
    page.goto("/accounts/profile/")
    shot("profile")


def test_signup_errors_are_shown_next_to_fields(page, shot):
    page.goto("/accounts/signup/")
    page.get_by_label("Username").fill("x")
    page.get_by_label("Email").fill("not-an-email")
    page.get_by_label("Password", exact=True).fill("123")
    page.get_by_label("Password again").fill("123")
    page.get_by_role("button", name="Create account").click()
    assert page.locator("#id_email-error").is_visible()
    assert page.locator("#id_password1-error").is_visible()
    shot("signup-errors")


def test_styled_404(page, shot, settings):
    response = page.goto("/no/such/page")
    assert response.status == 404
    assert page.get_by_role("heading", name="Page not found").is_visible()
    shot("404")
