from django.contrib.auth import views as auth_views
from django.urls import path

from atelier_site.accounts import views

urlpatterns = [
    path("signup/", views.signup, name="signup"),
    path("waitlist/", views.waitlist, name="waitlist"),
    path("login/", auth_views.LoginView.as_view(template_name="accounts/login.html", redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password/change/", auth_views.PasswordChangeView.as_view(template_name="accounts/form_page.html",
         extra_context={"title": "Change password"}), name="password_change"),
    path("password/change/done/", auth_views.PasswordChangeDoneView.as_view(template_name="accounts/message_page.html",
         extra_context={"title": "Password changed", "text": "Your password was changed."}), name="password_change_done"),
    path("password/reset/", auth_views.PasswordResetView.as_view(
        template_name="accounts/form_page.html", email_template_name="accounts/password_reset_email.txt",
        subject_template_name="accounts/password_reset_subject.txt",
        extra_context={"title": "Reset your password", "intro": "Enter your account's e-mail address and we'll send you a link."}),
        name="password_reset"),
    path("password/reset/sent/", auth_views.PasswordResetDoneView.as_view(template_name="accounts/message_page.html",
         extra_context={"title": "Check your e-mail", "text": "If an account uses that address, a reset link is on its way."}),
         name="password_reset_done"),
    path("reset/<uidb64>/<token>/", auth_views.PasswordResetConfirmView.as_view(template_name="accounts/form_page.html",
         extra_context={"title": "Choose a new password"}), name="password_reset_confirm"),
    path("reset/done/", auth_views.PasswordResetCompleteView.as_view(template_name="accounts/message_page.html",
         extra_context={"title": "Password reset", "text": "Your password was set. You can log in now."}),
         name="password_reset_complete"),
    path("profile/", views.profile, name="profile"),
    path("tokens/", views.token_new, name="token_new"),
    path("tokens/<int:token_id>/revoke/", views.token_delete, name="token_revoke"),
]
