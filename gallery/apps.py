import logging

from django.apps import AppConfig

logger = logging.getLogger(__name__)


def _on_images_created(sender, image_ids=(), **kwargs):
    """Sent after commit in the worker that wrote the images: index them right away, so
    they are searchable when the job shows as done. A failure must not fail the job;
    the Celery task retries it."""
    from gallery import indexing, tasks

    try:
        indexing.images_index(image_ids=list(image_ids))
    except Exception:
        logger.exception("indexing images %s failed; queued for retry", list(image_ids))
        tasks.images_index.delay(list(image_ids))


def _on_image_deleted(sender, image_id=None, **kwargs):
    from gallery import indexing

    if image_id is not None:
        indexing.image_unindex(image_id=image_id)


class GalleryConfig(AppConfig):
    name = "gallery"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.core import checks

        from gallery.search.schema import search_schema_check
        from generation.signals import image_deleted, images_created

        images_created.connect(_on_images_created, dispatch_uid="gallery.index_created_images")
        image_deleted.connect(_on_image_deleted, dispatch_uid="gallery.unindex_deleted_image")
        checks.register(search_schema_check, checks.Tags.database)
