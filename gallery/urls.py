from django.urls import path

from gallery import views

urlpatterns = [
    path("gallery", views.gallery_browse, name="gallery"),
    path("i/<int:image_id>", views.image_page, name="gallery_image"),
    path("i/<int:image_id>/remix", views.image_remix, name="gallery_remix"),
    path("i/<int:image_id>/download", views.image_download, name="gallery_download"),
    path("i/<int:image_id>/like", views.image_like, name="gallery_like"),
    path("i/<int:image_id>/settings", views.image_settings, name="gallery_image_settings"),
    path("i/<int:image_id>/delete", views.image_delete, name="gallery_image_delete"),
    path("i/<int:image_id>/report", views.image_report, name="gallery_report"),
    path("i/<int:image_id>/collect", views.image_collect, name="gallery_collect"),
    path("c/<int:collection_id>", views.collection_page, name="collection"),
    path("c/<int:collection_id>/download", views.collection_download, name="collection_download"),
    path("c/<int:collection_id>/edit", views.collection_edit, name="collection_edit"),
    path("c/<int:collection_id>/delete", views.collection_delete, name="collection_delete"),
    path("c/<int:collection_id>/remove/<int:image_id>", views.collection_remove, name="collection_remove"),
    path("me/collections", views.collections_mine, name="collections_mine"),
    path("u/<str:username>", views.profile_page, name="profile_public"),
    path("import", views.import_page, name="gallery_import"),
]
