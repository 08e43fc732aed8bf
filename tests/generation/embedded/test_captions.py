import random

from generation.embedded import captions
from generation.embedded.data import sample_spec
from generation.embedded.renderer import KNOWN_SLUGS, SETTINGS, STYLE_ALIASES, ObjectSpec, SceneSpec

FAMILY = {**{s: "setting" for s in SETTINGS}, **{s: "medium" for s in captions.MEDIUMS},
          **{s: "style" for s in captions.STYLES + tuple(STYLE_ALIASES)}, **{s: "era" for s in captions.ERAS},
          **{s: "mood" for s in captions.MOODS}, **{s: "lighting" for s in captions.LIGHTINGS}}


def test_every_known_slug_is_put_into_words():
    assert set(FAMILY) == set(KNOWN_SLUGS)
    for slug in sorted(KNOWN_SLUGS):
        spec = SceneSpec(objects=(ObjectSpec("circle", "red"),), **{FAMILY[slug]: slug})
        rng = random.Random(0)
        texts = [captions.caption(spec, rng, use_composer=False).lower() for _ in range(40)]
        phrases = [p.lower() for p in captions.slug_phrases(slug)]
        assert all(any(p in t for p in phrases) for t in texts), slug


def test_counts_come_as_digits_and_as_words():
    spec = SceneSpec(objects=(ObjectSpec("star", "yellow"),) * 3, setting="night-sky")
    rng = random.Random(1)
    texts = [captions.caption_prose(spec, rng) for _ in range(60)]
    assert any("3 " in t for t in texts) and any("three " in t for t in texts)
    assert all("star" in t for t in texts)


def test_the_three_dialects():
    spec = SceneSpec(objects=(ObjectSpec("circle", "red"), ObjectSpec("square", "blue")), relation="above",
                     setting="meadow", medium="watercolor", style="katsushika-hokusai", era="1920s",
                     mood="serene", lighting="golden-hour")
    rng = random.Random(2)
    plain = [captions.caption_plain(spec, rng) for _ in range(30)]
    sd = [captions.caption_sd(spec, rng) for _ in range(30)]
    mj = [captions.caption_midjourney(spec, rng) for _ in range(30)]
    assert any(t.startswith("A watercolor painting of a red circle above a blue square") for t in plain)
    assert any("in the style of Katsushika Hokusai" in t for t in plain)
    assert any("(" in t and ":1." in t for t in sd)
    assert all(t.count(",") >= 5 for t in sd)
    assert any("--ar 1:1" in t for t in mj) and any("--seed" in t for t in mj)


def test_captions_vary():
    rng = random.Random(3)
    spec = sample_spec(rng)
    assert len({captions.caption(spec, rng, use_composer=False) for _ in range(20)}) > 5
