"""Celery tasks: thin, idempotent, by id. The logic is in gallery.indexing."""

from celery import shared_task

from gallery import indexing


@shared_task(name="gallery.images_index", acks_late=True, ignore_result=True)
def images_index(image_ids: list[int]) -> int:
    """Index (or re-index) images: bulk imports, and retries when indexing at creation failed."""
    return indexing.images_index(image_ids=image_ids)


@shared_task(name="gallery.image_unindex", acks_late=True, ignore_result=True)
def image_unindex(image_id: int) -> None:
    indexing.image_unindex(image_id=image_id)
