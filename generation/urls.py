from django.urls import path

from generation import views

urlpatterns = [
    path("create/generate", views.create_generate, name="create_generate"),
    path("jobs/<int:job_id>", views.job_detail, name="job_detail"),
    path("jobs/<int:job_id>/cancel", views.job_cancel, name="job_cancel"),
    path("i/<int:image_id>/variations", views.variation_create, name="variation_create"),
    path("i/<int:image_id>/edit", views.edit_page, name="edit_page"),
    path("i/<int:image_id>/outpaint", views.outpaint_page, name="outpaint_page"),
    path("me/images", views.my_images, name="my_images"),
]
