"""The prompt book's swatch strips: built with the embedded model, found by the pages,
rebuilt only when the weights or the catalog change."""

import json
import os
import re
import shutil
from pathlib import Path

import PIL.Image
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command

from generation import swatches
from generation.backends.embedded import WEIGHTS
from prompts.models import Modifier
from prompts.selectors import catalog_get, catalog_invalidate
from prompts.services import catalog_load

TINY = Path(__file__).resolve().parents[2] / "var" / "weights-tiny"


def swatch_weights() -> Path | None:
    """EMBEDDED_TEST_WEIGHTS=<folder> when set, else the shipped weights; while those are
    still being trained, the untrained tiny copy in the same format (var/weights-tiny),
    which exercises every code path just as well."""
    override = os.environ.get("EMBEDDED_TEST_WEIGHTS")
    for folder in ([Path(override)] if override else []) + [WEIGHTS, TINY]:
        if (folder / "model_index.json").exists():
            return folder
    return None


@pytest.fixture
def swatch_model(settings):
    folder = swatch_weights()
    if folder is None:
        pytest.skip(f"no embedded weights: neither {WEIGHTS} nor {TINY} exists")
    settings.GENERATION_MODEL = "embedded" if folder == WEIGHTS else str(folder)
    return folder


@pytest.fixture
def loaded(db):
    catalog_load()
    return catalog_get()


# -- pieces ---------------------------------------------------------------------------------


def test_strip_members_are_the_modifier_and_its_known_neighbours(loaded):
    medium = loaded.category("medium")
    known = [m.slug for m in medium.modifiers if m.embedded]
    assert swatches.strip_members(medium, known[0]) == known[:5]
    assert swatches.strip_members(medium, known[-1]) == known[-5:]
    middle = swatches.strip_members(medium, known[4])
    assert middle == known[2:7] and middle[2] == known[4]
    era = loaded.category("era")  # four known: all of them, whichever is shown
    assert len(swatches.strip_members(era, [m.slug for m in era.modifiers if m.embedded][0])) == 4


def test_frame_steps_include_the_first_and_last():
    assert swatches.frame_steps(25) == [1, 6, 11, 15, 20, 25]
    assert swatches.frame_steps(3) == [1, 2, 3]
    assert swatches.frame_steps(1) == [1]


def test_compose_strip_lays_tiles_side_by_side():
    tiles = [PIL.Image.new("RGB", (64, 64), (255, 0, 0))] * 3
    sheet = swatches.compose_strip([tiles, tiles], highlight=1)
    assert sheet.size == (3 * swatches.TILE + 4 * swatches.GAP, 2 * swatches.TILE + 3 * swatches.GAP)
    assert sheet.getpixel((swatches.GAP + 5, swatches.GAP + 5))[:3] == (255, 0, 0)
    # The highlighted column is framed in the accent colour.
    frame_x = swatches.GAP + (swatches.TILE + swatches.GAP) - 4
    assert sheet.getpixel((frame_x, 40)) == swatches.HIGHLIGHT
    assert sheet.getpixel((2, 40))[3] == 0  # transparent elsewhere


def test_the_digest_follows_the_weights_and_the_catalog(loaded, tmp_path, swatch_model):
    copy = tmp_path / "weights"
    shutil.copytree(swatch_model, copy)
    first = swatches.swatch_digest(catalog=loaded, model=str(copy))
    assert first == swatches.swatch_digest(catalog=loaded, model=str(copy))
    config = copy / "scheduler" / "scheduler_config.json"
    data = json.loads(config.read_text())
    data["steps_offset"] = 1
    config.write_text(json.dumps(data))
    second = swatches.swatch_digest(catalog=loaded, model=str(copy))
    assert second != first

    Modifier.objects.filter(slug="serene").update(fragment="very serene")
    catalog_invalidate()
    assert swatches.swatch_digest(catalog=catalog_get(), model=str(copy)) != second
    # Rows the model doesn't know don't matter.
    before = swatches.catalog_digest(catalog_get())
    Modifier.objects.filter(slug="idyllic").update(fragment="very idyllic")
    catalog_invalidate()
    assert swatches.catalog_digest(catalog_get()) == before
    assert swatches.swatch_digest(catalog=loaded, model=str(tmp_path / "nothing")) is None


def test_prune_deletes_other_digests_only():
    for name in ("book/swatches/old/mood/serene.png", "book/swatches/old/manifest.json",
                 "book/swatches/keep/manifest.json"):
        default_storage.save(name, ContentFile(b"x"))
    assert swatches.swatches_prune(keep="keep") == 2
    assert default_storage.exists("book/swatches/keep/manifest.json")
    assert not default_storage.exists("book/swatches/old/manifest.json")


def test_denoising_frames_capture_the_sample_and_the_predicted_picture(swatch_model):
    from generation.backends import backend_get

    pipe = backend_get().pipe
    samples, predictions, chosen = swatches.render_denoising(pipe, prompt="a red house", seed=3, steps=3,
                                                             guidance=4.0)
    assert chosen == [1, 2, 3] and len(samples) == 3
    assert all(p is not None and p.size == (64, 64) for p in predictions)
    # After the last step the sample is the finished picture: the same pixels as a plain run.
    plain = swatches.render_tile(pipe, prompt="a red house", seed=3, steps=3, guidance=4.0)
    assert samples[-1].tobytes() == plain.tobytes()


# -- the build, and the pages that show it ---------------------------------------------------


@pytest.mark.slow
def test_build_gives_every_known_modifier_a_swatch_and_the_pages_show_them(client, loaded, swatch_model):
    out = []
    call_command("build_book_swatches", "--steps", "1", stdout=type("W", (), {"write": out.append})())
    known = [m for m in loaded if m.embedded]
    assert f"{len(known)} modifier strips and 3 denoising strips rendered" in "".join(out)
    manifest = swatches.swatch_manifest_get(catalog=loaded)
    assert manifest is not None and manifest.steps == 1

    for modifier in loaded:
        html = client.get(f"/book/{modifier.category}/{modifier.slug}").content.decode()
        if modifier.embedded:
            assert 'data-testid="swatch"' in html, modifier.slug
            png, webp = re.search(r'srcset="([^"]+\.webp)"', html), re.search(r'src="([^"]+\.png)"', html)
            for url in (png.group(1), webp.group(1)):
                name = url.removeprefix("/media/")
                assert name.startswith(f"book/swatches/{manifest.digest}/{modifier.category}/")
                assert default_storage.exists(name), name
            with default_storage.open(png.group(1).removeprefix("/media/"), "rb") as fh:
                strip = PIL.Image.open(fh)
                columns = len(swatches.strip_members(loaded.category(modifier.category), modifier.slug))
                assert strip.width == columns * swatches.TILE + (columns + 1) * swatches.GAP
        else:
            assert "not known to the embedded model" in html and 'data-testid="swatch"' not in html

    chapter = client.get("/book/how-it-works").content.decode()
    assert chapter.count('class="strip-img"') == 3 and "strip-missing" not in chapter
    assert client.get(re.search(r'src="(/media/[^"]+\.png)"', chapter.split("strip-steps")[1]).group(1)).status_code == 200

    # A second run has nothing to do.
    out.clear()
    call_command("build_book_swatches", "--steps", "1", stdout=type("W", (), {"write": out.append})())
    assert "0 modifier strips and 0 denoising strips rendered" in "".join(out)

    # A catalog edit to a known modifier changes the digest: no stale swatch is shown.
    Modifier.objects.filter(slug="serene").update(fragment="serene and calm")
    catalog_invalidate()
    assert swatches.swatch_manifest_get(catalog=catalog_get()) is None
    html = client.get("/book/mood/serene").content.decode()
    assert 'data-testid="swatch-missing"' in html
