import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prompts.catalog import Catalog
from prompts.composer import DIALECTS, ModifierChoice, Recipe, recipe_render
from prompts.parser import prompt_parse, words_key

# Plain nouns as subjects; any that a catalog term would claim are left out below.
SUBJECT_NOUNS = (
    "a fox",
    "an owl",
    "a red bicycle",
    "the old harbour",
    "two cats",
    "a cup of tea",
    "a lighthouse",
    "an elephant",
    "a teapot",
    "a girl with a kite",
    "an empty chair",
    "the city of London",
    "a giraffe",
    "robots",
    "a wooden boat",
    "a sleeping dog",
    "an apple",
    "a clock tower",
    "a hedgehog",
    "a stack of books",
)
WEIGHTS = (0.5, 0.8, 1.0, 1.1, 1.25, 1.5, 2.0)


def parse(catalog, text):
    return prompt_parse(text=text, catalog=catalog)


def found(catalog, text):
    """(slug, the text at the span, weight) for each modifier found."""
    return [(m.slug, text[m.start : m.end], m.weight) for m in parse(catalog, text).modifiers]


def _free_subjects(catalog: Catalog) -> list[str]:
    subjects = []
    for subject in SUBJECT_NOUNS:
        if not prompt_parse(text=subject, catalog=catalog).modifiers:
            subjects.append(subject)
    return subjects


# -- prompts written elsewhere ---------------------------------------------------------------------


def test_a1111_weights_and_spans(catalog):
    text = (
        "masterpiece, best quality, (watercolor:1.3), ((oil painting)), [pencil sketch], "
        "a red fox in the snow, by Katsushika Hokusai, golden hour"
    )
    parsed = parse(catalog, text)
    assert found(catalog, text) == [
        ("masterpiece", "masterpiece", 1.0),
        ("best-quality", "best quality", 1.0),
        ("watercolor", "watercolor", 1.3),
        ("oil-painting", "oil painting", 1.21),
        ("pencil-sketch", "pencil sketch", 0.9091),
        ("katsushika-hokusai", "Katsushika Hokusai", 1.0),
        ("golden-hour", "golden hour", 1.0),
    ]
    assert parsed.subject == "a red fox in the snow"
    assert parsed.unrecognized == ()
    assert [m.category for m in parsed.modifiers][:3] == ["detail", "detail", "medium"]


def test_nested_weights_multiply(catalog):
    text = "a fox, ((watercolor:1.2) , serene)"
    assert found(catalog, text) == [("watercolor", "watercolor", 1.32), ("serene", "serene", 1.1)]


def test_escaped_parentheses_are_not_weights(catalog):
    text = r"a fox \(serene\)"
    assert found(catalog, text) == [("serene", "serene", 1.0)]


def test_midjourney_parameters(catalog):
    text = (
        "Portrait of an astronaut, Cinematic Lighting, eerie --ar 16:9 --no helmet, stars "
        "--seed 1234 --s 750 --v 6.1 --style raw"
    )
    parsed = parse(catalog, text)
    assert parsed.subject == "Portrait of an astronaut"
    assert [(m.slug, text[m.start : m.end]) for m in parsed.modifiers] == [
        ("cinematic-lighting", "Cinematic Lighting"),
        ("eerie", "eerie"),
    ]
    assert parsed.negative_prompt == "helmet, stars"
    assert parsed.params == {
        "aspect_ratio": "16:9",
        "seed": 1234,
        "stylize": 750,
        "version": "6.1",
        "style": "raw",
    }


def test_midjourney_multi_prompt_weights(catalog):
    text = "watercolor painting::2 a fox::1 photograph::0.5"
    parsed = parse(catalog, text)
    assert found(catalog, text) == [
        ("watercolor", "watercolor painting", 2.0),
        ("photograph", "photograph", 0.5),
    ]
    assert parsed.subject == "a fox"


def test_case_hyphens_spacing_and_accents(catalog):
    text = "OIL-PAINTING of a Lighthouse,  Golden-Hour   LIGHT, pen and ink, Salvador Dalí"
    parsed = parse(catalog, text)
    assert [(m.slug, text[m.start : m.end]) for m in parsed.modifiers] == [
        ("oil-painting", "OIL-PAINTING"),
        ("golden-hour", "Golden-Hour   LIGHT"),
        ("ink-drawing", "pen and ink"),
        ("salvador-dali", "Salvador Dalí"),
    ]
    assert parsed.subject == "a Lighthouse"


def test_longest_match_wins(catalog):
    text = "a lighthouse, 85mm portrait lens, golden hour light, oil painting"
    assert [slug for slug, _, _ in found(catalog, text)] == [
        "85mm-portrait-lens",
        "golden-hour",
        "oil-painting",
    ]
    assert found(catalog, text)[0][1] == "85mm portrait lens"


def test_initials_and_possessives(catalog):
    text = "Van Gogh's sunflowers, J.M.W. Turner, M.C. Escher"
    assert [(slug, span) for slug, span, _ in found(catalog, text)] == [
        ("vincent-van-gogh", "Van Gogh's"),
        ("j-m-w-turner", "J.M.W. Turner"),
        ("m-c-escher", "M.C. Escher"),
    ]


def test_terms_need_whole_words(catalog):
    # "photographer" is not "photograph"; "serenely" is not "serene".
    assert found(catalog, "a photographer smiling serenely") == []


def test_terms_do_not_run_across_commas(catalog):
    text = "a fox, oil, painting"
    assert "oil-painting" not in [slug for slug, _, _ in found(catalog, text)]


def test_unrecognized_phrases(catalog):
    parsed = parse(catalog, "a cat, flurbish glow, watercolor, in the style of Bob Smith")
    assert parsed.subject == "a cat"
    assert parsed.unrecognized == ("flurbish glow", "Bob Smith")


def test_a1111_metadata_block(catalog):
    text = (
        "a lighthouse, oil paint\nNegative prompt: blurry, lowres\n"
        "Steps: 30, Sampler: DPM++ 2M Karras, CFG scale: 7.5, Seed: 42, Size: 512x768"
    )
    parsed = parse(catalog, text)
    assert parsed.subject == "a lighthouse"
    assert [m.slug for m in parsed.modifiers] == ["oil-painting"]
    assert parsed.negative_prompt == "blurry, lowres"
    assert parsed.params == {
        "steps": 30,
        "sampler": "DPM++ 2M Karras",
        "guidance": 7.5,
        "seed": 42,
        "width": 512,
        "height": 768,
    }


def test_sentences_split_phrases(catalog):
    parsed = parse(catalog, "A cat sitting on a mat. charcoal sketch")
    assert parsed.subject == "a cat sitting on a mat"
    assert [m.slug for m in parsed.modifiers] == ["charcoal-drawing"]


def test_as_dict_matches_the_api_shape(catalog):
    data = parse(catalog, "a fox, (serene:1.2)").as_dict()
    assert data["subject"] == "a fox"
    assert data["modifiers"] == [
        {"slug": "serene", "category": "mood", "start": 8, "end": 14, "weight": 1.2}
    ]
    assert data["unrecognized"] == []


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "\x00\x00",
        "((((",
        "))]]::",
        "--",
        "--ar",
        "a fox --no",
        "<script>x</script>",
        "(serene:abc)",
        "[[[[serene",
        "::::::",
        "a" * 20000,
        "watercolor " * 2000,
    ],
)
def test_odd_input_does_not_crash(catalog, text):
    parsed = parse(catalog, text)
    for modifier in parsed.modifiers:
        assert 0 <= modifier.start < modifier.end <= len(text)


def test_words_key_ignores_case_hyphens_and_spacing():
    assert words_key("Water-Colour  Painting") == words_key("water colour painting")
    assert words_key("f/1.8") == words_key("f / 1.8")
    assert words_key("oil, painting") != words_key("oil painting")


# -- round trip: every catalog modifier in every dialect -------------------------------------------


def _round_trip(catalog, subject, choices, dialect):
    r = Recipe(subject=subject, modifiers=tuple(choices))
    text = recipe_render(recipe=r, dialect=dialect, catalog=catalog).prompt
    parsed = prompt_parse(text=text, catalog=catalog)
    return text, parsed


@pytest.mark.parametrize("dialect", DIALECTS)
def test_round_trip_every_modifier(catalog, dialect):
    failures = []
    for entry in catalog:
        weight = 1.3 if dialect == "sd" else 1.0
        text, parsed = _round_trip(catalog, "a fox", [ModifierChoice(entry.slug, weight)], dialect)
        got = [(m.slug, m.weight) for m in parsed.modifiers]
        if got != [(entry.slug, weight)] or parsed.subject != "a fox" or parsed.unrecognized:
            failures.append((text, got, parsed.subject, parsed.unrecognized))
        for modifier in parsed.modifiers:
            span = text[modifier.start : modifier.end]
            if re.sub(r"\W", "", span).casefold() != re.sub(r"\W", "", entry.fragment).casefold():
                failures.append((text, span, entry.fragment))
    assert failures == []


@st.composite
def recipes(draw, catalog: Catalog, subjects: list[str]):
    categories = [c for c in catalog.categories if c.modifiers]
    chosen = draw(
        st.lists(st.sampled_from(categories), min_size=1, max_size=6, unique_by=lambda c: c.slug)
    )
    choices = [
        ModifierChoice(draw(st.sampled_from(c.modifiers)).slug, draw(st.sampled_from(WEIGHTS)))
        for c in chosen
    ]
    return draw(st.sampled_from(subjects)), choices


def test_round_trip_random_recipes(catalog):
    subjects = _free_subjects(catalog)
    assert len(subjects) >= 10

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(recipe=recipes(catalog, subjects), dialect=st.sampled_from(DIALECTS))
    def check(recipe, dialect):
        subject, choices = recipe
        text, parsed = _round_trip(catalog, subject, choices, dialect)
        expected = sorted((c.slug, c.weight if dialect == "sd" else 1.0) for c in choices)
        assert sorted((m.slug, m.weight) for m in parsed.modifiers) == expected, text
        assert parsed.subject == subject, text
        assert parsed.unrecognized == (), text

    check()


def test_round_trip_several_modifiers_per_category(catalog):
    subjects = _free_subjects(catalog)

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        subject=st.sampled_from(subjects),
        entries=st.lists(
            st.sampled_from(list(catalog)), min_size=1, max_size=8, unique_by=lambda e: e.slug
        ),
        dialect=st.sampled_from(DIALECTS),
    )
    def check(subject, entries, dialect):
        choices = [ModifierChoice(e.slug) for e in entries]
        text, parsed = _round_trip(catalog, subject, choices, dialect)
        assert sorted(m.slug for m in parsed.modifiers) == sorted(e.slug for e in entries), text
        assert parsed.subject == subject, text

    check()


def test_round_trip_keeps_midjourney_parameters(catalog):
    r = Recipe(
        subject="a fox",
        modifiers=(ModifierChoice("serene"),),
        negative_prompt="text, watermark",
        params={"aspect_ratio": "3:2", "seed": 7, "stylize": 250},
    )
    text = recipe_render(recipe=r, dialect="midjourney", catalog=catalog).prompt
    parsed = prompt_parse(text=text, catalog=catalog)
    assert parsed.negative_prompt == "text, watermark"
    assert parsed.params == {"aspect_ratio": "3:2", "seed": 7, "stylize": 250}
    assert parsed.subject == "a fox"
