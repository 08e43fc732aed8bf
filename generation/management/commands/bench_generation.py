"""`python manage.py bench_generation --jobs 8`: the queue's overhead, measured.

Runs N text2img jobs through the real path (job_create → broker → a worker process →
images written and rows committed) and the same prompts as direct backend calls in this
process, then prints seconds per job, images per second and the overhead. A warm-up job
first, so the worker's one-off model load is not counted.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from itertools import pairwise

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from generation import services
from generation.backends import GenerationRequest, backend_get, backend_limits
from generation.credits import credits_grant_admin
from generation.models import Job

PROMPTS = [
    "a red circle above a blue square in a meadow",
    "three yellow stars in a night sky, watercolor painting",
    "a green tree next to a house, pixel art",
    "a purple fish in the sea, in the style of Katsushika Hokusai",
    "an orange sun over a desert, 1980s",
    "a white boat on the sea at golden hour",
    "a pink heart, stained glass window",
    "two black triangles on a snowy field, gloomy",
]


class Command(BaseCommand):
    help = "Compare generation through the real queue and worker with direct pipeline calls."

    def add_arguments(self, parser):
        parser.add_argument("--jobs", type=int, default=8)
        parser.add_argument("--images", type=int, default=4, help="images per job")
        parser.add_argument("--steps", type=int, default=None)

    def handle(self, *args, jobs: int, images: int, steps: int | None, **options):
        limits = backend_limits()
        steps = steps or limits.default_steps
        width, height = limits.default_size
        prompts = [PROMPTS[i % len(PROMPTS)] for i in range(jobs)]
        user, _ = get_user_model().objects.get_or_create(username="bench-generation", defaults={"email": "bench@localhost"})
        credits_grant_admin(user=user, amount=jobs + 1, note="bench_generation")

        self.stdout.write(f"Model {settings.GENERATION_MODEL}, {width}x{height}, {steps} steps, {images} images/job, {jobs} jobs")
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "atelier_site", "worker", "--pool", "solo", "--concurrency", "1",
             "--hostname", "bench@%h", "--without-gossip", "--without-mingle", "--loglevel", "WARNING"],
            env={**os.environ}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        try:
            self._run_queue(user, ["warm-up: a red circle"], steps, images, settings.JOBS_MAX_ACTIVE)
            queue_times = self._run_queue(user, prompts, steps, images, settings.JOBS_MAX_ACTIVE)
        finally:
            worker.terminate()
            worker.wait(timeout=30)
        backend = backend_get()
        backend.generate(self._request("warm-up", 0, steps, images, width, height), on_step=lambda s, t: False)
        direct_times = []
        for i, prompt in enumerate(prompts):
            started = time.perf_counter()
            backend.generate(self._request(prompt, i, steps, images, width, height), on_step=lambda s, t: False)
            direct_times.append(time.perf_counter() - started)

        queue_total, direct_total = sum(queue_times), sum(direct_times)
        rows = [
            ("through the queue", statistics.median(queue_times), queue_total, jobs * images / queue_total),
            ("direct pipeline call", statistics.median(direct_times), direct_total, jobs * images / direct_total),
        ]
        self.stdout.write(f"\n{'path':<22} {'median s/job':>13} {'total s':>9} {'images/s':>9}")
        for name, median, total, rate in rows:
            self.stdout.write(f"{name:<22} {median:>13.2f} {total:>9.2f} {rate:>9.2f}")
        overhead = (queue_total - direct_total) / direct_total
        self.stdout.write(f"\nqueue overhead: {overhead * 100:+.1f}% of generation time (target <= 10%)")
        Job.objects.filter(owner=user).delete()

    @staticmethod
    def _request(prompt, seed, steps, images, width, height) -> GenerationRequest:
        return GenerationRequest(mode="text2img", prompt=prompt, negative_prompt="", seed=seed, width=width,
                                 height=height, steps=steps, guidance=backend_limits().default_guidance,
                                 num_images=images)

    def _run_queue(self, user, prompts, steps, images, max_active) -> list[float]:
        """Per-job service times through the queue: the gaps between successive completions,
        with the queue kept full so the worker never waits for work."""
        pending = list(enumerate(prompts))
        active: set[int] = set()
        started = time.perf_counter()
        finished: list[float] = []
        while pending or active:
            while pending and len(active) < max_active:
                i, prompt = pending.pop(0)
                job = services.job_create(user=user, spec=services.JobSpec(prompt=prompt, seed=i, steps=steps,
                                                                           num_images=images))
                active.add(job.pk)
            for pk, state in Job.objects.filter(pk__in=active, state__in=Job.FINAL_STATES).values_list("pk", "state"):
                if state != Job.State.SUCCEEDED:
                    raise RuntimeError(f"job {pk} ended {state}")
                active.discard(pk)
                finished.append(time.perf_counter())
            time.sleep(0.02)
        marks = [started, *sorted(finished)]
        return [b - a for a, b in pairwise(marks)]
