"""Celery tasks: thin, idempotent, by id. The logic is in generation.services."""

from celery import shared_task
from celery.signals import worker_ready

from generation import services
from generation.credits import credits_grant_due


@shared_task(name="generation.job_run", acks_late=True, ignore_result=True)
def job_run(job_id: int) -> str:
    return services.job_execute(job_id=job_id)


@shared_task(name="generation.jobs_sweep", ignore_result=True)
def jobs_sweep() -> dict:
    result = services.jobs_sweep()
    return {"requeued": result.requeued, "resent": result.resent, "failed": result.failed}


@shared_task(name="generation.credits_grant_all", ignore_result=True)
def credits_grant_all() -> int:
    """Services mode: issue due monthly grants ahead of the users' next visit."""
    from django.contrib.auth import get_user_model

    issued = 0
    for user in get_user_model().objects.filter(is_active=True).iterator():
        issued += credits_grant_due(user=user) is not None
    return issued


@worker_ready.connect
def _sweep_at_start(sender=None, **kwargs):
    # A worker that starts after a crash picks up what the crash left behind.
    jobs_sweep.delay()
