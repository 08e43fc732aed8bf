import pytest

from prompts.catalog import Catalog, CategoryEntry, ModifierEntry
from prompts.composer import (
    DIALECTS,
    ComposeError,
    ModifierChoice,
    Recipe,
    Rendered,
    indefinite_article,
    recipe_render,
    setting_phrase,
)


def recipe(subject="a fox", *choices, negative="", **params) -> Recipe:
    modifiers = tuple(c if isinstance(c, ModifierChoice) else ModifierChoice(c) for c in choices)
    return Recipe(subject=subject, modifiers=modifiers, negative_prompt=negative, params=params)


def render(catalog, r, dialect="plain") -> Rendered:
    return recipe_render(recipe=r, dialect=dialect, catalog=catalog)


FOX = recipe(
    "a fox",
    "golden-hour",
    "serene",
    ModifierChoice("katsushika-hokusai", 1.2),
    ModifierChoice("watercolor", 1.3),
    "1920s",
    "forest",
    negative="text, watermark",
    aspect_ratio="3:2",
    seed=7,
    stylize=250,
)


# -- golden renderings, one per dialect ----------------------------------------------------------


def test_plain_golden(catalog):
    assert render(catalog, FOX) == Rendered(
        prompt=(
            "A watercolor painting of a fox in a forest, 1920s, in the style of Katsushika "
            "Hokusai, serene mood, golden hour light"
        ),
        negative_prompt="text, watermark",
    )


def test_sd_golden(catalog):
    assert render(catalog, FOX, "sd") == Rendered(
        prompt=(
            "a fox, (watercolor painting:1.3), 1920s, (Katsushika Hokusai:1.2), serene, "
            "golden hour light, forest"
        ),
        negative_prompt="text, watermark",
    )


def test_midjourney_golden(catalog):
    assert render(catalog, FOX, "midjourney") == Rendered(
        prompt=(
            "A watercolor painting of a fox in a forest, 1920s, in the style of Katsushika "
            "Hokusai, serene mood, golden hour light --ar 3:2 --no text, watermark --seed 7 "
            "--stylize 250"
        ),
        negative_prompt="",
    )


def test_plain_groups_artists_and_moods(catalog):
    r = recipe(
        "an owl",
        "claude-monet",
        "gloomy",
        "dreamy",
        "utagawa-hiroshige",
        "oil-painting",
        "photograph",
        "outer-space",
        "seaside",
        "4k",
    )
    assert render(catalog, r).prompt == (
        "An oil painting of an owl in outer space, photograph, in the style of Claude Monet "
        "and Utagawa Hiroshige, gloomy and dreamy mood, at the seaside, 4K"
    )
    assert render(catalog, r, "sd").prompt == (
        "an owl, oil painting, photograph, Claude Monet, Utagawa Hiroshige, gloomy, dreamy, "
        "outer space, seaside, 4K"
    )


def test_plain_without_a_medium_capitalises_the_leading_article(catalog):
    assert render(catalog, recipe("a fox", "serene", "forest")).prompt == (
        "A fox in a forest, serene mood"
    )
    assert render(catalog, recipe("foxes at play", "serene")).prompt == "foxes at play, serene mood"


def test_subject_alone_and_modifiers_alone(catalog):
    assert render(catalog, recipe("a lighthouse at dusk")).prompt == "A lighthouse at dusk"
    assert render(catalog, recipe("", "forest", "serene")).prompt == "In a forest, serene mood"
    assert render(catalog, recipe("", "forest", "serene"), "sd").prompt == "serene, forest"


def test_articles_follow_the_medium(catalog):
    assert render(catalog, recipe("a fox", "oil-painting")).prompt == "An oil painting of a fox"
    assert render(catalog, recipe("a fox", "3d-render")).prompt == "A 3D render of a fox"
    assert render(catalog, recipe("a fox", "etching")).prompt == "An etching of a fox"
    assert render(catalog, recipe("a fox", "digital-art")).prompt == "Digital art of a fox"


@pytest.mark.parametrize(
    ("phrase", "article"),
    [
        ("apple", "an"),
        ("pear", "a"),
        ("hour", "an"),
        ("unicorn", "a"),
        ("umbrella", "an"),
        ("European city", "a"),
        ("one-eyed cat", "a"),
        ("8-bit sprite", "an"),
        ("18th century map", "an"),
        ("3D render", "a"),
        ("HDR photo", "an"),
        ("UFO", "a"),
        ("honest face", "an"),
        ("ukiyo-e print", "an"),
    ],
)
def test_indefinite_article(phrase, article):
    assert indefinite_article(phrase) == article


def _setting(fragment: str) -> ModifierEntry:
    return ModifierEntry(slug="x", name=fragment, category="setting", fragment=fragment)


@pytest.mark.parametrize(
    ("fragment", "phrase"),
    [
        ("misty forest", "in a misty forest"),
        ("outer space", "in outer space"),
        ("underwater", "underwater"),
        ("on the moon", "on the moon"),
        ("city street", "on a city street"),
        ("desert", "in the desert"),
        ("blue sky", "under a blue sky"),
        ("ancient ruins", "in ancient ruins"),
        ("cafe in Paris", "at a cafe in Paris"),
        ("alien planet", "on an alien planet"),
    ],
)
def test_setting_prepositions(fragment, phrase):
    assert setting_phrase(_setting(fragment)) == phrase


# -- ordering, weights, parameters ---------------------------------------------------------------


def test_order_is_category_order_then_choice_order(catalog):
    r = recipe("a fox", "4k", "serene", "dreamy", "watercolor", "katsushika-hokusai")
    assert render(catalog, r, "sd").prompt == (
        "a fox, watercolor painting, Katsushika Hokusai, serene, dreamy, 4K"
    )
    r = recipe("a fox", "dreamy", "serene")
    assert render(catalog, r, "sd").prompt == "a fox, dreamy, serene"


def test_rendering_is_deterministic(catalog):
    assert {render(catalog, FOX, d) for d in DIALECTS for _ in range(3)} == {
        render(catalog, FOX, d) for d in DIALECTS
    }


def test_repeated_modifier_is_rendered_once(catalog):
    r = recipe("a fox", "serene", "serene")
    assert render(catalog, r, "sd").prompt == "a fox, serene"


@pytest.mark.parametrize(
    ("weight", "text"),
    [(1.0, "serene"), (1.25, "(serene:1.25)"), (0.5, "(serene:0.5)"), (2, "(serene:2)")],
)
def test_sd_weights(catalog, weight, text):
    assert render(catalog, recipe("a fox", ModifierChoice("serene", weight)), "sd").prompt == (
        f"a fox, {text}"
    )


@pytest.mark.parametrize("weight", [0, -1, 2.5, float("nan")])
def test_bad_weights(catalog, weight):
    with pytest.raises(ComposeError) as info:
        render(catalog, recipe("a fox", ModifierChoice("serene", weight)), "sd")
    assert info.value.code == "invalid_weight"


def test_plain_and_midjourney_ignore_weights(catalog):
    heavy = recipe("a fox", ModifierChoice("serene", 1.8))
    assert render(catalog, heavy).prompt == "A fox, serene mood"
    assert render(catalog, heavy, "midjourney").prompt == "A fox, serene mood"


def test_midjourney_aspect_ratio_from_size(catalog):
    r = recipe("a fox", width=1024, height=768, seed=0)
    assert render(catalog, r, "midjourney").prompt == "A fox --ar 4:3 --seed 0"


def test_midjourney_negative_prompt_is_tidied_into_no(catalog):
    r = recipe("a fox", negative=" text,\n watermark ,, blurry ")
    rendered = render(catalog, r, "midjourney")
    assert rendered.prompt == "A fox --no text, watermark, blurry"
    assert rendered.negative_prompt == ""
    assert render(catalog, r, "sd").negative_prompt == "text, watermark, blurry"


def test_midjourney_subject_cannot_smuggle_parameters(catalog):
    rendered = render(catalog, recipe("a fox --ar 99:1"), "midjourney")
    assert "--ar" not in rendered.prompt


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"aspect_ratio": "wide"}, "aspect_ratio"),
        ({"aspect_ratio": "3:0"}, "aspect_ratio"),
        ({"seed": -1}, "seed"),
        ({"seed": "x"}, "seed"),
        ({"stylize": 5000}, "stylize"),
        ({"seed": True}, "seed"),
    ],
)
def test_bad_midjourney_params(catalog, params, name):
    with pytest.raises(ComposeError) as info:
        render(catalog, recipe("a fox", **params), "midjourney")
    assert info.value.code == "invalid_param"
    assert info.value.details["param"] == name


# -- errors --------------------------------------------------------------------------------------


def test_unknown_modifiers_are_named(catalog):
    with pytest.raises(ComposeError) as info:
        render(catalog, recipe("a fox", "serene", "no-such-thing", "also-missing"))
    assert info.value.code == "unknown_modifier"
    assert info.value.details == {"slugs": ["no-such-thing", "also-missing"]}


def test_unknown_dialect(catalog):
    with pytest.raises(ComposeError) as info:
        render(catalog, recipe("a fox"), "dalle")
    assert info.value.code == "unknown_dialect"


def test_empty_recipe(catalog):
    with pytest.raises(ComposeError) as info:
        render(catalog, recipe("   "))
    assert info.value.code == "empty_prompt"


def test_categories_unknown_to_the_composer_are_comma_phrases():
    catalog = Catalog(
        [
            CategoryEntry(
                slug="medium",
                name="Medium",
                order=1,
                modifiers=(
                    ModifierEntry(
                        slug="ink", name="Ink", category="medium", fragment="ink drawing"
                    ),
                ),
            ),
            CategoryEntry(
                slug="texture",
                name="Texture",
                order=2,
                modifiers=(
                    ModifierEntry(
                        slug="rough", name="Rough", category="texture", fragment="rough texture"
                    ),
                ),
            ),
        ]
    )
    assert render(catalog, recipe("a fox", "rough", "ink")).prompt == (
        "An ink drawing of a fox, rough texture"
    )
