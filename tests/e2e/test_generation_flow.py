"""Build → generate → watch progress → results → edit with the eraser → results, in Chromium,
with a real worker process consuming the jobs."""

import pytest
from django.conf import settings

from generation import services
from tests.support import running_worker, subprocess_env

pytestmark = [pytest.mark.e2e, pytest.mark.worker]


@pytest.fixture
def worker(tmp_path, media_root, live_server, need_weights):
    extra = {"MEDIA_ROOT": str(media_root), "GENERATION_MODEL": settings.GENERATION_MODEL,
             "ATELIER_BROKER_DIR": str(settings.BROKER_DIR)}
    with running_worker(env=subprocess_env(extra=extra), name="e2e", tmp_path=tmp_path) as w:
        yield w


@pytest.fixture
def logged_in(page, owner, client, live_server):
    client.force_login(owner)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    page.context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie.value,
                               "url": live_server.url}])
    return page


def test_build_generate_progress_results_edit(logged_in, worker, shot, monkeypatch):
    page = logged_in
    page.goto("/create?subject=a+red+circle+above+a+blue+square&m=watercolor&steps=12&n=2")
    page.get_by_role("button", name="Generate").click()
    page.wait_for_url("**/jobs/*")
    page.get_by_test_id("progress-text").wait_for()
    shot("job-progress")
    page.get_by_test_id("result").first.wait_for(timeout=120_000)
    assert page.get_by_test_id("job-state").inner_text().strip() == "Succeeded"
    assert page.get_by_test_id("result").count() == 2
    shot("job-results")

    page.get_by_test_id("result").first.get_by_role("link", name="Edit").click()
    canvas = page.get_by_test_id("eraser-canvas")
    canvas.wait_for()
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.3)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.7, box["y"] + box["height"] * 0.6, steps=8)
    page.mouse.up()
    shot("edit-eraser")
    page.get_by_label("Prompt").fill("a red circle above a blue square, a yellow star")
    page.get_by_role("button", name="Generate edits").click()
    page.wait_for_url("**/jobs/*")
    page.get_by_test_id("result").first.wait_for(timeout=120_000)
    assert page.get_by_test_id("result").count() == 3
    assert "edit" in page.locator(".eyebrow").first.inner_text().lower()
    shot("edit-results")
    assert services.Job.objects.filter(mode="edit", state="succeeded").count() == 1
