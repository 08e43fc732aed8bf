from pathlib import Path

import numpy as np
import yaml

from generation.embedded.renderer import (
    COLOURS,
    KINDS,
    KNOWN_SLUGS,
    ObjectSpec,
    SceneSpec,
    render_scene,
    render_scene_with_masks,
)

CATALOG_DIR = Path(__file__).resolve().parents[3] / "prompts" / "catalog" / "data"


def _spec(**kw):
    return SceneSpec(objects=(ObjectSpec("star", "red"), ObjectSpec("boat", "blue")), relation="above",
                     setting="seaside", **kw)


def test_same_spec_and_seed_give_the_same_pixels():
    spec = _spec(medium="stained-glass", mood="dramatic")
    a = np.asarray(render_scene(spec, seed=5))
    b = np.asarray(render_scene(spec, seed=5))
    assert (a == b).all()
    assert a.shape == (64, 64, 3)


def test_another_seed_changes_the_picture():
    assert (np.asarray(render_scene(_spec(), 1)) != np.asarray(render_scene(_spec(), 2))).any()


def test_the_world_is_big_enough():
    assert len(KINDS) >= 12 and len(COLOURS) >= 10


def test_relation_puts_the_first_object_above_the_second():
    _, masks = render_scene_with_masks(_spec(), seed=3)
    first_y = np.nonzero(masks == 1)[0].mean()
    second_y = np.nonzero(masks == 2)[0].mean()
    assert first_y < second_y


def test_every_transform_renders_and_changes_the_picture():
    plain = np.asarray(render_scene(_spec(), seed=0)).astype(int)
    families = {"medium", "style", "era", "mood", "lighting"}
    from generation.embedded import renderer

    by_family = {"medium": renderer.MEDIUMS, "style": renderer.STYLES, "era": renderer.ERAS,
                 "mood": renderer.MOODS, "lighting": renderer.LIGHTINGS}
    assert set(by_family) == families
    for family, slugs in by_family.items():
        for slug in slugs:
            out = np.asarray(render_scene(_spec(**{family: slug}), seed=0)).astype(int)
            assert np.abs(out - plain).mean() > 3, slug


def _catalog_embedded_slugs() -> set[str]:
    slugs = set()
    for path in CATALOG_DIR.glob("*.yaml"):
        data = yaml.safe_load(path.read_text()) or {}
        for entry in data.get("modifiers") or []:
            if entry.get("embedded"):
                slugs.add(entry["slug"])
    return slugs


def test_known_slugs_match_the_catalogs_embedded_modifiers():
    embedded = _catalog_embedded_slugs()
    assert sorted(KNOWN_SLUGS - embedded) == [], "known to the renderer but not embedded in the catalog"
    assert sorted(embedded - KNOWN_SLUGS) == [], "embedded in the catalog but unknown to the renderer"
