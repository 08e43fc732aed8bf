"""Jobs through real Celery worker processes, on the filesystem broker and on Redis."""

import threading
import time
from datetime import timedelta

import pytest
from celery import Celery
from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from generation import services
from generation.credits import credits_balance
from generation.models import CreditGrant, Image, Job
from prompts.errors import AtelierError
from tests.support import clean_dir, need_postgres, need_redis, running_worker, subprocess_env

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture(params=["filesystem", "redis"])
def broker(request, tmp_path, media_root, need_weights, monkeypatch):
    """A client app for the chosen broker, and the environment for workers that consume it."""
    extra = {"MEDIA_ROOT": str(media_root), "JOB_STALE_SECONDS": "2", "GENERATION_MODEL": settings.GENERATION_MODEL}
    if request.param == "redis":
        url = need_redis()
        client = Celery(broker=url)
        env = subprocess_env(redis_url=url, extra=extra)
    else:
        folder = tmp_path / "broker"
        for sub in ("queue", "processed", "results", "control"):
            clean_dir(folder / sub)
        client = Celery(broker="filesystem://")
        client.conf.broker_transport_options = {
            "data_folder_in": str(folder / "queue"), "data_folder_out": str(folder / "queue"),
            "processed_folder": str(folder / "processed"), "control_folder": str(folder / "control")}
        env = subprocess_env(redis_url=None, extra={**extra, "ATELIER_BROKER_DIR": str(folder)})
    monkeypatch.setattr(services, "job_enqueue", lambda job_id: client.send_task("generation.job_run", args=[job_id]))
    return type("Broker", (), {"kind": request.param, "client": client, "env": env})


def create(user, **kw):
    kw.setdefault("prompt", "a yellow star above a blue boat at sea")
    kw.setdefault("steps", 12)
    job = services.job_create(user=user, spec=services.JobSpec(**kw))
    return job


def wait_for(job, states, timeout=120, seen=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if seen is not None:
            seen.append(job.progress_step)
        if job.state in states:
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job.pk} still {job.state} (step {job.progress_step}, attempts {job.attempts}, "
                         f"worker {job.worker}) after {timeout}s")


def test_job_succeeds_with_rising_progress(broker, owner, tmp_path):
    with running_worker(env=broker.env, name=f"w-{broker.kind}", tmp_path=tmp_path) as worker:
        job = create(owner, steps=30, num_images=2)
        seen: list[int] = []
        wait_for(job, {"succeeded", "failed"}, seen=seen)
        assert job.state == "succeeded", worker.output()
    progress = [p for p in seen if 0 < p < 30]
    assert len(set(progress)) >= 2, f"progress never rose through intermediate steps: {sorted(set(seen))}"
    assert progress == sorted(progress)
    assert job.images.count() == 2
    assert credits_balance(user=owner) == 49
    # The recorded sampler is the one the shipped weights ran with.
    assert {image.recipe["sampler"] for image in job.images.all()} == {"DPM++ 2M"}


def test_cancel_while_running(broker, owner, tmp_path):
    with running_worker(env=broker.env, name=f"c-{broker.kind}", tmp_path=tmp_path):
        job = create(owner, steps=100, num_images=1)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            job.refresh_from_db()
            if job.state == "running" and job.progress_step > 0:
                break
            time.sleep(0.05)
        services.job_cancel(user=owner, job_id=job.pk)
        wait_for(job, {"canceled", "succeeded"})
    assert job.state == "canceled"
    assert job.progress_step < 100
    assert not job.images.exists()
    assert credits_balance(user=owner) == 50


def test_worker_killed_mid_job_is_recovered_once(broker, owner, tmp_path):
    with running_worker(env=broker.env, name=f"k1-{broker.kind}", tmp_path=tmp_path) as first:
        job = create(owner, steps=40, num_images=2)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            job.refresh_from_db()
            if job.state == "running" and job.progress_step > 1:
                break
            time.sleep(0.05)
        first.kill()  # kill -9: no chance to clean up
    job.refresh_from_db()
    assert job.state == "running"
    time.sleep(2.5)  # the heartbeat goes stale
    with running_worker(env=broker.env, name=f"k2-{broker.kind}", tmp_path=tmp_path) as second:
        try:
            wait_for(job, {"succeeded", "failed"}, timeout=180)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{second.output()}") from None
        assert job.state == "succeeded", second.output()
    assert job.attempts == 2
    assert Image.objects.filter(job=job).count() == 2
    assert credits_balance(user=owner) == 49


def test_lost_message_is_recovered_by_the_sweep(broker, owner, tmp_path, monkeypatch):
    monkeypatch.setattr(services, "job_enqueue", lambda job_id: None)  # the message never arrives
    job = create(owner, num_images=1)
    Job.objects.filter(pk=job.pk).update(enqueued_at=timezone.now() - timedelta(hours=1))
    env = {**broker.env, "JOB_QUEUED_RESEND_SECONDS": "2"}
    with running_worker(env=env, name=f"l-{broker.kind}", tmp_path=tmp_path) as worker:
        wait_for(job, {"succeeded", "failed"})
        assert job.state == "succeeded", worker.output()
    assert job.attempts == 1


def test_two_workers_share_one_redis_queue(owner, tmp_path, media_root, need_weights, monkeypatch, settings):
    url = need_redis()
    settings.JOBS_MAX_ACTIVE = 10
    client = Celery(broker=url)
    monkeypatch.setattr(services, "job_enqueue", lambda job_id: client.send_task("generation.job_run", args=[job_id]))
    env = subprocess_env(redis_url=url, extra={"MEDIA_ROOT": str(media_root), "GENERATION_MODEL": settings.GENERATION_MODEL})
    with running_worker(env=env, name="a", tmp_path=tmp_path), running_worker(env=env, name="b", tmp_path=tmp_path):
        jobs = [create(owner, steps=10, num_images=2) for _ in range(6)]
        for job in jobs:
            wait_for(job, {"succeeded", "failed"}, timeout=240)
    assert {job.state for job in jobs} == {"succeeded"}
    assert all(job.attempts == 1 for job in jobs)  # none ran twice
    assert len({job.worker for job in jobs}) == 2  # both took work
    assert Image.objects.filter(job__in=jobs).count() == 12


def test_parallel_creations_against_ten_credits(owner, settings, monkeypatch):
    need_postgres()
    settings.JOBS_MAX_ACTIVE = 50
    monkeypatch.setattr(services, "job_enqueue", lambda job_id: None)
    credits_balance(user=owner)
    CreditGrant.objects.filter(user=owner).update(remaining=10)
    outcomes: list[str] = []
    barrier = threading.Barrier(20)

    def attempt():
        try:
            barrier.wait()
            create(owner)
            outcomes.append("accepted")
        except AtelierError as exc:
            outcomes.append(exc.code)
        finally:
            close_old_connections()

    threads = [threading.Thread(target=attempt) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("accepted") == 10
    assert outcomes.count("insufficient_credits") == 10
    assert Job.objects.filter(owner=owner).count() == 10
    assert credits_balance(user=owner) == 0


