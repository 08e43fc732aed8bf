"""Comparison grids: planning, the cost check, all-or-nothing creation, the result page."""

import io
import re

import PIL.Image
import pytest
from django.core.files.storage import default_storage

from generation import grids, services
from generation.credits import credits_balance
from generation.models import Image, Job, PolicyViolation
from generation.services import JobSpec, job_create
from prompts.selectors import catalog_get
from prompts.services import catalog_load


@pytest.fixture
def loaded(db):
    catalog_load()
    return catalog_get()


def post_grid(client, **fields):
    data = {"subject": "a red house", "x": "medium", "seed": "7", **fields}
    return client.post("/create/grid", data)


# -- planning ---------------------------------------------------------------------------


def test_plan_makes_one_cell_per_combination(loaded):
    plan = grids.grid_plan(catalog=loaded, subject="  a red   house ", x_category="medium",
                           x_modifiers=["watercolor", "pixel-art"], y_category="mood",
                           y_modifiers=["serene", "gloomy", "cheerful"], seed=7)
    assert plan.cost == len(plan.cells) == 6
    assert plan.subject == "a red house"
    first = plan.cells[0]
    assert (first.col, first.row) == (0, 0)
    assert first.prompt == "A watercolor painting of a red house, serene mood"
    assert [m.slug for m in plan.cells[-1].modifiers] == ["pixel-art", "cheerful"]


def test_axis_defaults_are_the_modifiers_the_model_knows(loaded):
    medium = loaded.category("medium")
    assert grids.axis_defaults(medium) == [m.slug for m in medium.modifiers if m.embedded]
    assert len(grids.axis_defaults(loaded.category("camera"))) == grids.DEFAULT_PICKS  # knows none


@pytest.mark.parametrize("kwargs, code", [
    ({"x_category": "nope"}, "unknown_category"),
    ({"y_category": "nope", "y_modifiers": ["serene"]}, "unknown_category"),
    ({"x_modifiers": ["serene"]}, "unknown_modifier"),
    ({"x_modifiers": []}, "no_modifiers"),
    ({"y_category": "medium", "y_modifiers": ["watercolor"]}, "same_category"),
    ({"subject": "   "}, "subject_required"),
    ({"seed": -1}, "seed_out_of_range"),
])
def test_plan_refuses_bad_input_with_a_code(loaded, kwargs, code):
    args = {"catalog": loaded, "subject": "a fox", "x_category": "medium", "x_modifiers": ["watercolor"], **kwargs}
    with pytest.raises(grids.ValidationFailed) as err:
        grids.grid_plan(**args)
    assert err.value.code == code and err.value.status == 422


def test_more_than_64_cells_is_refused_with_the_count(loaded):
    styles = [m.slug for m in loaded.category("style").modifiers][:13]
    moods = [m.slug for m in loaded.category("mood").modifiers][:5]
    with pytest.raises(grids.ValidationFailed) as err:
        grids.grid_plan(catalog=loaded, subject="a fox", x_category="style", x_modifiers=styles,
                        y_category="mood", y_modifiers=moods)
    assert err.value.code == "too_many_cells"
    assert err.value.details == {"cells": 65, "max": 64}
    assert "65 cells" in err.value.message


# -- the page -----------------------------------------------------------------------------


def test_form_shows_the_cost_and_the_balance_before_running(client, loaded, owner):
    client.force_login(owner)
    response = client.get("/create/grid", {"x": "mood", "y": "medium"})
    assert response.status_code == 200
    html = response.content.decode()
    known_moods = len(grids.axis_defaults(loaded.category("mood")))
    known_mediums = len(grids.axis_defaults(loaded.category("medium")))
    cells = known_moods * known_mediums
    assert f"<strong data-cells>{cells}</strong>" in html
    assert f"<strong data-credits-needed>{cells}</strong>" in html
    assert f'data-testid="grid-balance">{credits_balance(user=owner)}<' in html
    # Defaults: the modifiers the model knows are ticked, the others are not.
    assert re.search(r'value="serene" checked', html) and not re.search(r'value="idyllic" checked', html)


def test_the_form_keeps_ticks_for_the_same_category_and_resets_them_for_a_new_one(client, loaded):
    html = client.get("/create/grid", {"x": "mood", "x_for": "mood", "xm": ["idyllic"]}).content.decode()
    assert 'value="idyllic" checked' in html and 'value="serene" checked' not in html
    html = client.get("/create/grid", {"x": "medium", "x_for": "mood", "xm": ["idyllic"]}).content.decode()
    assert 'value="watercolor" checked' in html


def test_update_choices_keeps_the_csrf_token_out_of_the_address(client, loaded):
    response = client.get("/create/grid", {"x": "mood", "csrfmiddlewaretoken": "secret"})
    assert response.status_code == 302 and "secret" not in response["Location"] and "x=mood" in response["Location"]


def test_anonymous_visitors_see_the_form_but_must_log_in_to_run(client, loaded):
    assert client.get("/create/grid").status_code == 200
    response = post_grid(client, xm=["watercolor"])
    assert response.status_code == 302 and "/accounts/login" in response["Location"]
    assert not Job.objects.exists()


def test_a_grid_creates_one_job_per_cell_and_spends_one_credit_each(client, loaded, owner,
                                                                     django_capture_on_commit_callbacks, monkeypatch):
    enqueued = []
    monkeypatch.setattr(grids, "job_enqueue", lambda job_id: enqueued.append(job_id))
    client.force_login(owner)
    before = credits_balance(user=owner)
    with django_capture_on_commit_callbacks(execute=True):
        response = post_grid(client, xm=["watercolor", "pixel-art", "mosaic"], y="mood", ym=["serene", "gloomy"])
    assert response.status_code == 302
    grid_id = response["Location"].rsplit("/", 1)[1]
    jobs = list(Job.objects.filter(owner=owner).order_by("id"))
    assert len(jobs) == 6 and credits_balance(user=owner) == before - 6
    assert {j.num_images for j in jobs} == {1} and {j.seed for j in jobs} == {7}
    assert jobs[0].recipe["grid"] == {"id": grid_id, "col": 0, "row": 0, "x": "medium", "y": "mood"}
    assert jobs[0].recipe["modifiers"] == ["watercolor", "serene"]
    assert enqueued == [j.pk for j in jobs]


def test_over_64_cells_is_a_422_form_error_and_nothing_is_created(client, loaded, owner):
    client.force_login(owner)
    before = credits_balance(user=owner)
    styles = [m.slug for m in loaded.category("style").modifiers][:13]
    moods = [m.slug for m in loaded.category("mood").modifiers][:5]
    response = post_grid(client, x="style", xm=styles, y="mood", ym=moods)
    assert response.status_code == 422
    html = response.content.decode()
    assert 'data-testid="grid-error"' in html and "65 cells" in html
    assert not Job.objects.exists() and credits_balance(user=owner) == before


def test_unknown_category_is_an_error_and_nothing_is_created(client, loaded, owner):
    client.force_login(owner)
    response = post_grid(client, x="sculpture", xm=["bronze"])
    assert response.status_code == 422
    assert "no category" in response.content.decode()
    assert not Job.objects.exists()


def test_not_enough_credits_is_an_error_and_nothing_is_created(client, loaded, owner, settings):
    settings.CREDITS_FIRST_GRANT = 3
    client.force_login(owner)
    response = post_grid(client, xm=["watercolor", "pixel-art", "mosaic", "ink-drawing"])
    assert response.status_code == 402
    html = response.content.decode()
    assert "costs 4 credits and your balance is 3" in html
    assert not Job.objects.exists() and credits_balance(user=owner) == 3


def test_a_policy_violation_creates_nothing(client, loaded, owner):
    client.force_login(owner)
    before = credits_balance(user=owner)
    response = post_grid(client, subject="a portrait of Barack Obama", xm=["watercolor", "pixel-art"])
    assert response.status_code == 400
    assert "content policy" in response.content.decode()
    assert not Job.objects.exists() and credits_balance(user=owner) == before
    assert PolicyViolation.objects.filter(user=owner).count() == 1


def test_a_failure_halfway_rolls_everything_back(client, loaded, owner, monkeypatch):
    from generation import credits

    real = credits.credits_spend
    calls = {"n": 0}

    def flaky(**kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise credits.InsufficientCredits("Your balance changed; try again.")
        return real(**kwargs)

    monkeypatch.setattr(services, "credits_spend", flaky)
    client.force_login(owner)
    before = credits_balance(user=owner)
    response = post_grid(client, xm=["watercolor", "pixel-art", "mosaic", "ink-drawing"])
    assert response.status_code == 402
    assert not Job.objects.exists() and credits_balance(user=owner) == before


def test_a_grid_counts_as_one_submission_toward_the_active_limit(loaded, owner, settings, monkeypatch):

    monkeypatch.setattr(services, "job_enqueue", lambda job_id: None)
    monkeypatch.setattr(grids, "job_enqueue", lambda job_id: None)
    settings.JOBS_MAX_ACTIVE = 3
    job_create(user=owner, spec=JobSpec(prompt="a fox", num_images=1))
    plan = grids.grid_plan(catalog=loaded, subject="a fox", x_category="medium",
                           x_modifiers=["watercolor", "pixel-art", "mosaic", "ink-drawing", "oil-painting"])
    grids.grid_create(user=owner, plan=plan)  # 5 cells, more than the limit: one submission
    assert services.submissions_active(user=owner) == 2
    # A single job counts the grid as one submission too, not as its five cells.
    job_create(user=owner, spec=JobSpec(prompt="a fox", num_images=1))
    with pytest.raises(services.TooManyJobs):
        grids.grid_create(user=owner, plan=plan)
    with pytest.raises(services.TooManyJobs):
        job_create(user=owner, spec=JobSpec(prompt="a fox", num_images=1))
    assert Job.objects.count() == 7


# -- the result ----------------------------------------------------------------------------


def _finish(job: Job, colour) -> Image:
    picture = PIL.Image.new("RGB", (64, 64), colour)
    buf = io.BytesIO()
    picture.save(buf, format="PNG")
    name = default_storage.save(f"images/test/{job.pk}.png", io.BytesIO(buf.getvalue()))
    job.state = Job.State.SUCCEEDED
    job.save(update_fields=["state"])
    return Image.objects.create(job=job, index=0, owner=job.owner, file=name, thumb_small=name, width=64, height=64,
                                prompt=job.prompt, recipe=job.recipe, seed=job.seed)


def test_result_page_shows_the_labelled_grid_and_links_to_the_images(client, loaded, owner, outsider, monkeypatch):
    monkeypatch.setattr(grids, "job_enqueue", lambda job_id: None)
    plan = grids.grid_plan(catalog=loaded, subject="a red house", x_category="medium",
                           x_modifiers=["watercolor", "pixel-art"], y_category="mood", y_modifiers=["serene", "gloomy"],
                           seed=3)
    grid_id = grids.grid_create(user=owner, plan=plan)
    client.force_login(owner)
    url = f"/create/grid/{grid_id}"
    running = client.get(url).content.decode()
    assert running.count('class="grid-cell state-cell-queued"') == 4
    assert 'href="/book/medium/watercolor"' in running and 'href="/book/mood/gloomy"' in running
    assert 'data-testid="grid-sheet"' not in running
    status = client.get(f"{url}/status").json()
    assert status["finished"] is False and len(status["cells"]) == 4

    jobs = list(Job.objects.filter(owner=owner).order_by("id"))
    images = [_finish(job, (40 * i, 90, 200)) for i, job in enumerate(jobs[:3])]
    jobs[3].state = Job.State.FAILED
    jobs[3].save(update_fields=["state"])
    done = client.get(url).content.decode()
    for image in images:
        assert f'href="/i/{image.pk}"' in done
    assert 'data-testid="grid-sheet"' in done
    sheet = grids.grid_get(user=owner, grid_id=grid_id).sheet_name
    with default_storage.open(sheet, "rb") as fh:
        composed = PIL.Image.open(fh)
        composed.load()
    # Two columns and two rows of 160 px cells, with labels around them.
    assert composed.width > 2 * grids.CELL + 100 and composed.height > 2 * grids.CELL + 60
    assert client.get(f"{url}/status").json()["finished"] is True

    client.force_login(outsider)
    assert client.get(url).status_code == 404
    assert client.get(f"{url}/status").status_code == 404
