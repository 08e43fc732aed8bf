"""Signals generation sends; higher layers (the gallery) listen without generation knowing them."""

from django.dispatch import Signal

# Sent after commit when a job's images exist: kwargs image_ids (list[int]), job_id.
images_created = Signal()
# Sent after an image's files and row were deleted: kwargs image_id.
image_deleted = Signal()
