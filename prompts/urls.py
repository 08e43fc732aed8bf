from django.urls import path

from prompts import views

urlpatterns = [
    path("create", views.builder, name="builder"),
]
