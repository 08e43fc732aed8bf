"""The prompt book, and the comparison grid it teaches with. Included at the site root.

`/book/<chapter>` has one path segment and `/book/<category>/<modifier>` two, so a
chapter and a category may share a slug (mood, lighting, colour do); only the book's own
one-segment pages (`search`) are reserved, and the chapter loader refuses those names.
"""

from django.urls import path

from atelier_site.book import views
from generation import grid_views

urlpatterns = [
    path("book", views.book_index, name="book_index"),
    path("book/search", views.book_search_page, name="book_search"),
    path("book/<slug:chapter>", views.chapter_page, name="book_chapter"),
    path("book/<slug:category>/<slug:slug>", views.modifier_page, name="book_modifier"),
    path("create/grid", grid_views.grid_page, name="grid_create"),
    path("create/grid/<str:grid_id>", grid_views.grid_result, name="grid_result"),
    path("create/grid/<str:grid_id>/status", grid_views.grid_status, name="grid_status"),
]
