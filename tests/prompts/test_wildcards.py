import math

import pytest

from prompts.wildcards import WildcardError, template_expand


def expand(catalog, template, **kwargs):
    return template_expand(template=template, catalog=catalog, **kwargs)


def test_alternatives_in_order(catalog):
    result = expand(catalog, "a {red|green|blue} fox")
    assert result.prompts == ("a red fox", "a green fox", "a blue fox")
    assert result.total == 3


def test_product_varies_last_choice_fastest(catalog):
    result = expand(catalog, "{a|b} {c|d}")
    assert result.prompts == ("a c", "a d", "b c", "b d")
    assert result.total == 4


def test_nesting(catalog):
    result = expand(catalog, "{a {b|c}|d}")
    assert result.prompts == ("a b", "a c", "d")
    assert result.total == 3


def test_pick_n_distinct_joined_with_commas(catalog):
    result = expand(catalog, "a fox, {2$$red|green|blue}")
    assert result.prompts == ("a fox, red, green", "a fox, red, blue", "a fox, green, blue")
    assert result.total == 3


def test_pick_n_counts_nested_alternatives(catalog):
    # Pairs of {x|y}, z, w: (x|y)+z, (x|y)+w, z+w.
    result = expand(catalog, "{2$$ {x|y}|z|w}")
    assert result.total == 5
    assert len(result.prompts) == 5
    assert len(set(result.prompts)) == 5


def test_empty_alternative_leaves_no_stray_spaces(catalog):
    assert expand(catalog, "a {tiny |}fox").prompts == ("a tiny fox", "a fox")


def test_category_wildcard_inserts_every_fragment(catalog):
    mediums = catalog.category("medium").modifiers
    result = expand(catalog, "__medium__ of a fox", cap=1000)
    assert result.total == len(mediums)
    assert result.prompts == tuple(f"{m.fragment} of a fox" for m in mediums)


def test_total_is_counted_without_listing(catalog):
    sizes = {c.slug: len(c.modifiers) for c in catalog.categories}
    template = "__medium__ __style__ __era__ __artist__ __mood__ __lighting__ {a|b|c}" * 3
    result = expand(catalog, template)
    expected = (
        math.prod(sizes[s] for s in ("medium", "style", "era", "artist", "mood", "lighting")) * 3
    ) ** 3
    assert result.total == expected
    assert result.total > 10**9
    assert len(result.prompts) == 64


def test_cap_returns_the_first_prompts(catalog):
    result = expand(catalog, "{a|b|c|d|e|f|g|h} {1|2|3|4|5|6|7|8|9}", cap=10)
    assert result.total == 72
    assert result.prompts[:3] == ("a 1", "a 2", "a 3")
    assert len(result.prompts) == 10


def test_strict_refuses_more_than_the_cap(catalog):
    with pytest.raises(WildcardError) as info:
        expand(catalog, "{a|b|c|d|e|f|g|h} {1|2|3|4|5|6|7|8|9}", strict=True)
    assert info.value.code == "too_many_combinations"
    assert info.value.details["total"] == 72
    assert info.value.details["cap"] == 64


def test_strict_allows_up_to_the_cap(catalog):
    assert len(expand(catalog, "{a|b} {c|d}", strict=True).prompts) == 4


def test_random_is_reproducible_with_a_seed(catalog):
    template = "a {red|green|blue|gold} __medium__ of a {cat|dog|{tiny|huge} bird}"
    first = expand(catalog, template, mode="random", count=8, seed=42)
    second = expand(catalog, template, mode="random", count=8, seed=42)
    other = expand(catalog, template, mode="random", count=8, seed=43)
    assert first == second
    assert first.prompts != other.prompts
    assert len(first.prompts) == 8
    assert first.total == expand(catalog, template, cap=1).total


def test_random_prompts_come_from_the_template(catalog):
    everything = set(expand(catalog, "{a|b|c} {2$$x|y|z}").prompts)
    drawn = expand(catalog, "{a|b|c} {2$$x|y|z}", mode="random", count=30, seed=1)
    assert set(drawn.prompts) <= everything
    assert len(set(drawn.prompts)) > 3


def test_escaped_braces_are_literal(catalog):
    assert expand(catalog, r"a \{literal\} {x|y}").prompts == ("a {literal} x", "a {literal} y")


def test_text_without_wildcards(catalog):
    assert expand(catalog, "just a fox").prompts == ("just a fox",)


@pytest.mark.parametrize(
    ("template", "position"),
    [
        ("a {red|blue fox", 2),
        ("a red} fox", 5),
        ("a {} fox", 2),
        ("{a|{b|c}", 0),
        ("x {0$$a|b}", 3),
        ("x {$$a|b}", 3),
        ("x {two$$a|b}", 3),
        ("x {3$$a|b}", 3),
    ],
)
def test_syntax_errors_carry_the_position(catalog, template, position):
    with pytest.raises(WildcardError) as info:
        expand(catalog, template)
    assert info.value.code == "syntax_error"
    assert info.value.position == position


def test_unknown_category_names_its_position(catalog):
    with pytest.raises(WildcardError) as info:
        expand(catalog, "a fox, __flavour__")
    assert info.value.position == 7
    assert info.value.details["category"] == "flavour"


def test_random_count_is_bounded(catalog):
    with pytest.raises(WildcardError) as info:
        expand(catalog, "{a|b}", mode="random", count=65)
    assert info.value.code == "invalid_count"


def test_unknown_mode(catalog):
    with pytest.raises(WildcardError) as info:
        expand(catalog, "{a|b}", mode="shuffle")
    assert info.value.code == "invalid_mode"


def test_long_templates_are_counted_and_listed(catalog):
    result = expand(catalog, "{a|b}" * 2000)
    assert result.total == 2**2000
    assert result.prompts[0] == "a" * 2000
    assert result.prompts[1] == "a" * 1999 + "b"
    assert len(result.prompts) == 64


def test_pick_n_over_categories(catalog):
    artists = len(catalog.category("artist").modifiers)
    moods = len(catalog.category("mood").modifiers)
    eras = len(catalog.category("era").modifiers)
    result = expand(catalog, "{2$$__artist__|__mood__|__era__}")
    assert result.total == artists * moods + artists * eras + moods * eras
    first_artist = catalog.category("artist").modifiers[0].fragment
    first_mood = catalog.category("mood").modifiers[0].fragment
    assert result.prompts[0] == f"{first_artist}, {first_mood}"


def test_deep_nesting_is_refused(catalog):
    with pytest.raises(WildcardError) as info:
        expand(catalog, "{" * 60 + "a" + "}" * 60)
    assert info.value.code == "syntax_error"
    assert info.value.position == 50
