"""The job lifecycle through the service layer, with the real embedded model (few steps)."""

import io

import PIL.Image
import pytest
from django.core.files.storage import default_storage

from generation import services
from generation.credits import credits_balance
from generation.imagefiles import png_metadata_read
from generation.models import Image, Job, PolicyViolation, Suspension
from prompts.errors import AtelierError
from tests.generation.conftest import mask_png, png_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_enqueue(monkeypatch):
    """Jobs here are run by calling the service directly, as a worker would."""
    monkeypatch.setattr(services, "job_enqueue", lambda job_id: None)


def create(user, **kw):
    kw.setdefault("prompt", "a red circle in a meadow")
    kw.setdefault("steps", 3)
    return services.job_create(user=user, spec=services.JobSpec(**kw))


def run(job):
    state = services.job_execute(job_id=job.pk, worker="test")
    job.refresh_from_db()
    return state


def test_text2img_end_to_end_writes_images_with_both_metadata_chunks(owner, need_weights, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        job = create(owner, seed=7, num_images=2)
    assert job.state == "queued"
    assert credits_balance(user=owner) == 49
    assert run(job) == "succeeded"
    assert job.progress_step == job.steps == 3
    images = list(job.images.order_by("index"))
    assert [i.index for i in images] == [0, 1]
    for image in images:
        with default_storage.open(image.file, "rb") as fh:
            chunks = png_metadata_read(fh.read())
        assert chunks["parameters"].startswith("a red circle in a meadow\n")
        assert f"Seed: {image.seed}" in chunks["parameters"]
        assert "Sampler: DPM++ 2M," in chunks["parameters"]  # the sampler the shipped weights ran
        assert '"version": 1' in chunks["atelier"] or '"version":1' in chunks["atelier"]
        assert default_storage.exists(image.thumb_small) and default_storage.exists(image.thumb_large)
        assert image.blurhash and image.color.startswith("#")


def test_rerun_of_finished_job_changes_nothing(owner, need_weights):
    job = create(owner, num_images=1)
    run(job)
    assert services.job_execute(job_id=job.pk) == "succeeded"
    assert Image.objects.filter(job=job).count() == 1
    assert credits_balance(user=owner) == 49


def test_crashed_run_is_resumed_without_duplicate_images(owner, need_weights):
    job = create(owner, num_images=2, seed=3)
    run(job)
    first = [(i.file, i.seed) for i in job.images.order_by("index")]
    # Simulate a worker that died after writing: the sweep put the job back in the queue.
    Job.objects.filter(pk=job.pk).update(state="queued")
    assert run(job) == "succeeded"
    assert [(i.file, i.seed) for i in job.images.order_by("index")] == first
    assert job.attempts == 2
    assert credits_balance(user=owner) == 49


def test_same_seed_same_pixels(owner, need_weights):
    a, b = create(owner, seed=11, num_images=1), create(owner, seed=11, num_images=1)
    run(a), run(b)
    def pixels(job):
        with default_storage.open(job.images.get().file, "rb") as fh:
            return PIL.Image.open(io.BytesIO(fh.read())).convert("RGB").tobytes()
    assert pixels(a) == pixels(b)


def test_variation_edit_outpaint_sizes_and_lineage(owner, need_weights):
    base = create(owner, num_images=1)
    run(base)
    source = base.images.get()
    variation = create(owner, mode="variation", prompt="", source_image_id=source.pk, strength=0.5)
    assert variation.prompt == source.prompt  # no prompt needed
    run(variation)
    assert variation.images.count() == 3
    assert all(i.parent_id == source.pk for i in variation.images.all())

    edit = create(owner, mode="edit", source_image_id=source.pk, mask_bytes=mask_png())
    run(edit)
    assert {(i.width, i.height) for i in edit.images.all()} == {(64, 64)}

    wide = create(owner, mode="outpaint", source_image_id=source.pk, direction="right", expand=32)
    run(wide)
    assert {(i.width, i.height) for i in wide.images.all()} == {(96, 64)}
    framed = create(owner, mode="outpaint", source_image_id=source.pk, canvas=(128, 128), offset=(64, 0))
    run(framed)
    assert {(i.width, i.height) for i in framed.images.all()} == {(128, 128)}


def test_upload_as_source(owner, need_weights):
    upload = png_bytes(PIL.Image.new("RGB", (300, 200), (200, 30, 30)))
    job = create(owner, mode="variation", prompt="a red square", source_bytes=upload)
    assert (job.width, job.height) == (64, 64)
    run(job)
    assert job.state == "succeeded"


@pytest.mark.parametrize(
    ("kw", "code", "status"),
    [
        ({"width": 100, "height": 100}, "size_not_allowed", 422),
        ({"steps": 0}, "steps_out_of_range", 422),
        ({"steps": 1000}, "steps_out_of_range", 422),
        ({"guidance": 99}, "guidance_out_of_range", 422),
        ({"num_images": 5}, "n_out_of_range", 422),
        ({"prompt": ""}, "prompt_required", 422),
        ({"prompt": "x" * 10_001}, "too_long", 422),
        ({"prompt": "a cat\x00"}, "invalid_text", 422),
        ({"mode": "variation"}, "source_required", 422),
        ({"mode": "edit", "source_bytes": b"not an image"}, "unsupported_format", 400),
        ({"mode": "teleport"}, "invalid_mode", 422),
    ],
)
def test_bad_input_is_refused_and_costs_nothing(owner, kw, code, status):
    with pytest.raises(AtelierError) as info:
        create(owner, **kw)
    assert (info.value.code, info.value.status) == (code, status)
    assert credits_balance(user=owner) == 50
    assert not Job.objects.exists()


def test_size_error_lists_allowed_sizes(owner):
    with pytest.raises(AtelierError) as info:
        create(owner, width=100, height=100)
    assert "64x64" in info.value.details["allowed_sizes"]


def test_edit_mask_wrong_size_or_empty(owner, need_weights):
    base = create(owner, num_images=1)
    run(base)
    source = base.images.get()
    for mask, code in [(mask_png(size=(32, 32)), "mask_size"), (mask_png(box=None), "empty_mask")]:
        with pytest.raises(AtelierError) as info:
            create(owner, mode="edit", source_image_id=source.pk, mask_bytes=mask)
        assert info.value.code == code and info.value.status == 422
    assert Job.objects.count() == 1
    # Only the first job's prepared files remain: refused edits left nothing behind.
    assert not default_storage.exists("sources")


def test_someone_elses_private_image_is_404(owner, outsider, need_weights):
    job = create(owner, num_images=1)
    run(job)
    image = job.images.get()
    Image.objects.filter(pk=image.pk).update(visibility="private")
    with pytest.raises(AtelierError) as info:
        create(outsider, mode="variation", source_image_id=image.pk)
    assert info.value.status == 404
    Image.objects.filter(pk=image.pk).update(visibility="public")
    assert create(outsider, mode="variation", source_image_id=image.pk).source_image_id == image.pk


def test_no_credits_is_402_with_next_grant(owner):
    from generation.models import CreditGrant

    credits_balance(user=owner)
    CreditGrant.objects.filter(user=owner).update(remaining=0)
    with pytest.raises(AtelierError) as info:
        create(owner)
    assert info.value.status == 402
    assert info.value.details["balance"] == 0 and "next_grant_at" in info.value.details
    assert not Job.objects.exists()


def test_at_most_four_active_jobs(owner, settings):
    for _ in range(4):
        create(owner)
    with pytest.raises(AtelierError) as info:
        create(owner)
    assert info.value.status == 429
    assert credits_balance(user=owner) == 46


def test_failure_refunds(owner, monkeypatch):
    job = create(owner)

    def broken(name=None):
        raise RuntimeError("GPU on fire")

    monkeypatch.setattr(services, "backend_get", broken)
    assert run(job) == "failed"
    assert "GPU on fire" in job.error_message
    assert credits_balance(user=owner) == 50


def test_missing_model_fails_clearly(owner, settings, tmp_path):
    job = create(owner)
    Job.objects.filter(pk=job.pk).update(model=str(tmp_path / "no-such-model"))
    assert run(job) == "failed"
    assert job.error_code == "model_unavailable"
    assert "never downloaded" in job.error_message
    assert credits_balance(user=owner) == 50


def test_cancel_queued_job_refunds(owner):
    job = create(owner)
    services.job_cancel(user=owner, job_id=job.pk)
    job.refresh_from_db()
    assert job.state == "canceled"
    assert credits_balance(user=owner) == 50
    assert run(job) == "canceled"  # a late message changes nothing


def test_cancel_while_running_stops_and_refunds(owner, need_weights, monkeypatch):
    job = create(owner, steps=20)
    original = services._progress_writer

    def writer(j):
        inner = original(j)

        def on_step(step, total):
            if step == 2:
                services.job_cancel(user=owner, job_id=j.pk)
            return inner(step, total)

        return on_step

    monkeypatch.setattr(services, "_progress_writer", writer)
    assert run(job) == "canceled"
    assert job.progress_step < 20
    assert not job.images.exists()
    assert credits_balance(user=owner) == 50


def test_cannot_see_or_cancel_someone_elses_job(owner, outsider):
    job = create(owner)
    with pytest.raises(AtelierError) as info:
        services.job_cancel(user=outsider, job_id=job.pk)
    assert info.value.status == 404


def test_sweep_requeues_stale_running_and_resends_old_queued(owner, settings):
    from datetime import timedelta

    from django.utils import timezone

    stale, lost = create(owner), create(owner)
    old = timezone.now() - timedelta(hours=1)
    Job.objects.filter(pk=stale.pk).update(state="running", attempts=1, heartbeat_at=old)
    Job.objects.filter(pk=lost.pk).update(enqueued_at=old)
    result = services.jobs_sweep()
    assert result.requeued == [stale.pk] and result.resent == [lost.pk]
    stale.refresh_from_db()
    assert stale.state == "queued"
    # After the last attempt the job fails and the credit comes back.
    Job.objects.filter(pk=stale.pk).update(state="running", attempts=3, heartbeat_at=old)
    assert services.jobs_sweep().failed == [stale.pk]
    stale.refresh_from_db()
    assert stale.state == "failed" and stale.error_code == "worker_lost"
    assert credits_balance(user=owner) == 49  # one refunded, the other job still queued


@pytest.mark.parametrize(
    "prompt",
    ["a portrait of Barack Obama", "a portrait of 0bama", "O b a m a eating ice cream", "a pool of g0re",
     "Bаrаck Obаma waving"],  # the last one with Cyrillic а
)
def test_policy_blocks_before_any_credit(owner, prompt):
    with pytest.raises(AtelierError) as info:
        create(owner, prompt=prompt)
    assert info.value.code == "policy_violation" and info.value.status == 400
    assert "obama" not in info.value.message.lower() and "gore" not in info.value.message.lower()
    assert credits_balance(user=owner) == 50
    assert not Job.objects.exists()
    assert PolicyViolation.objects.filter(user=owner).count() == 1


def test_policy_checks_negative_prompt_too(owner):
    with pytest.raises(AtelierError) as info:
        create(owner, negative_prompt="Taylor Swift")
    assert info.value.details == {"category": "famous_people", "field": "negative_prompt"}


def test_five_violations_suspend_until_lifted(owner, make_user):
    from generation.policy import suspension_lift

    for _ in range(5):
        with pytest.raises(AtelierError):
            create(owner, prompt="a photo of Vladimir Putin")
    assert Suspension.objects.filter(user=owner, lifted_at__isnull=True).exists()
    with pytest.raises(AtelierError) as info:
        create(owner, prompt="a red circle")
    assert info.value.status == 403 and info.value.code == "account_suspended"
    suspension_lift(suspension=Suspension.objects.get(user=owner), by=make_user("mod"))
    assert create(owner, prompt="a red circle").state == "queued"


def test_innocent_prompts_pass_policy(owner):
    for prompt in ["a shooting star over the sea", "photo shoot in a studio", "Washington Monument at dusk"]:
        assert create(owner, prompt=prompt).state == "queued"
        Job.objects.all().delete()


def test_prompt_over_the_token_limit_is_truncated_not_refused(owner, need_weights):
    job = create(owner, prompt=" ".join(["a red circle above a blue square"] * 10), num_images=1)
    assert run(job) == "succeeded"
